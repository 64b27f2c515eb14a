"""A project's events, oldest first, complete however many and whatever the instance's time zone.

GitLab's events listing (app/finders/events_finder.rb, lib/api/project_events.rb) has three traits that
a plain listing loses events to:

- its total is `events.limit(10_001).count`, so with `per_page=100` no next link follows page 101 and
  no X-Total is sent once there are 10,000 or more (lib/gitlab/pagination/offset_pagination.rb);
- `after=D` / `before=D` are whole days of the instance's zone (`after.end_of_day`,
  `before.beginning_of_day`, Rails' `Time.zone`), which the API does not tell: anything from UTC-12 to
  UTC+14;
- each page is cut first and then loses the events the token may not see (`Event#visible_to_user?`), so
  a page can be short or empty while a next link follows.

`EventReader` reads windows of local days, which tile time without gap or overlap whatever the zone.
"""

from __future__ import annotations

import datetime as dt
import math
import typing as t
from dataclasses import dataclass

from tap_gitlab.errors import GitLabAPIError
from tap_gitlab.paginators import PER_PAGE, next_page_url
from tap_gitlab.readers.records import shape
from tap_gitlab.spec import Batch
from tap_gitlab.timestamps import normalize, parse

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.client import GitLabClient
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Partition, Record, StreamSpec


