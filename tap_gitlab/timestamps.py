"""GitLab's timestamps, parsed and written in one place.

GitLab sends two kinds: database timestamps, UTC with milliseconds and a Z (`2024-01-31T12:00:00.000Z`, its
JSON time precision), and git dates, which keep each author's offset (commits' `authored_date`,
`2024-01-31T05:00:00.000-07:00`). Settings and states may hold plain dates (`2024-01-31`: midnight UTC).
Everything is parsed to an aware UTC `datetime`; naive values are taken as UTC.

Two ways out: `millis` (GitLab's database form: what records, bookmarks and seek filters use, so that text
order is time order) and `micros` (PostgreSQL's precision, which GitLab's finders compare at: the bounds of
a narrowed window, `tap_gitlab/narrowing.py`). Both truncate, as GitLab renders them.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t


def parse(value: t.Any) -> dt.datetime:
    """An ISO 8601 timestamp or date as an aware UTC datetime; ValueError when it is not one."""
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_or_none(value: t.Any) -> dt.datetime | None:
    """`parse(value)`, or None when `value` is absent or not a timestamp."""
    try:
        return parse(value)
    except ValueError:
        return None


def _utc(instant: dt.datetime) -> dt.datetime:
    return instant.replace(tzinfo=dt.UTC) if instant.tzinfo is None else instant.astimezone(dt.UTC)


def millis(instant: dt.datetime) -> str:
    """GitLab's database text of an instant, UTC, milliseconds truncated: `2024-01-31T12:00:00.000Z`."""
    instant = _utc(instant)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def micros(instant: dt.datetime) -> str:
    """An instant at PostgreSQL's precision, UTC: `2024-01-31T12:00:00.123456Z`."""
    return _utc(instant).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize(value: t.Any) -> t.Any:
    """A timestamp (or date) as sortable UTC millisecond text (bookmarks compare as strings); other values,
    and text that is not a timestamp, unchanged."""
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-":
        if len(value) == 24 and value[23] == "Z" and value[19] == "." and _CANONICAL.fullmatch(value):
            return value  # already GitLab's database text (most values): `millis(parse(value)) == value`
        return _normalized(value)
    return value


_CANONICAL = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


@functools.lru_cache(maxsize=8192)
def _normalized(value: str) -> str:
    # Cached: the same git dates come back in every job of a commit, every branch and tag at it, ...
    try:
        return millis(parse(value))
    except ValueError:
        return value


__all__ = ["micros", "millis", "normalize", "parse", "parse_or_none"]
