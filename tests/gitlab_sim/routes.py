"""Endpoints: the route table, dispatch with a listing cache, and pagination, per gitlab-api-v4.md (cited as §n).

Each GitLab area (tests/gitlab_sim/areas/) brings its routes (`ROUTES`, `FEATURES`, `CACHEABLE`) and their
handlers (a `...Routes` mixin); `Routes` composes them and adds what every listing shares: offset and keyset
pagination (lib/api/helpers/pagination.rb, lib/gitlab/pagination/offset_pagination.rb, keyset/*.rb), the
`Link`/`X-*` headers and the project and group lookups (lib/api/helpers.rb `find_project!`, `find_group!`).
The request plumbing (Request, Listing, errors, ordering, time filters) is in api.py.
"""

from __future__ import annotations

import json
import math
import random
import threading
import typing as t
from collections import OrderedDict
from urllib.parse import quote, unquote

from tests.gitlab_sim.api import (
    COUNT_LIMIT,
    FORBIDDEN,
    OFFSET_CAP,
    ApiError,
    Listing,
    Raw,
    Record,
    Request,
    _int,
    _RouteTable,
    not_found,
    order,
    rebuilt_pairs,
    shuffle_ties,
    window,
)
from tests.gitlab_sim.areas import ci, events, groups, issues, merge_requests, projects, repository, security, users
from tests.gitlab_sim.areas.ci import CiRoutes
from tests.gitlab_sim.areas.events import EventsRoutes
from tests.gitlab_sim.areas.groups import GroupsRoutes
from tests.gitlab_sim.areas.issues import IssuesRoutes
from tests.gitlab_sim.areas.merge_requests import MergeRequestsRoutes
from tests.gitlab_sim.areas.projects import ProjectsRoutes
from tests.gitlab_sim.areas.repository import RepositoryRoutes
from tests.gitlab_sim.areas.security import SecurityRoutes
from tests.gitlab_sim.areas.users import UsersRoutes
from tests.gitlab_sim.util import date_only

if t.TYPE_CHECKING:
    from tests.gitlab_sim.server import GitLabSimulator


# Every area's endpoints, in one table (their patterns never overlap, so the order is only for reading).
AREAS = (projects, groups, users, issues, merge_requests, repository, ci, events, security)
ROUTES = _RouteTable([route for area in AREAS for route in area.ROUTES])
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURE_OF = {name: feature for area in AREAS for name, feature in area.FEATURES.items()}


