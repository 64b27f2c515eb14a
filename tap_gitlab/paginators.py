"""How a listing is paged: declared per listing, one small class per way GitLab pages.

The contract is singer-sdk's `BaseAPIPaginator` in GitLab's terms. A paginator is a declaration (what the
listing sends: `order_by`, `sort`, `pagination`) and, once `fresh()`, the state of one listing being read:

- `first(params, path=..., api_root=...)`: the query of the first request (the listing's filters, `per_page`,
  and the paginator's own ordering, which wins over the filters');
- `select(response, records)`: the records of a page to hand on (None: the page is dropped);
- `advance(response, records)`: the URL of the next request, None at the end (`has_more` then is False).

`LinkPaginator` follows GitLab's `Link rel="next"` (offset and keyset alike), else `X-Next-Page`;
`KeysetPaginator` is one with `pagination=keyset`; `UpdatedAtSeekPaginator` seeks on `updated_after`
(`UpdatedAtSeek`). `GitLabClient.pages(path, params, paginator)` runs any of them.

GitLab builds `Link` URLs from its configured external URL, which on self-hosted instances often differs
from the address the tap is given (and a proxy may rewrite it). A next link is therefore followed by its
path below `/api/v4` and its query only, re-rooted on the configured `api_url`: the token never goes to any
other host. Pages are never computed from `X-Total-Pages`, which GitLab omits above 10,000 records.
"""

from __future__ import annotations

import abc
import copy
import datetime as dt
import logging
import re
import typing as t
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from tap_gitlab.timestamps import micros, millis, parse_or_none

if t.TYPE_CHECKING:
    from tap_gitlab.transport import Response

_LINK_PART = re.compile(r'<([^>]*)>\s*;\s*rel="?([^",;]+)"?')
logger = logging.getLogger("tap-gitlab")
API_PREFIX = "/api/v4"
PER_PAGE = 100


# What `quote_plus` leaves as it is: text of only these characters is its own quoted form.
_QUOTE_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-~")


def _quoted(value: t.Any) -> str:
    text = value if type(value) is str else str(value)
    return text if _QUOTE_SAFE.issuperset(text) else quote_plus(text)


def build_url(api_root: str, path: str, params: t.Mapping[str, t.Any] | None = None) -> str:
    """Absolute URL of an API path (`/projects/1/issues`) with a query string (None values left out): the
    query `urlencode(…, doseq=True)` writes, without its work for the plain keys and values a listing has."""
    parts = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        kind = type(value)
        if kind is str or kind is int:
            parts.append(f"{_quoted(key)}={_quoted(value)}")
        elif encoded := urlencode([(key, value)], doseq=True):  # sequences (doseq), bytes, bools, dates…
            parts.append(encoded)
    query = "&".join(parts)
    return f"{api_root}{path}" + (f"?{query}" if query else "")


def next_link(response: Response) -> str | None:
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


def next_page_url(response: Response, api_root: str) -> str | None:
    """The URL of the page after `response`, on `api_root`, or None at the end."""
    link = next_link(response)
    if link is not None:
        return reroot(link, api_root)
    next_page = (response.headers.get("X-Next-Page") or "").strip()
    if not next_page:
        return None
    # No Link header but X-Next-Page: replace the page parameter of the request URL.
    request_url = response.url or ""
    rerooted = reroot(request_url, api_root)
    if rerooted is None:
        return None
    if re.search(r"([?&])page=\d+", rerooted):
        return re.sub(r"([?&])page=\d+", rf"\g<1>page={next_page}", rerooted)
    return rerooted + ("&" if "?" in rerooted else "?") + f"page={next_page}"


_MILLISECOND = dt.timedelta(milliseconds=1)
_LAST_MICROSECOND = dt.timedelta(microseconds=999)

# Parameters a next link may change: everything else in it must be what the tap sent.
PAGING_PARAMS = frozenset({"page", "per_page", "cursor", "id_after", "id_before", "page_token", "pagination"})


