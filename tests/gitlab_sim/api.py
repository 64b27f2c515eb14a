"""The REST API's plumbing shared by every area: requests, errors, listings, ordering and time filters.

Per gitlab-api-v4.md (cited as §n) and gitlabhq lib/api/helpers.rb, lib/api/helpers/pagination.rb,
lib/gitlab/pagination/*.rb (offset and keyset pagination) and app/finders/concerns/updated_at_filter.rb.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import typing as t
from dataclasses import dataclass, field

from tests.gitlab_sim.util import db_time, parse_datetime, parse_time

OFFSET_CAP = 50_000  # §3.1 "Offset cap"

COUNT_LIMIT = 10_000  # §3.1 "More than 10,000 records"

Record = dict[str, t.Any]


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        body: t.Any,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or []
        self.content_type = content_type


def not_found(what: str) -> ApiError:
    return ApiError(404, {"message": f"404 {what} Not Found"})


def bad_request(reason: str) -> ApiError:
    return ApiError(400, {"message": f"400 Bad request - {reason}"})


def invalid(param: str) -> ApiError:
    """Grape's parameter validation error (§1.1)."""
    return ApiError(400, {"error": f"{param} does not have a valid value"})


FORBIDDEN = ApiError(403, {"message": "403 Forbidden"})

KEYSET_UNSUPPORTED = ApiError(405, {"error": "Keyset pagination is not yet available for this type of request"})


@dataclass
class Request:
    method: str
    path: str  # below /api/v4, percent-encoding kept
    pairs: list[tuple[str, str]]
    q: dict[str, str]
    params: dict[str, str]
    full_path: str

    def arr(self, name: str) -> list[str]:
        """An array parameter: `name[]=a&name[]=b`, or `name=a,b` / `name=a`."""
        values = [v for k, v in self.pairs if k == f"{name}[]"]
        if not values and self.q.get(name):
            values = [v for v in self.q[name].split(",") if v]
        return values

    def flag(self, name: str, default: bool | None = None) -> bool | None:
        value = self.q.get(name)
        if value is None or value == "":
            return default
        low = value.lower()
        if low in ("true", "1", "yes", "t"):
            return True
        if low in ("false", "0", "no", "f"):
            return False
        raise ApiError(400, {"error": f"{name} is invalid"})

    def time(self, name: str) -> str | None:
        value = self.q.get(name)
        if value is None or value == "":
            return None
        epoch = parse_time(value)
        if epoch is None:
            raise ApiError(400, {"error": f"{name} is invalid"})
        return db_time(epoch)


@dataclass
class Listing:
    """A list answer before pagination. `records` is in final order."""

    records: list[Record]
    mode: str = "offset"  # "offset" | "commits" (no totals, next whenever the page is full)
    cap_type: str | None = None  # the 405 offset cap applies, with this type name (§3.1)
    keyset: str | None = None  # None | "id" (id_after/id_before) | "cursor"
    order_field: str = "id"
    sort: str = "desc"
    transform: t.Callable[[Record], Record] | None = None
    transform_key: str = ""  # names the transform for the encoded-record cache
    index: dict[int, int] | None = None
    page_reversed: bool = False  # each offset page in reverse (commits with all=true: git's --reverse)
    # Records with equal `order_field` come in another order on each request (no id tie-break, see
    # `shuffle_ties`).
    unordered_ties: bool = False
    # Events (app/finders/events_finder.rb `paginated_filtered_by_user_visibility`): the page is cut from the
    # whole relation, its total is a count capped at `count_cap`, and records failing `visible` are dropped
    # from the page after it was cut (see `Routes._paginate_filtered`).
    count_cap: int | None = None
    visible: t.Callable[[Record], bool] | None = None


@dataclass
class Raw:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "text/plain"


