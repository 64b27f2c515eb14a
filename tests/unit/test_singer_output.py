"""tap_gitlab/singer_output.py writes singer-sdk's bytes: the same messages through both writers, compared."""

from __future__ import annotations

import datetime
import decimal
import io
import json
import sys
import typing as t
from zoneinfo import ZoneInfo

import pytest
from singer_sdk.singerlib import ActivateVersionMessage, RecordMessage, SchemaMessage, StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter

from tap_gitlab import singer_output

UTC = datetime.UTC
TRICKY: dict[str, t.Any] = {
    "ascii": "plain",
    "non_ascii": "Zoë 日本語 😀 \u2028 \u00a0",
    "controls": '\x00\x01\x1f\x7f\t\n\r\b\f"\\/',
    "lone_surrogate": "\ud800",
    "floats": [1e-05, 1.5e-05, 0.0001, 1e16, 1e15, 123456789.123, -0.0, 0.1, 1.0, 2.5e-300, 1.7976931348623157e308],
    "not_finite": [float("nan"), float("inf"), float("-inf")],
    "ints": [0, -1, 2**63 - 1, 2**63, -(2**64) - 1, 10**30],
    "bools": [True, False],
    "none": None,
    "nested": {"b": {"a": [{"z": 1, "a": None}, [], {}]}, "a": ""},
    "datetime_utc": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    "datetime_offset": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
    "datetime_zone": datetime.datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York")),
    "datetime_naive": datetime.datetime(2024, 5, 6),
    "date": datetime.date(2024, 5, 6),
    "decimal": [decimal.Decimal("1.10"), decimal.Decimal("1E+2"), decimal.Decimal("-0.000001")],
    "tuple": (1, "a"),
    "keys": {"é": 1, "": 2, "a b": 3},
}
EXTRACTED = datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def messages() -> list[t.Any]:
    return [
        SchemaMessage("issues", {"type": "object", "properties": {"é": {"type": ["null", "string"]}}}, ["id"], ["x"]),
        SchemaMessage("notes", {"type": "object"}, ["id"]),
        RecordMessage("issues", TRICKY),
        RecordMessage("issues", TRICKY, version=1_700_000_000_123, time_extracted=EXTRACTED),
        RecordMessage("issues", {"id": 1}, time_extracted=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        RecordMessage("issues", {"id": 1}, time_extracted=EXTRACTED.astimezone(ZoneInfo("Asia/Kolkata"))),
        StateMessage({"bookmarks": {"issues": {"partitions": [{"context": {"project_id": 1}, **TRICKY}]}}}),
        StateMessage({}),
        ActivateVersionMessage("issues", 1_700_000_000_123),
    ]


def written(writer: t.Any, monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    for message in messages():
        writer.write_message(message)
    return out.getvalue()


def test_records_schemas_states_and_activate_version_are_the_sdks_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = written(singer_output.SingerWriter(), monkeypatch)
    sdk = written(SimpleSingerWriter(), monkeypatch)
    assert ours == sdk
    assert "\\u00eb" in ours and "\\u007f" in ours and "1e-05" in ours and "1e+16" in ours and "null" in ours
    assert "18446744073709551617" in ours and '"decimal":[1.10,1E+2,-0.000001]' in ours


class Counting(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue().splitlines()))


def test_every_line_but_a_record_is_flushed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Counting()
    monkeypatch.setattr(sys, "stdout", out)
    for message in messages():
        singer_output.SingerWriter().write_message(message)
    kinds = [json.loads(line)["type"] for line in out.getvalue().splitlines()]
    assert [kinds[n - 1] for n in out.flushed_at] == [kind for kind in kinds if kind != "RECORD"]


class SdkStateWriter:
    """singer-sdk's StateWriter decision (`state != deepcopy(last)`), written here to compare against."""

    def __init__(self) -> None:
        self.last: t.Any = None
        self.lines: list[str] = []

    def write_state(self, state: t.Any) -> None:
        if self.last is None or state != self.last:
            self.lines.append(singer_output.encode(StateMessage(state).to_dict()))
            self.last = json.loads(json.dumps(state, default=str))


def test_state_writer_skips_exactly_the_states_the_sdk_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    ours = singer_output.StateWriter(singer_output.SingerWriter())
    sdk = SdkStateWriter()

    def write(value: t.Any) -> None:
        ours.write_state(value)
        sdk.write_state(value)

    write({})
    write({})  # unchanged: skipped
    state: dict[str, t.Any] = {"bookmarks": {"a": {"replication_key_value": "2024-01-01T00:00:00.000Z"}}}
    write(state)
    write(state)  # the same object, unchanged: skipped
    state["bookmarks"]["a"]["replication_key_value"] = "2024-01-02T00:00:00.000Z"
    write(state)  # the same object changed in place: written
    write({"bookmarks": {"a": {"replication_key_value": "2024-01-02T00:00:00.000Z"}}, "x": 1})
    write({"x": 1, "bookmarks": {"a": {"replication_key_value": "2024-01-02T00:00:00.000Z"}}})  # key order: skipped
    write({"x": 1.0, "bookmarks": {"a": {"replication_key_value": "2024-01-02T00:00:00.000Z"}}})  # 1 == 1.0: skipped
    write({"x": "é", "bookmarks": {}})
    write({"x": "é", "bookmarks": {}})
    write({})
    assert out.getvalue() == "".join(line + "\n" for line in sdk.lines)
    assert len(sdk.lines) == 6


def test_the_sdk_writer_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(singer_output.SDK_WRITER_ENV, raising=False)
    assert singer_output.writer_class() is singer_output.SingerWriter
    monkeypatch.setenv(singer_output.SDK_WRITER_ENV, "1")
    assert singer_output.writer_class() is SimpleSingerWriter
