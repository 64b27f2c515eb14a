"""Following GitLab's pages: `Link rel="next"` (offset and keyset alike), else `X-Next-Page`.

GitLab builds `Link` URLs from its configured external URL, which on self-hosted instances often differs
from the address the tap is given (and a proxy may rewrite it). A next link is therefore followed by its
path below `/api/v4` and its query only, re-rooted on the configured `api_url`: the token never goes to any
other host. Pages are never computed from `X-Total-Pages`, which GitLab omits above 10,000 records.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from urllib.parse import urlsplit

import requests

_LINK_PART = re.compile(r'<([^>]*)>\s*;\s*rel="?([^",;]+)"?')
API_PREFIX = "/api/v4"


def next_link(response: requests.Response) -> str | None:
    """The raw `rel="next"` URL of a response's `Link` header, if any."""
    header = response.headers.get("Link") or response.headers.get("link")
    if not header:
        return None
    for url, rel in _LINK_PART.findall(header):
        if "next" in rel.split():
            return url
    return None


def reroot(url: str, api_root: str) -> str | None:
    """Move a GitLab API URL onto `api_root`: keep what follows `/api/v4` and the query; None if not an API URL."""
    parts = urlsplit(url)
    index = parts.path.find(API_PREFIX + "/")
    if index < 0:
        return None
    rest = parts.path[index + len(API_PREFIX) :]
    return api_root + rest + (f"?{parts.query}" if parts.query else "")


def next_page_url(response: requests.Response, api_root: str) -> str | None:
    """The URL of the page after `response`, on `api_root`, or None at the end."""
    link = next_link(response)
    if link is not None:
        return reroot(link, api_root)
    next_page = (response.headers.get("X-Next-Page") or "").strip()
    if not next_page:
        return None
    # No Link header but X-Next-Page: replace the page parameter of the request URL.
    request_url = response.request.url or ""
    rerooted = reroot(request_url, api_root)
    if rerooted is None:
        return None
    if re.search(r"([?&])page=\d+", rerooted):
        return re.sub(r"([?&])page=\d+", rf"\g<1>page={next_page}", rerooted)
    return rerooted + ("&" if "?" in rerooted else "?") + f"page={next_page}"


def _instant(value: t.Any) -> dt.datetime | None:
    """A GitLab timestamp (`…Z` or `…+02:00`) as an aware UTC datetime; None when absent or unparsable."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _text(instant: dt.datetime) -> str:
    """An instant as GitLab's DB timestamp text, milliseconds truncated (as GitLab renders them)."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


class UpdatedAtSeek:
    """Pages of a listing sorted by `updated_at` ascending, read by seeking instead of by offset.

    Offset pages of a listing that changes while it is read shift: a record updated (it moves to the end) or
    deleted before the current page pulls the next page's first records onto the page already read, and
    they are never seen; the bookmark then moves past them and no later run reads them either. So after
    each page the next request is the same listing with `updated_after=<newest updated_at read>` (GitLab's
    filter is inclusive, `>=`), page 1: records that moved come again later with their new version, and
    none can slip between pages. Records already read at exactly that timestamp are dropped by id. A page
    entirely at one timestamp (no progress) is followed by its offset next link within the same filter.
    Should an endpoint ignore the filter (a record older than it comes back), the listing goes on by offset.
    """

    param = "updated_after"

    def __init__(self) -> None:
        self.active = True
        self.boundary: dt.datetime | None = None  # newest updated_at read so far
        self.at_boundary: set[t.Any] = set()  # ids read with exactly that updated_at
        self.floor: dt.datetime | None = None  # the filter value of the current seek request, if one
        self.advanced = False  # whether the last page moved the boundary

    @staticmethod
    def applies(query: t.Mapping[str, t.Any]) -> bool:
        """Whether a listing's query sorts by `updated_at` ascending (every such GitLab listing filters on it)."""
        return query.get("order_by") == "updated_at" and query.get("sort") == "asc"

    def accept(self, records: list[t.Any]) -> list[t.Any] | None:
        """The records of a page not read before; None when the endpoint ignored the filter (stop seeking)."""
        if not self.active:
            return records
        self.advanced = False
        fresh = []
        for record in records:
            instant = _instant(record.get("updated_at")) if isinstance(record, dict) else None
            if instant is None or "id" not in record:
                self.active = False  # cannot seek on records without updated_at and id
                return records if self.floor is None else None
            if self.floor is not None and instant < self.floor:
                self.active = False
                return None
            if self.boundary is not None and instant == self.boundary and record["id"] in self.at_boundary:
                continue
            if self.boundary is None or instant > self.boundary:
                self.boundary, self.at_boundary, self.advanced = instant, set(), True
            if instant == self.boundary:
                self.at_boundary.add(record["id"])
            fresh.append(record)
        return fresh

    def next_value(self) -> str | None:
        """The `updated_after` of the next request, or None to follow the offset link (no progress)."""
        if not self.active or self.boundary is None or not self.advanced:
            return None  # no progress (a whole page at one timestamp): page on within the current filter
        value = _text(self.boundary)
        self.floor = _instant(value)
        return value