def keep_filters(link: str, sent: str) -> str:
    """`link` (a next link) with every non-paging parameter of `sent` (the request it answers) restored.

    GitLab rebuilds offset links from the parsed parameters (`lib/gitlab/pagination/offset_header_builder.rb`
    `page_href`: `params.merge(page: …).to_query`), and a `DateTime` parameter comes back in Ruby's
    `DateTime#to_s` form, `2024-01-31T12:00:00+00:00`: its milliseconds are gone, so `updated_after` would
    widen the listing and `updated_before` shrink it, and page 2 would be a page of another listing. Only the
    paging parameters are taken from the link; the filters stay the ones the tap asked for.
    """
    link_parts, sent_parts = urlsplit(link), urlsplit(sent)
    ours = [(k, v) for k, v in parse_qsl(sent_parts.query, keep_blank_values=True) if k not in PAGING_PARAMS]
    if not ours:
        return link
    mine = {k for k, _ in ours}
    theirs = [(k, v) for k, v in parse_qsl(link_parts.query, keep_blank_values=True) if k not in mine]
    return urlunsplit(link_parts._replace(query=urlencode(theirs + ours)))


def total_count(headers: t.Mapping[str, str]) -> int | None:
    """`X-Total`, when GitLab sent it (it omits it above 10,000 records)."""
    value = (headers.get("X-Total") or "").strip()
    return int(value) if value.isdigit() else None


class _End:
    """`UpdatedAtSeek.next_query`'s answer when the listing is complete."""


END = _End()