def read(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    """Every event of the project from the bookmark on (`EventReader`)."""
    context = partition.context
    path = spec.path.format(**context)
    return EventReader(run.client, path, partition.since, lambda record: shape(spec, run, record, context)).batches()


# `config/initializers/kaminari_active_record_relation_methods_with_limit.rb`: MAX_COUNT_LIMIT = 10,000; the
# events finder counts `limit(MAX_COUNT_LIMIT + 1)`.
EVENTS_COUNT_CAP = 10_001
# The westernmost zone a GitLab instance can be set to is UTC-12: a local day starts at most 12 hours after
# the UTC midnight of the same date (and at most 14 hours before it, at UTC+14).
_WEST = dt.timedelta(hours=12)
# Pages past the cap that may come back empty (every event on them hidden from the token) before the reader
# asks again where the window ends.
_EMPTY_BEYOND_CAP = 50


def first_event_day(since: str | None) -> dt.date | None:
    """The local date, in the westernmost zone, of `since`: in every zone its day starts at or before `since`."""
    return (parse(since) - _WEST).date() if since else None


@dataclass
class _Window:
    """A request for the local days `first` to `last` (None: unbounded), in id order."""

    first: dt.date | None
    last: dt.date | None = None

    def params(self, sort: str = "asc") -> dict[str, t.Any]:
        params: dict[str, t.Any] = {"sort": sort}
        if self.first is not None:
            params["after"] = (self.first - dt.timedelta(days=1)).isoformat()  # created_at > after.end_of_day
        if self.last is not None:
            params["before"] = (self.last + dt.timedelta(days=1)).isoformat()  # < before.beginning_of_day
        return params


class EventReader:
    """Every event of one project from the bookmark on, in id order (GitLab's `sort=asc`), a batch a page.

    An open window (local days from `first` on) is read to its end. When it ends at the count cap, the
    events after the last one read are in the local day that holds it or later; that day is, in every zone,
    no earlier than `first_event_day(last)`, so the next window starts there. Each window re-reads at most a
    day and a half before the last event; the events with ids at or below the highest read are dropped
    (the listing's order is by id, and everything up to it was read). When that does not move the window on
    (ten thousand events within a day and a half), the single local day `first` is read on its own, and if
    that day alone is capped, its pages past the cap: GitLab cuts pages from the whole relation, so page 102
    still holds the 10,101st to 10,200th events, only without links; the day's newest event (read with
    `sort=desc`) says where it ends.

    A STATE follows every page (each batch is one), and the bookmark is the `created_at` of the last event
    emitted; events before it are dropped on resume, as before.
    """

    def __init__(
        self,
        client: GitLabClient,
        path: str,
        since: str | None,
        transform: t.Callable[[Record], Record | None],
    ) -> None:
        self.client = client
        self.path = path
        self.floor = since
        self.transform = transform
        self.last_id: int | None = None  # the highest event id read in this run
        self.last_at: str | None = None  # its created_at

    def batches(self) -> t.Iterator[Batch]:
        window = _Window(first_event_day(self.floor))
        while True:
            before = self.last_id
            outcome = yield from self._read(window)
            if not outcome.capped:
                if window.last is None:
                    return
                window = _Window(window.last + dt.timedelta(days=1))
                continue
            if window.last is not None or self.last_at is None:
                # One local day over the cap (or a capped window with nothing the token may see).
                yield from self._beyond_cap(window, outcome)
                if window.last is None:
                    return
                window = _Window(window.last + dt.timedelta(days=1))
                continue
            day = first_event_day(self.last_at)
            assert day is not None
            if window.first is None or (day > window.first and self.last_id != before):
                window = _Window(day)
            else:
                window = _Window(window.first, window.first)

    def _read(self, window: _Window) -> t.Generator[Batch, None, _Outcome]:
        """One window, every page by its next links (through empty pages): whether it ended at the cap.

        A window after a capped one starts with events already read; when its first page holds only those,
        the pages that do are skipped (`_first_unread_page`) instead of being read again.
        """
        url: str | None = self.client.url(self.path, {"per_page": PER_PAGE, **window.params()})
        outcome = _Outcome()
        first = True
        while url is not None:
            body, response = self.client.get_json(url)
            batch = self._batch(body, url)
            yield batch
            outcome.observe(response, len(body) if isinstance(body, list) else 0)
            url = next_page_url(response, self.client.api_root)
            if first and url is not None and not batch.records and self._all_read(body):
                start = self._first_unread_page(window, _header_int(response.headers.get("X-Total-Pages"), 0))
                if start > 2:
                    url = self.client.url(self.path, {"per_page": PER_PAGE, "page": start, **window.params()})
            first = False
        return outcome

    def _all_read(self, body: t.Any) -> bool:
        """Whether a page holds no event newer than the highest read (an empty page tells nothing)."""
        ids = _ids(body)
        return self.last_id is not None and bool(ids) and max(ids) <= self.last_id

    def _first_unread_page(self, window: _Window, pages: int) -> int:
        """The first page of `window` that may hold an event newer than the highest read, by bisection.

        Everything up to that event came in the first 10,001 events of a window that contains this one, so
        at most ceil(10,001 / per_page) pages hold only events already read. A page with nothing the token may
        see counts as unread: at worst a few pages are read again, never one skipped.
        """
        capped_pages = math.ceil(EVENTS_COUNT_CAP / PER_PAGE)
        low, high = 2, min(pages, capped_pages) if pages else capped_pages
        if high - low < 3:
            return low  # reading them costs no more than looking
        while low < high:
            middle = (low + high) // 2
            url = self.client.url(self.path, {"per_page": PER_PAGE, "page": middle, **window.params()})
            body, _response = self.client.get_json(url)
            if self._all_read(body):
                low = middle + 1
            else:
                high = middle
        return low

    def _beyond_cap(self, window: _Window, outcome: _Outcome) -> t.Iterator[Batch]:
        """The pages of a capped window past its last linked page, up to the window's newest event."""
        newest = self._newest(window)
        page = outcome.page
        empty = 0
        while newest is not None and (self.last_id is None or self.last_id < newest):
            page += 1
            params = {"per_page": outcome.per_page, "page": page, **window.params()}
            url = self.client.url(self.path, params)
            body, _response = self.client.get_json(url)
            batch = self._batch(body, url)
            yield batch
            empty = 0 if body else empty + 1
            if empty >= _EMPTY_BEYOND_CAP:
                # Fifty pages of events the token may not see, or a GitLab that serves nothing past the cap:
                # ask again where the window ends (an event may have been deleted), and stop only if done.
                again = self._newest(window)
                if again is not None and again == newest:
                    raise GitLabAPIError(
                        f"GET {self.path}: GitLab answers no events past page {outcome.page} of "
                        f"{window.params()}, though newer ones exist; events would be lost"
                    )
                newest, empty = again, 0

    def _newest(self, window: _Window) -> int | None:
        """The id of the newest event of `window` the token may see (None: none)."""
        url: str | None = self.client.url(self.path, {"per_page": PER_PAGE, **window.params("desc")})
        while url is not None:
            body, response = self.client.get_json(url)
            if isinstance(body, list) and body:
                return max(int(record["id"]) for record in body if isinstance(record, dict))
            url = next_page_url(response, self.client.api_root)
        return None

    def _batch(self, body: t.Any, url: str) -> Batch:
        if not isinstance(body, list):
            raise GitLabAPIError(f"GitLab's answer to GET {self.client.scrub(url)} is not a list")
        records: list[Record] = []
        for raw in body:
            if not isinstance(raw, dict):
                continue
            event_id = int(raw["id"])
            if self.last_id is not None and event_id <= self.last_id:
                continue  # read before in this run
            self.last_id, self.last_at = event_id, str(raw.get("created_at") or self.last_at or "")
            record = self.transform(raw)
            if record is None:
                continue
            created = record.get("created_at")
            if self.floor is not None and created is not None and normalize(created) < self.floor:
                continue  # before the bookmark: an earlier run emitted it
            records.append(record)
        return Batch(records)


@dataclass
class _Outcome:
    """How a window's listing ended."""

    capped: bool = False
    page: int = 1
    per_page: int = PER_PAGE

    def observe(self, response: t.Any, size: int) -> None:
        headers = response.headers
        self.page = _header_int(headers.get("X-Page"), self.page)
        self.per_page = _header_int(headers.get("X-Per-Page"), self.per_page)
        total = _header_int(headers.get("X-Total"), -1)
        # offset_pagination.rb sends no X-Total for an array of 10,000 or more; an older GitLab may send the
        # capped count itself. Either way the listing may hold more than its links reach.
        self.capped = total < 0 or total >= EVENTS_COUNT_CAP


def _ids(body: t.Any) -> list[int]:
    if not isinstance(body, list):
        return []
    return [int(record["id"]) for record in body if isinstance(record, dict) and "id" in record]


def _header_int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default
