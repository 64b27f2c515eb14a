"""Small helpers shared by the dataset and the server: timestamps and GitLab's text formats."""

from __future__ import annotations

import datetime as dt
import time

UTC = dt.UTC

# The dataset clock starts here (deterministic). Generated records spread over ~2 years before it.
NOW_EPOCH = dt.datetime(2025, 6, 2, 12, 0, 0, 900000, tzinfo=UTC).timestamp()
DAY = 86400.0


def db_time(epoch: float) -> str:
    """GitLab's DB timestamp: UTC with milliseconds and Z (gitlab-api-v4.md §5 "Timestamps returned")."""
    ms = round(epoch * 1000)
    secs, msec = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{msec:03d}Z"


def git_time(epoch: float, offset_minutes: int) -> str:
    """A git date keeping the author's UTC offset, e.g. 2021-09-20T11:50:22.000+02:00 (§5)."""
    secs = int(epoch) + offset_minutes * 60
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".000{sign}{hours:02d}:{minutes:02d}"


def date_only(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def parse_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 timestamp or date from a query parameter as an aware UTC datetime; None if invalid."""
    value = text.strip().replace(" ", "+")  # an unencoded '+' arrives as a space (§8 item 25)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_time(text: str) -> float | None:
    """Parse an ISO 8601 timestamp or date from a query parameter into epoch seconds; None if invalid."""
    parsed = parse_datetime(text)
    return None if parsed is None else parsed.timestamp()


def norm_time(text: str | None) -> str | None:
    """Any GitLab timestamp (DB or git style) as sortable UTC DB text."""
    if text is None:
        return None
    epoch = parse_time(text)
    return db_time(epoch) if epoch is not None else None