class UpdatedAtSeek:
    """Pages of a listing sorted by `updated_at` ascending, read by seeking instead of by offset.

    Offset pages of a listing that changes while it is read shift: a record updated (it moves to the end) or
    deleted before the current page pulls the next page's first records onto the page already read, and
    they are never seen; the bookmark then moves past them and no later run reads them either. So after
    each page the next request is the same listing with `updated_after=<newest updated_at read>` (GitLab's
    filter is inclusive, `>=`, `app/models/concerns/updated_at_filterable.rb`), page 1: records that moved
    come again later with their new version, and none can slip between pages. Records already read at
    exactly that timestamp are dropped by id.

    A page entirely at one timestamp T (no progress) starts a *block*: the records rendered as T (every
    instant in T's millisecond, `updated_after=T&updated_before=T.999999`, within the listing's own window)
    are read as a listing of their own, by offset, in an order that is total: the listing's own where GitLab
    breaks ties by id (issues, merge requests), `order_by=id` where it does not (pipelines). Offsets of so
    narrow a listing shift only when one of its records changes; the block's `X-Total` then drops and the
    block is read again from page 1 (records already read are dropped by id). After the block, seeking goes
    on at T + 1 ms. Should an endpoint ignore the filter (a record outside it comes back), the listing goes
    on by offset.
    """

    param = "updated_after"

    def __init__(
        self, query: t.Mapping[str, t.Any] | None = None, tie_order: t.Mapping[str, str] | None = None
    ) -> None:
        self.query = dict(query or {})
        self.tie_order = dict(tie_order or {})
        self.active = True
        self.boundary: dt.datetime | None = None  # newest updated_at read so far
        self.at_boundary: set[t.Any] = set()  # ids read with exactly that updated_at
        self.floor: dt.datetime | None = None  # the filter value of the current seek request, if one
        self.advanced = False  # whether the last page moved the boundary
        self.block: dt.datetime | None = None  # the timestamp whose block is being read
        self.block_page = 0
        self.block_total: int | None = None
        self.block_shifted = False  # the block lost records while it was read: read it again
        ceiling = parse_or_none(self.query.get("updated_before"))
        self.ceiling = ceiling  # the listing's own `updated_before`, if any

    @staticmethod
    def applies(query: t.Mapping[str, t.Any]) -> bool:
        """Whether a listing's query sorts by `updated_at` ascending (every such GitLab listing filters on it)."""
        return query.get("order_by") == "updated_at" and query.get("sort") == "asc"

    @property
    def in_block(self) -> bool:
        return self.block is not None

    def accept(self, records: list[t.Any], total: int | None = None) -> list[t.Any] | None:
        """The records of a page not read before; None when the endpoint ignored the filter (stop seeking).

        `total` is the page's `X-Total`, if GitLab sent it.
        """
        if not self.active:
            return records
        self.advanced = False
        if self.block is not None:
            if total is not None and self.block_total is not None and total < self.block_total:
                self.block_shifted = True
            self.block_total = total
        fresh = []
        for record in records:
            instant = parse_or_none(record.get("updated_at")) if isinstance(record, dict) else None
            if instant is None or "id" not in record:
                self.active = False  # cannot seek on records without updated_at and id
                return records if self.floor is None else None
            if self.floor is not None and instant < self.floor:
                self.active = False
                return None
            if self.block is not None and instant != self.block:
                self.active = False  # outside the block's filter: the endpoint ignored updated_before
                return None
            if self.boundary is not None and instant == self.boundary and record["id"] in self.at_boundary:
                continue
            if self.boundary is None or instant > self.boundary:
                self.boundary, self.at_boundary, self.advanced = instant, set(), True
            if instant == self.boundary:
                self.at_boundary.add(record["id"])
            fresh.append(record)
        return fresh

    def next_query(self, has_next: bool) -> dict[str, t.Any] | _End | None:
        """The parameters of the next request; `END` when the listing is complete; None to follow the
        response's next link (seeking stopped). `has_next`: the page was not empty and has a next link."""
        if not self.active:
            return None
        if self.block is not None:
            if has_next and not self.block_shifted:
                return self._block_query(self.block_page + 1)
            if self.block_shifted:
                self.block_shifted = False
                return self._block_query(1)
            after = self.block + _MILLISECOND  # every record rendered as the block's timestamp is read
            self.block = None
            if self.ceiling is not None and after > self.ceiling:
                return END
            self.floor = after
            return {**self.query, self.param: millis(after)}
        if not has_next or self.boundary is None:
            return END
        if self.advanced:
            self.floor = self.boundary
            return {**self.query, self.param: millis(self.boundary)}
        # No progress: a whole page at one timestamp. Read that timestamp's records as a block.
        self.block, self.block_total, self.block_shifted = self.boundary, None, False
        return self._block_query(1)

    def _block_query(self, page: int) -> dict[str, t.Any]:
        assert self.block is not None
        self.block_page = page
        self.floor = self.block
        before = self.block + _LAST_MICROSECOND
        if self.ceiling is not None and self.ceiling < before:
            before = self.ceiling
        return {
            **self.query,
            **self.tie_order,
            self.param: millis(self.block),
            "updated_before": micros(before),
            "page": page,
        }


# -- the paginators ------------------------------------------------------------------------------------------------

# A total order for a block of one timestamp, for listings sorted by `updated_at` without an id tie-break: their
# records at one timestamp come in a different order on each request (pipelines: `app/finders/ci/
# pipelines_finder.rb` `sort_items`, `items.order(order_by => sort)` and nothing else).
TIE_BY_ID: dict[str, str] = {"order_by": "id", "sort": "asc"}


