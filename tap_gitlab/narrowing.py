"""Statement timeouts on big group listings: narrow the request until GitLab can answer it.

GitLab cancels a database statement that runs past PostgreSQL's `statement_timeout`. `lib/api/merge_requests.rb`
rescues `ActiveRecord::QueryCanceled` with `408 {"message":{"error":"Request timed out"}}`; `lib/api/issues.rb`
has no such handler, so the same timeout on a group's issues reaches `rescue_from :all` (`lib/api/api.rb`,
`handle_api_exception` in `lib/api/helpers.rb`) and answers a plain `500 {"message":"500 Internal Server
Error"}`. The HTTP layer retries both a few times (tap_gitlab/retry.py) and then raises a `GitLabAPIError`
with that status. Retrying cannot fix a query that is too big, so a group-level listing (every project below
a group, `GitLabStream.group_listing_path`) that still fails is narrowed (`WindowNarrowing`):

1. the rest of the listing is read in `updated_at` windows `[lo, hi)`: `updated_after=lo` and
   `updated_before=hi - 1 µs`, both inclusive in GitLab (`app/finders/concerns/updated_at_filter.rb`,
   `app/models/concerns/updated_at_filterable.rb`: `>=` and `<=`), at PostgreSQL's microsecond precision,
   so that consecutive windows cover every instant once. The rest of the listing is cut in two halves (an
   open end counts up to now), and every window that times out is replaced by its two halves, read in
   order: windows end up as narrow as the density of records needs where they are, and no narrower (one
   busy week does not make every later window small). The last window has no `updated_before`, so records
   updated while the tap runs are read too;
2. a window that still times out at `MIN_WINDOW` is read from the per-project listings of the group's selected
   projects with the same window, merged in `updated_at` order (a burst: many records edited at once);
3. a too-big query is local: the window right after one read project by project is as narrow as it (or its
   parent, one halving wider), and answers unless it holds a burst too. So when the next group window fails
   as well, before the group listing answered any page since, the listing fails whatever the window (a
   persistent fault, not a statement timeout): the whole rest of the range is read from the per-project
   listings at once and the group listing is not asked again in this read (`gave_up`). On a listing that
   fails on every request, narrowing costs at most ceil(log2(range / MIN_WINDOW)) + 2 group requests (one
   descent to `MIN_WINDOW`, then one more), before: about 2 x range / MIN_WINDOW, each retried with
   backoff. Narrowed group requests are tried `NARROWED_ATTEMPTS` times on a 500 or 408, not the policy's
   3-4 (a narrower request is the better retry); the first request of the listing and the per-project
   requests keep the client's policy.

Records come out in `updated_at` order throughout (windows in order, each read by the seek of
`GitLabClient.pages`), so the stream's bookmark after every page is a valid resume point: a crash in a window
resumes at the bookmark, and that run narrows again from there. A window that fails after some of its pages
were read goes on from the newest `updated_at` read, dropping the records already emitted at exactly it; so
does the per-project read of the rest (it starts at that instant, and the merge of the projects' listings
is in `updated_at` order like the group's). Nothing is lost: consecutive windows, and the rest, tile the
range to the microsecond; no record is emitted twice within one read.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import typing as t

from tap_gitlab.client import Page
from tap_gitlab.errors import GitLabAPIError, ResourceUnavailable
from tap_gitlab.timestamps import micros, parse_or_none

if t.TYPE_CHECKING:
    from tap_gitlab.client import GitLabClient
    from tap_gitlab.paginators import Paginator
    from tap_gitlab.retry import RetryPolicy

logger = logging.getLogger("tap-gitlab")

# 408: merge requests' handler; 500: issues' (and any listing without one). Nothing else is a statement timeout.
TIMEOUT_STATUSES = frozenset({408, 500})
MIN_WINDOW = dt.timedelta(hours=1)
# A full read has no lower bound; no GitLab record is older than this (imports keep their source's dates).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
PER_PAGE = 100
# Attempts of one narrowed group request on a 500 or 408 (the first request of the listing keeps the policy's).
NARROWED_ATTEMPTS = 2


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether `exc` is GitLab's answer to a cancelled database statement, once retries are spent."""
    return (
        isinstance(exc, GitLabAPIError) and not isinstance(exc, ResourceUnavailable) and exc.status in TIMEOUT_STATUSES
    )