class _RouteTable:
    def __init__(self, spec: list[tuple[str, str, str]]) -> None:
        self.exact: dict[tuple[str, str], str] = {}
        self.patterns: list[tuple[str, re.Pattern[str], str]] = []
        for method, pattern, name in spec:
            if "(" not in pattern:
                self.exact[(method, pattern)] = name
            else:
                self.patterns.append((method, re.compile(f"^{pattern}$"), name))

    def match(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        if method == "HEAD":
            method = "GET"
        name = self.exact.get((method, path))
        if name:
            return name, {}
        for m, regex, name in self.patterns:
            if m == method:
                found = regex.match(path)
                if found:
                    return name, found.groupdict()
        return None


_ID = r"(?P<id>[^/]+)"

_P = r"/projects/" + _ID

_G = r"/groups/" + _ID


def _key(field_name: str) -> t.Callable[[Record], tuple[t.Any, ...]]:
    def key(record: Record) -> tuple[t.Any, ...]:
        value = record.get(field_name)
        return (value is None, value if value is not None else "", record.get("id") or 0)

    return key


def order(records: list[Record], field_name: str, sort: str) -> list[Record]:
    """Sort with GitLab's id tie-break in the same direction (§6.2 "Ordering adds an id tie-breaker")."""
    return sorted(records, key=_key(field_name), reverse=sort == "desc")


def window(records: list[Record], req: Request, field_name: str, after: str, before: str) -> list[Record]:
    """Inclusive time window on a DB timestamp field (`>=`/`<=`, §3 cheat sheet, UpdatedAtFilterable).

    GitLab compares at PostgreSQL's precision (microseconds) and the records here have milliseconds, so a
    bound with a sub-millisecond part is rounded inwards: `>= 12:00:00.0005` is `>= 12:00:00.001`, and
    `<= 12:00:00.999999` is `<= 12:00:00.999`.
    """
    low, high = _bound(req, after, up=True), _bound(req, before, up=False)
    if low is None and high is None:
        return records
    return [r for r in records if (low is None or r[field_name] >= low) and (high is None or r[field_name] <= high)]


def _bound(req: Request, name: str, *, up: bool) -> str | None:
    value = req.q.get(name)
    if value is None or value == "":
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ApiError(400, {"error": f"{name} is invalid"})
    micros = parsed.microsecond % 1000
    parsed = parsed.replace(microsecond=parsed.microsecond - micros)
    if micros and up:
        parsed += dt.timedelta(milliseconds=1)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


# Parameters GitLab's endpoints declare `type: DateTime` (e.g. `lib/api/issues.rb`, `merge_requests.rb`,
# `ci/pipelines.rb`, `commits.rb`, `deployments.rb`): Grape parses them into Ruby `DateTime`s, and the
# offset `Link` is rebuilt from those parsed values (`lib/gitlab/pagination/offset_header_builder.rb`
# `page_href`: `params.merge(page: …, per_page: …).to_query`). `to_query` writes `DateTime#to_s`, ISO 8601
# to the second with the offset: `2024-01-31T12:00:00+00:00`. The milliseconds the client sent are gone.
DATETIME_PARAMS = frozenset(
    {
        "updated_after",
        "updated_before",
        "created_after",
        "created_before",
        "since",
        "until",
        "last_activity_after",
        "last_activity_before",
        "finished_after",
        "finished_before",
    }
)


def _rails_datetime(value: str) -> str:
    """`DateTime.parse(value).to_s`: seconds and the given offset, no fraction (a date becomes midnight)."""
    text = value.strip().replace(" ", "+")
    parsed = parse_datetime(text)
    if parsed is None:
        return value
    if not text.endswith(("Z", "z")) and len(text) > 10:
        original = dt.datetime.fromisoformat(text)
        if original.tzinfo is not None:  # DateTime keeps the offset the client wrote
            parsed = parsed.astimezone(original.tzinfo)
    return parsed.replace(microsecond=0).isoformat()


def rebuilt_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A request's query as GitLab's offset links carry it: DateTime parameters in `DateTime#to_s` form."""
    return [(k, _rails_datetime(v) if k in DATETIME_PARAMS and v else v) for k, v in pairs]


def shuffle_ties(records: list[Record], field_name: str, start: int, end: int, rng: random.Random) -> list[Record]:
    """`records[start:end]` as PostgreSQL may return it when the ORDER BY has no unique tie-break.

    `app/finders/ci/pipelines_finder.rb` `sort_items` orders by the requested column alone, so rows with
    the same value come in whatever order the plan produces, which differs between requests (parallel scans,
    a different index, a page cut at another offset). Each run of equal values touching the page is
    shuffled with `rng` before the page is cut.
    """
    if start >= len(records):
        return []
    end = min(end, len(records))
    lo, hi = start, end
    while lo > 0 and records[lo - 1].get(field_name) == records[start].get(field_name):
        lo -= 1
    while hi < len(records) and records[hi].get(field_name) == records[end - 1].get(field_name):
        hi += 1
    segment = list(records[lo:hi])
    run_start = 0
    for index in range(1, len(segment) + 1):
        if index == len(segment) or segment[index].get(field_name) != segment[run_start].get(field_name):
            if index - run_start > 1:
                run = segment[run_start:index]
                rng.shuffle(run)
                segment[run_start:index] = run
            run_start = index
    return segment[start - lo : end - lo]


def choice(req: Request, name: str, allowed: t.Sequence[str], default: str) -> str:
    value = req.q.get(name) or default
    if value not in allowed:
        raise invalid(name)
    return value


def sort_param(req: Request, default: str) -> str:
    return choice(req, "sort", ("asc", "desc"), default)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default  # type: ignore[arg-type]
    except ValueError:
        return default