class Paginator(abc.ABC):
    """A listing's paging: the query values it sends (`params`) and, once `fresh()`, one listing's state.

    A declared paginator is never read with: `GitLabClient.pages` reads each listing with a `fresh()` copy, so
    one declaration serves every partition and worker thread.
    """

    def __init__(self, **params: str | None) -> None:
        self.params: dict[str, str] = {key: value for key, value in params.items() if value is not None}
        self.has_more = True
        self._api_root = ""
        self._path = ""
        self._sent = ""  # the URL of the request whose response comes next

    def fresh(self) -> t.Self:
        """A copy of this declaration, ready to read a listing."""
        return copy.copy(self)

    def first(self, params: t.Mapping[str, t.Any], *, path: str = "", api_root: str = "") -> dict[str, t.Any]:
        """The first request's query: `per_page`, the listing's filters, then this paginator's ordering."""
        self._api_root, self._path, self.has_more = api_root, path, True
        query = {"per_page": PER_PAGE, **params, **self.params}
        self._sent = build_url(api_root, path, query)
        return query

    def select(self, response: Response, records: list[t.Any]) -> list[t.Any] | None:
        """The records of a page to hand on; None to drop the page."""
        return records

    @abc.abstractmethod
    def advance(self, response: Response, records: list[t.Any]) -> str | None:
        """The URL of the next request after `response` (whose body is `records`), None at the end."""

    def _next(self, url: str | None) -> str | None:
        self.has_more = url is not None
        if url is not None:
            self._sent = url
        return url

    def _link(self, response: Response) -> str | None:
        """The response's next link on `api_root`, with the filters of the request it answers."""
        link = next_page_url(response, self._api_root)
        return keep_filters(link, self._sent) if link is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


class LinkPaginator(Paginator):
    """GitLab's `Link rel="next"` (`X-Next-Page` when a Link is missing), re-rooted on `api_root`, filters kept.

    An empty page ends the listing: commits send a next link after a full last page."""

    def __init__(self, *, order_by: str | None = None, sort: str | None = None) -> None:
        super().__init__(order_by=order_by, sort=sort)

    def advance(self, response: Response, records: list[t.Any]) -> str | None:
        return self._next(self._link(response) if records else None)


class KeysetPaginator(LinkPaginator):
    """Keyset pages (`pagination=keyset`): no offset limit, stable while records are added. GitLab supports it on
    a few listings and orders only (`lib/gitlab/pagination/keyset.rb`): projects, users, a project's jobs."""

    def __init__(self, *, order_by: str = "id", sort: str = "desc") -> None:
        Paginator.__init__(self, pagination="keyset", order_by=order_by, sort=sort)


class UpdatedAtSeekPaginator(LinkPaginator):
    """A listing sorted by `updated_at` ascending, read by seeking (`UpdatedAtSeek`), with blocks of one
    timestamp in `tie_order` (`TIE_BY_ID` where GitLab breaks no ties, pipelines). Should the endpoint ignore
    the filter, the listing goes on by its next links from the last page read by offset."""

    def __init__(self, *, tie_order: t.Mapping[str, str] | None = None) -> None:
        Paginator.__init__(self, order_by="updated_at", sort="asc")
        self.tie_order = dict(tie_order or {})
        self._seek = UpdatedAtSeek()
        self._offset_next: str | None = None  # where offset paging would have gone, should seeking not work
        self._dropped = False

    def first(self, params: t.Mapping[str, t.Any], *, path: str = "", api_root: str = "") -> dict[str, t.Any]:
        query = super().first(params, path=path, api_root=api_root)
        self._seek = UpdatedAtSeek(query, self.tie_order)
        self._offset_next, self._dropped = None, False
        return query

    def select(self, response: Response, records: list[t.Any]) -> list[t.Any] | None:
        accepted = self._seek.accept(records, total=total_count(response.headers))
        self._dropped = accepted is None
        if accepted is None:
            logger.debug("GET %s ignores updated_after; paging by offset", self._path)
        return accepted

    def advance(self, response: Response, records: list[t.Any]) -> str | None:
        if self._dropped:  # the endpoint ignored updated_after: go on by offset from where we were
            return self._next(self._offset_next)
        link = self._link(response)
        follow = self._seek.next_query(bool(records) and link is not None)
        if follow is None:  # not seeking (any more): the next link
            return self._next(link if records else None)
        if isinstance(follow, dict):
            if not self._seek.in_block:
                self._offset_next = link
            return self._next(build_url(self._api_root, self._path, follow))
        return self._next(None)