class WindowNarrowing:
    """Pages of a group-level listing sorted by `updated_at` ascending, narrowed when GitLab times out.

    `projects` are the per-project listings (path, parameters) that together list what the group listing
    lists; they are read only for a window that times out at `min_window`.
    """

    def __init__(
        self,
        client: GitLabClient,
        path: str,
        params: t.Mapping[str, t.Any],
        projects: t.Sequence[tuple[str, t.Mapping[str, t.Any]]],
        *,
        paginator: Paginator,
        label: str = "",
        min_window: dt.timedelta = MIN_WINDOW,
        now: dt.datetime | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.params = dict(params)
        self.projects = list(projects)
        self.paginator = paginator  # the listing's (an `updated_at` seek); each read takes a fresh copy
        self.label = label or path
        self.min_window = min_window
        self.now = now
        self.last: dt.datetime | None = None  # the newest updated_at emitted
        self.at_last: set[t.Any] = set()  # ids emitted at exactly that updated_at
        self.windows: list[tuple[dt.datetime, dt.datetime | None]] = []  # every window requested, in order
        self.gave_up = False  # the group listing failed whatever the window: the rest came from the projects

    def pages(self) -> t.Iterator[Page]:
        """Every page of the listing: as asked while GitLab answers it, then narrowed."""
        try:
            for page in self.client.pages(self.path, self.params, self.paginator):
                yield self._fresh(page)
            return
        except GitLabAPIError as exc:
            if not is_statement_timeout(exc):
                raise
            logger.warning("%s: GitLab timed out on the listing (%s); reading it in narrower windows", self.label, exc)
        yield from self._narrowed()

    # -- the strategy ---------------------------------------------------------------------------------------

    def _narrowed(self) -> t.Iterator[Page]:
        now = self.now or dt.datetime.now(dt.UTC)
        start = parse_or_none(self.params.get("updated_after")) or EARLIEST
        end = parse_or_none(self.params.get("updated_before"))  # the caller's own bound (inclusive), if any
        first = max(start, self.last) if self.last else start
        stop = end + _MICROSECOND if end else None  # the exclusive end of the whole range (None: open)
        # Windows still to read, the next one last: halving a window replaces it by its two halves.
        pending = list(reversed(_halves(first, stop, now)))
        # A window was read project by project and the group listing has answered no page since.
        fell_back = False
        while pending:
            lo, hi = pending.pop()
            answered = False
            try:
                window = self._window(lo, hi)
                for page in self.client.pages(self.path, window, self.paginator, **self._narrowed_retries()):
                    answered = True
                    yield self._fresh(page)
                fell_back = False
                continue
            except GitLabAPIError as exc:
                if not is_statement_timeout(exc):
                    raise
            if answered:
                fell_back = False
            if self.last is not None and self.last > lo:
                lo = self.last  # go on from what this window already gave
            if fell_back:
                # The window next to one already read project by project (as narrow as it, or its parent)
                # fails too, and nothing answered in between: no window is small enough, the listing itself
                # fails. The rest of the range comes from the projects' listings; no more narrowing.
                self.gave_up = True
                logger.warning(
                    "%s: the group listing fails whatever the window (from %s); reading the rest project by project",
                    self.label,
                    micros(lo),
                )
                yield from self._per_project(lo, stop)
                return
            if (hi or now) - lo > self.min_window:
                logger.info("%s: timed out from %s; halving the window", self.label, micros(lo))
                pending.extend(reversed(_halves(lo, hi, now)))
                continue
            logger.warning("%s: timed out from %s; reading that window project by project", self.label, micros(lo))
            fell_back = True
            yield from self._per_project(lo, hi)

    def _narrowed_retries(self) -> dict[str, t.Any]:
        """The retry policy of a narrowed group request: one retry of a 500 or 408, not three. A narrowed
        request that times out again is answered by a narrower one (or by the projects' listings), which
        retrying the same query cannot beat; a fake client without a policy keeps its own."""
        policy: RetryPolicy | None = getattr(self.client, "retry_policy", None)
        if policy is None:
            return {}
        narrowed = policy.reduced(max_server_errors=NARROWED_ATTEMPTS, max_statement_timeouts=NARROWED_ATTEMPTS)
        return {"retry_policy": narrowed}

    def _window(self, lo: dt.datetime, hi: dt.datetime | None) -> dict[str, t.Any]:
        """The group listing's parameters for `[lo, hi)` (no `updated_before` for an open end)."""
        params = {k: v for k, v in self.params.items() if k != "updated_before"}
        return {**params, **self._bounds(lo, hi)}

    def _bounds(self, lo: dt.datetime, hi: dt.datetime | None) -> dict[str, str]:
        """GitLab's inclusive filters for the half-open window `[lo, hi)`, remembered in `windows`."""
        self.windows.append((lo, hi))
        bounds = {"updated_after": micros(lo)}
        if hi is not None:
            bounds["updated_before"] = micros(hi - _MICROSECOND)
        return bounds

    def _per_project(self, lo: dt.datetime, hi: dt.datetime | None) -> t.Iterator[Page]:
        """One window from every project's own listing, merged in `updated_at` order, a page at a time."""
        window = self._bounds(lo, hi)
        streams = [self._project_records(path, {**params, **window}) for path, params in self.projects]
        merged = heapq.merge(*streams, key=lambda record: parse_or_none(record.get("updated_at")) or EARLIEST)
        batch: list[t.Any] = []
        for record in merged:
            batch.append(record)
            if len(batch) == PER_PAGE:
                yield self._fresh(_page(batch, f"{self.path} (per project)"))
                batch = []
        if batch:
            yield self._fresh(_page(batch, f"{self.path} (per project)"))

    def _project_records(self, path: str, params: t.Mapping[str, t.Any]) -> t.Iterator[t.Any]:
        try:
            for page in self.client.pages(path, params, self.paginator):
                yield from page.records
        except ResourceUnavailable as exc:
            # The group listing leaves out projects whose feature is off or hidden: so does this.
            logger.info("%s: %s skipped in the per-project read: %s", self.label, path, exc)

    def _fresh(self, page: Page) -> Page:
        """`page` without records already emitted (a window resumed at the newest `updated_at` read)."""
        fresh = []
        for record in page.records:
            instant = parse_or_none(record.get("updated_at")) if isinstance(record, dict) else None
            if instant is None:
                fresh.append(record)
                continue
            if self.last is not None and instant == self.last and record.get("id") in self.at_last:
                continue
            if self.last is None or instant > self.last:
                self.last, self.at_last = instant, set()
            if instant == self.last:
                self.at_last.add(record.get("id"))
            fresh.append(record)
        return _page(fresh, page.url)


def _halves(lo: dt.datetime, hi: dt.datetime | None, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """`[lo, hi)` cut in two at its middle (an open window, at the middle of what lies before `now`)."""
    mid = lo + (max(hi or now, lo) - lo) / 2
    return [(lo, mid), (mid, hi)]


def _page(records: list[t.Any], url: str) -> Page:
    return Page(records, url)
