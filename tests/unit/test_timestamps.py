"""tap_gitlab/timestamps.py: GitLab's database and git timestamps, dates, offsets, microseconds, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from tap_gitlab import timestamps

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # GitLab's database form.
        ("2024-01-31T12:00:00.000Z", dt.datetime(2024, 1, 31, 12, tzinfo=UTC)),
        ("2024-01-31T12:00:00.123Z", dt.datetime(2024, 1, 31, 12, 0, 0, 123000, tzinfo=UTC)),
        ("2024-01-31T12:00:00z", dt.datetime(2024, 1, 31, 12, tzinfo=UTC)),
        # Git dates keep the author's offset.
        ("2024-01-31T05:00:00.000-07:00", dt.datetime(2024, 1, 31, 12, tzinfo=UTC)),
        ("2024-02-01T01:30:00+02:00", dt.datetime(2024, 1, 31, 23, 30, tzinfo=UTC)),
        # Microseconds (narrowing's bounds, PostgreSQL's precision).
        ("2024-01-31T12:00:00.999999Z", dt.datetime(2024, 1, 31, 12, 0, 0, 999999, tzinfo=UTC)),
        # Plain dates: midnight UTC. Naive times: UTC. Surrounding blanks are ignored.
        ("2024-01-31", dt.datetime(2024, 1, 31, tzinfo=UTC)),
        ("2024-01-31T12:00:00", dt.datetime(2024, 1, 31, 12, tzinfo=UTC)),
        (" 2024-01-31T12:00:00Z\n", dt.datetime(2024, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_parse(text, expected):
    parsed = timestamps.parse(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert timestamps.parse_or_none(text) == expected


@pytest.mark.parametrize("bad", ["", "not a time", "2024-13-01", "2024-01-31T25:00:00Z", None, 1706702400, b"2024"])
def test_bad_input(bad):
    with pytest.raises(ValueError):
        timestamps.parse(bad)
    assert timestamps.parse_or_none(bad) is None


def test_millis_truncates_to_gitlab_db_text():
    instant = dt.datetime(2024, 1, 31, 12, 0, 0, 123999, tzinfo=UTC)
    assert timestamps.millis(instant) == "2024-01-31T12:00:00.123Z"
    offset = dt.datetime(2024, 1, 31, 5, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    assert timestamps.millis(offset) == "2024-01-31T12:00:00.000Z"
    assert timestamps.millis(dt.datetime(2024, 1, 31, 12)) == "2024-01-31T12:00:00.000Z"  # naive: UTC


def test_micros_keeps_postgresql_precision():
    instant = dt.datetime(2024, 1, 31, 12, 0, 0, 5, tzinfo=UTC)
    assert timestamps.micros(instant) == "2024-01-31T12:00:00.000005Z"
    offset = dt.datetime(2024, 2, 1, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert timestamps.micros(offset) == "2024-01-31T23:30:00.000000Z"


def test_round_trips():
    for text in ("2024-01-31T12:00:00.123Z", "1970-01-01T00:00:00.000Z"):
        assert timestamps.millis(timestamps.parse(text)) == text
    assert timestamps.micros(timestamps.parse("2024-01-31T12:00:00.000001Z")) == "2024-01-31T12:00:00.000001Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-31T12:00:00.000Z", "2024-01-31T12:00:00.000Z"),
        ("2024-01-31T05:00:00-07:00", "2024-01-31T12:00:00.000Z"),
        ("2024-01-31T12:00:00.123456Z", "2024-01-31T12:00:00.123Z"),
        ("2024-01-31", "2024-01-31T00:00:00.000Z"),
        ("2024-99-99", "2024-99-99"),  # looks like a date, is not one: unchanged
        ("main", "main"),
        ("", ""),
        (42, 42),
        (None, None),
    ],
)
def test_normalize(value, expected):
    assert timestamps.normalize(value) == expected


def test_normalized_text_sorts_as_time():
    values = ["2024-01-31T13:00:00+02:00", "2024-01-31T10:59:59.999Z", "2024-01-31T04:00:00.500-07:00"]
    normalized = [timestamps.normalize(v) for v in values]
    assert sorted(normalized) == [timestamps.normalize(v) for v in sorted(values, key=timestamps.parse)]