class Routes(
    ProjectsRoutes,
    GroupsRoutes,
    UsersRoutes,
    IssuesRoutes,
    MergeRequestsRoutes,
    RepositoryRoutes,
    CiRoutes,
    EventsRoutes,
    SecurityRoutes,
):
    """Endpoint handlers (`h_<route name>`) plus pagination and a listing cache keyed on the dataset version."""

    def __init__(self, sim: GitLabSimulator) -> None:
        self.sim = sim
        self.ds = sim.dataset
        self._cache: OrderedDict[tuple[t.Any, ...], tuple[int, Listing]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._enc: dict[tuple[int, str], tuple[Record, bytes]] = {}
        self._enc_version = -1
        self._tie_requests = 0  # pages cut from listings with unordered ties: seeds each one's order
        self._tie_lock = threading.Lock()

    def _tie_rng(self) -> random.Random:
        """The order of tied records for one request: seeded, different on each request, reproducible."""
        with self._tie_lock:
            self._tie_requests += 1
            number = self._tie_requests
        return random.Random(f"{self.ds.seed}/ties/{number}")

    # -- dispatch and caching ----------------------------------------------------------------------------------
    def dispatch(self, name: str, req: Request) -> t.Any:
        handler = getattr(self, f"h_{name}")
        if name in _CACHEABLE:
            skip = {"page", "per_page", "cursor"}
            key = (
                name,
                tuple(sorted(req.params.items())),
                tuple(sorted((k, v) for k, v in req.pairs if k not in skip)),
            )
            version = self.ds.version
            with self._cache_lock:
                hit = self._cache.get(key)
                if hit is not None and hit[0] == version:
                    self._cache.move_to_end(key)
                    return hit[1]
            with self.ds.lock:
                result = handler(req)
            if isinstance(result, Listing):
                with self._cache_lock:
                    self._cache[key] = (version, result)
                    if len(self._cache) > 256:
                        self._cache.popitem(last=False)
            return result
        with self.ds.lock:
            return handler(req)

    # -- pagination ----------------------------------------------------------------------------------------------
    def paginate(self, req: Request, listing: Listing) -> tuple[list[Record], list[tuple[str, str]]]:
        from tests.gitlab_sim.server import decode_cursor, encode_cursor, link_url

        root = self.sim.link_root
        per_page = _int(req.q.get("per_page"), 20)
        per_page = 20 if per_page < 1 else min(per_page, 100)  # Kaminari: default 20, max 100, clamped (§3.1)
        records = listing.records
        if req.q.get("pagination") == "keyset" and listing.keyset:
            start = 0
            if listing.keyset == "cursor" and req.q.get("cursor"):
                cursor = decode_cursor(req.q["cursor"])
                if cursor is None or "id" not in cursor:
                    raise ApiError(400, {"message": "400 Bad request - Invalid cursor value provided"})
                start = self._cursor_start(listing, cursor)
            items = records[start : start + per_page]
            headers: list[tuple[str, str]] = []
            if start + per_page < len(records) and items:
                last = items[-1]
                if listing.keyset == "id":
                    name = "id_after" if listing.sort == "asc" else "id_before"
                    url = link_url(root, req.path, req.pairs, {name: str(last["id"])}, drop=("page",))
                else:
                    cursor_data = {"id": str(last["id"]), "_kd": "n"}
                    if listing.order_field != "id":
                        cursor_data = {listing.order_field: last.get(listing.order_field), **cursor_data}
                    url = link_url(root, req.path, req.pairs, {"cursor": encode_cursor(cursor_data)}, drop=("page",))
                headers.append(("Link", f'<{url}>; rel="next"'))
            return items, headers
        page = max(1, _int(req.q.get("page"), 1))
        if listing.count_cap is not None:
            return self._paginate_filtered(req, listing, page, per_page)
        if listing.cap_type and page * per_page > OFFSET_CAP:
            raise ApiError(
                405,
                {
                    "error": f"Offset pagination has a maximum allowed offset of {OFFSET_CAP} for "
                    f"requests that return objects of type {listing.cap_type}. Remaining "
                    "records can be retrieved using keyset pagination."
                },
            )
        start = (page - 1) * per_page
        if listing.unordered_ties:
            items = shuffle_ties(records, listing.order_field, start, start + per_page, self._tie_rng())
        else:
            items = records[start : start + per_page]
        if listing.page_reversed:
            items = items[::-1]  # git log --reverse: applied after --skip/--max-count (gitlog.py)
        total = len(records)
        counted = listing.mode != "commits" and total <= COUNT_LIMIT
        # Commits fake their total as offset + size + 1: a next page whenever this one is full (§3.1).
        has_next = len(items) == per_page if listing.mode == "commits" else total > start + per_page
        total_pages = max(1, math.ceil(total / per_page))
        next_page = str(page + 1) if has_next else ""
        prev_page = str(page - 1) if page > 1 else ""
        links = []
        pp = str(per_page)
        pairs = rebuilt_pairs(req.pairs)  # offset_header_builder.rb: links carry the parsed parameters
        if prev_page:
            links.append(f'<{link_url(root, req.path, pairs, {"page": prev_page, "per_page": pp})}>; rel="prev"')
        if next_page:
            links.append(f'<{link_url(root, req.path, pairs, {"page": next_page, "per_page": pp})}>; rel="next"')
        links.append(f'<{link_url(root, req.path, pairs, {"page": "1", "per_page": pp})}>; rel="first"')
        if counted:
            last = str(total_pages)
            links.append(f'<{link_url(root, req.path, pairs, {"page": last, "per_page": pp})}>; rel="last"')
        headers = [
            ("X-Per-Page", pp),
            ("X-Page", str(page)),
            ("X-Next-Page", next_page),
            ("X-Prev-Page", prev_page),
            ("Link", ", ".join(links)),
        ]
        if counted:
            headers += [("X-Total", str(total)), ("X-Total-Pages", str(total_pages))]
        return items, headers

    def _paginate_filtered(
        self, req: Request, listing: Listing, page: int, per_page: int
    ) -> tuple[list[Record], list[tuple[str, str]]]:
        """A page as `EventsFinder#paginated_filtered_by_user_visibility` makes it (app/finders/events_finder.rb).

        - The total is `events.limit(MAX_COUNT_LIMIT + 1).count`: at most 10,001
          (`config/initializers/kaminari_active_record_relation_methods_with_limit.rb`, MAX_COUNT_LIMIT 10,000).
        - The page is `events.page(page).per(per_page)` on the whole relation, then filtered with
          `Event#visible_to_user?` (app/models/event.rb), and wrapped in `Kaminari.paginate_array(visible,
          total_count:)`: a page can be short or empty while a next link follows.
        - Kaminari's page methods on that array (kaminari-core `page_scope_methods.rb`): total_pages is
          ceil(total / per_page); next_page only below it (so at per_page=100 page 101 has none), and a page
          past it is "out of range": no next and no prev page, yet its records are still the relation's page.
        - `lib/gitlab/pagination/offset_pagination.rb` (`paginatable_array_exceeds_count?`): an array whose
          total is 10,000 or more gets no X-Total, no X-Total-Pages and no rel="last"
          (`lib/gitlab/pagination/offset_header_builder.rb`).
        """
        from tests.gitlab_sim.server import link_url

        assert listing.count_cap is not None
        root = self.sim.link_root
        records = listing.records
        start = (page - 1) * per_page
        items = records[start : start + per_page]
        if listing.visible is not None:
            items = [record for record in items if listing.visible(record)]
        total = min(len(records), listing.count_cap)
        counted = total < COUNT_LIMIT
        total_pages = math.ceil(total / per_page)
        out_of_range = page > total_pages
        next_page = str(page + 1) if page < total_pages else ""
        prev_page = str(page - 1) if page > 1 and not out_of_range else ""
        pp = str(per_page)
        links = []
        if prev_page:
            links.append(f'<{link_url(root, req.path, req.pairs, {"page": prev_page, "per_page": pp})}>; rel="prev"')
        if next_page:
            links.append(f'<{link_url(root, req.path, req.pairs, {"page": next_page, "per_page": pp})}>; rel="next"')
        links.append(f'<{link_url(root, req.path, req.pairs, {"page": "1", "per_page": pp})}>; rel="first"')
        last = str(max(total_pages, 1))
        if counted:
            links.append(f'<{link_url(root, req.path, req.pairs, {"page": last, "per_page": pp})}>; rel="last"')
        headers = [
            ("X-Per-Page", pp),
            ("X-Page", str(page)),
            ("X-Next-Page", next_page),
            ("X-Prev-Page", prev_page),
            ("Link", ", ".join(links)),
        ]
        if counted:
            headers += [("X-Total", str(total)), ("X-Total-Pages", last)]
        return items, headers

    def encode(self, listing: Listing, items: list[Record]) -> bytes:
        """A page as JSON, from per-record encodings cached until the next mutation (pages are mostly re-reads)."""
        version = self.ds.version
        if version != self._enc_version or len(self._enc) > 200_000:
            self._enc = {}
            self._enc_version = version
        cache = self._enc
        tf = listing.transform
        tkey = listing.transform_key if tf else ""
        parts = []
        for record in items:
            key = (id(record), tkey)
            hit = cache.get(key)
            if hit is None or hit[0] is not record:
                value = tf(record) if tf else record
                hit = (record, json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
                cache[key] = hit  # holding the record keeps its id from being reused
            parts.append(hit[1])
        return b"[" + b",".join(parts) + b"]"

    def _cursor_start(self, listing: Listing, cursor: dict[str, t.Any]) -> int:
        if listing.index is None:
            listing.index = {r["id"]: i for i, r in enumerate(listing.records)}
        try:
            found = listing.index.get(int(cursor["id"]))
        except (TypeError, ValueError):
            found = None
        if found is not None:
            return found + 1
        # The cursor's record is gone: continue after where it would sort.
        key = (cursor.get(listing.order_field) if listing.order_field != "id" else None, int(cursor["id"]))
        for i, r in enumerate(listing.records):
            rk = (r.get(listing.order_field) if listing.order_field != "id" else None, r["id"])
            if (rk > key) if listing.sort == "asc" else (rk < key):
                return i
        return len(listing.records)

    # -- lookups ------------------------------------------------------------------------------------------------
    def project(self, req: Request, feature: str | None = None) -> int:
        ref = unquote(req.params["id"])
        pid, redirected = self.ds.find_project(ref)
        if pid is None:
            raise not_found("Project")
        if redirected:
            # GitLab 16.7+: the old path answers 301 to the id URL (§1 "Moved project paths").
            rest = req.path[len("/projects/" + req.params["id"]) :]
            query = req.full_path.partition("?")[2]
            location = f"{self.sim.link_root}/api/v4/projects/{pid}{rest}"
            if req.pairs:
                from urllib.parse import urlencode

                location += "?" + (query or urlencode(req.pairs))
            raise ApiError(
                301,
                f"This resource has been moved permanently to {location}.",
                [("Location", location)],
                content_type="text/plain",
            )
        if feature and (pid, feature) in self.ds.forbidden:
            raise FORBIDDEN
        return pid

    def group(self, req: Request) -> int:
        gid = self.ds.find_group(unquote(req.params["id"]))
        if gid is None:
            raise not_found("Group")
        return gid

    def _pfeature(self, req: Request, name: str) -> tuple[int, t.Any]:
        pid = self.project(req, FEATURE_OF.get(name))
        if name == "project_jobs" and (pid, "pipelines") in self.ds.forbidden:
            raise FORBIDDEN
        return pid, self.ds.data(pid)

    # -- instance ---------------------------------------------------------------------------------------------

    # -- groups ---------------------------------------------------------------------------------------------------

    # -- group resources -----------------------------------------------------------------------------------------

    # -- issues and merge requests --------------------------------------------------------------------------------

    # -- repository ---------------------------------------------------------------------------------------------

    # -- CI/CD --------------------------------------------------------------------------------------------------

    # -- project members, users, labels, milestones ---------------------------------------------------------------


_CACHEABLE = frozenset().union(*(area.CACHEABLE for area in AREAS))


__all__ = [
    "COUNT_LIMIT",
    "OFFSET_CAP",
    "ROUTES",
    "ApiError",
    "Listing",
    "Raw",
    "Request",
    "Routes",
    "date_only",
    "order",
    "quote",
    "rebuilt_pairs",
    "shuffle_ties",
    "window",
]
