"""Statement timeouts on big group listings (issue 10, item 5).

GitLab cancels a database statement past its `statement_timeout`. `lib/api/merge_requests.rb` answers that
with `408 {"message":{"error":"Request timed out"}}`; `lib/api/issues.rb` has no handler, so a group's issues
answer a plain `500 {"message":"500 Internal Server Error"}` (`rescue_from :all` in `lib/api/api.rb`). The
simulator models it as a cost rule (`Dataset.statement_timeout_rows`: a group listing whose filters match more
rows is cancelled on every page). The tap retries, then narrows (tap_gitlab/narrowing.py): halved
`updated_at` windows, and at last the group's projects' own listings.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import math
import typing as t

import pytest
import requests

from tap_gitlab.client import Page
from tap_gitlab.errors import GitLabAPIError, ResourceUnavailable
from tap_gitlab.narrowing import WindowNarrowing
from tap_gitlab.paginators import UpdatedAtSeekPaginator
from tap_gitlab.retry import RetryPolicy
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.integration.test_resume import run_segment
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-statement-timeouts-secret"
GROUP = "/groups/1/issues"
LISTING = {"order_by": "updated_at", "sort": "asc", "scope": "all"}
SEEK = UpdatedAtSeekPaginator()  # the group issue listing's declared paginator
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# -- the strategy against a fake GitLab ---------------------------------------------------------------------------


def _ts(instant: dt.datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeGitLab:
    """Group and project listings; the group one times out when its window matches more than `limit` rows."""

    def __init__(self, records: list[dict[str, t.Any]], limit: int, status: int = 500) -> None:
        self.records = sorted(records, key=lambda r: (r["updated_at"], r["id"]))
        self.limit = limit
        self.status = status
        self.calls: list[tuple[str, dict[str, t.Any]]] = []
        self.fail_after_pages: int | None = None  # the group listing fails on every page after this many
        self.hidden_projects: set[int] = set()
        self.answered: list[tuple[str, dict[str, t.Any]]] = []  # the requests that did not time out

    def pages(self, path: str, params: t.Mapping[str, t.Any], paginator: t.Any = None) -> t.Iterator[Page]:
        self.calls.append((path, dict(params)))
        rows = self.records
        if path.startswith("/projects/"):
            pid = int(path.split("/")[2])
            if pid in self.hidden_projects:
                raise ResourceUnavailable("403 Forbidden", status=403)
            rows = [r for r in rows if r["project_id"] == pid]
        if params.get("updated_after"):
            rows = [r for r in rows if _parse(r["updated_at"]) >= _parse(params["updated_after"])]
        if params.get("updated_before"):
            rows = [r for r in rows if _parse(r["updated_at"]) <= _parse(params["updated_before"])]
        if path == GROUP and len(rows) > self.limit:
            raise GitLabAPIError(f"GitLab answered {self.status} 4 times", status=self.status)
        self.answered.append((path, dict(params)))
        for number, start in enumerate(range(0, len(rows), 100)):
            if path == GROUP and self.fail_after_pages is not None and number >= self.fail_after_pages:
                self.fail_after_pages = None
                raise GitLabAPIError("GitLab answered 500 4 times", status=500)
            yield Page(rows[start : start + 100], path)


def _records(count: int, *, burst: int = 0) -> list[dict[str, t.Any]]:
    """`count` records over 2024 and 2025 in projects 1-5, plus `burst` of them in one second."""
    rows = []
    span = NOW - START
    for i in range(count):
        rows.append({"id": i + 1, "project_id": i % 5 + 1, "updated_at": _ts(START + span * (i / count))})
    for j in range(burst):
        moment = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC) + dt.timedelta(milliseconds=j // 3)
        rows.append({"id": count + j + 1, "project_id": j % 5 + 1, "updated_at": _ts(moment)})
    return rows


def _narrowing(fake: FakeGitLab, **params: t.Any) -> WindowNarrowing:
    projects = [(f"/projects/{pid}/issues", dict(LISTING)) for pid in range(1, 6)]
    return WindowNarrowing(fake, GROUP, {**LISTING, **params}, projects, paginator=SEEK, now=NOW)  # type: ignore[arg-type]


def _read(narrowing: WindowNarrowing) -> list[dict[str, t.Any]]:
    return [record for page in narrowing.pages() for record in page.records]


def _assert_complete_and_sorted(got: list[dict[str, t.Any]], fake: FakeGitLab) -> None:
    counts = collections.Counter(r["id"] for r in got)
    assert set(counts) == {r["id"] for r in fake.records}, "records lost"
    assert max(counts.values()) == 1, "records emitted twice"
    stamps = [r["updated_at"] for r in got]
    assert stamps == sorted(stamps), "out of updated_at order: the bookmark would pass unread records"


def test_a_group_listing_that_times_out_is_read_in_halved_updated_at_windows_and_loses_nothing():
    fake = FakeGitLab(_records(1000), limit=300)
    got = _read(_narrowing(fake, updated_after="2024-01-01T00:00:00.000Z"))
    _assert_complete_and_sorted(got, fake)
    windows = [params for path, params in fake.calls if path == GROUP and "updated_before" in params]
    assert len(windows) >= 4  # a 1000-row listing cannot be read in windows of at most 300 with fewer
    assert not any(path.startswith("/projects/") for path, _ in fake.calls)  # windows were enough
    # The windows answered tile the time line: each starts 1 µs after the previous one's inclusive end.
    answered = [params for path, params in fake.answered if path == GROUP]
    for previous, following in itertools.pairwise(answered):
        gap = _parse(following["updated_after"]) - _parse(previous["updated_before"])
        assert gap == dt.timedelta(microseconds=1)
    assert "updated_before" not in answered[-1]  # the last window is open: records updated during the run


def test_a_full_read_without_a_bookmark_starts_its_windows_at_the_epoch():
    fake = FakeGitLab(_records(400), limit=150)
    got = _read(_narrowing(fake))
    _assert_complete_and_sorted(got, fake)
    first_window = next(params for path, params in fake.calls if path == GROUP and "updated_before" in params)
    assert first_window["updated_after"].startswith("1970-01-01T00:00:00")


def test_a_window_that_still_times_out_at_the_minimum_is_read_project_by_project_in_updated_at_order():
    fake = FakeGitLab(_records(500, burst=400), limit=300)  # 400 records in one second: no window is small enough
    got = _read(_narrowing(fake, updated_after="2024-01-01T00:00:00.000Z"))
    _assert_complete_and_sorted(got, fake)
    per_project = [params for path, params in fake.calls if path.startswith("/projects/")]
    assert len(per_project) == 5  # the five projects, once, for the one window around the burst
    lo, hi = _parse(per_project[0]["updated_after"]), _parse(per_project[0]["updated_before"])
    assert hi - lo < dt.timedelta(hours=1)


def test_a_project_the_token_cannot_read_is_left_out_of_the_per_project_read_as_the_group_listing_does():
    fake = FakeGitLab(_records(100, burst=400), limit=300)
    fake.hidden_projects = {3}
    fake.records = [r for r in fake.records if r["project_id"] != 3]  # the group listing omits it too
    got = _read(_narrowing(fake, updated_after="2024-01-01T00:00:00.000Z"))
    _assert_complete_and_sorted(got, fake)


def test_a_listing_that_times_out_after_some_pages_goes_on_from_the_newest_record_read():
    fake = FakeGitLab(_records(1000), limit=10_000)
    fake.fail_after_pages = 3  # pages 1-3 answered, then the statement timeout
    got = _read(_narrowing(fake, updated_after="2024-01-01T00:00:00.000Z"))
    _assert_complete_and_sorted(got, fake)
    resumed = fake.calls[1][1]
    assert _parse(resumed["updated_after"]) == _parse(got[299]["updated_at"])


@pytest.mark.parametrize("start", [None, "2024-01-01T00:00:00.000Z"])
def test_a_group_listing_that_fails_on_every_request_completes_from_the_projects_in_a_bounded_number_of_requests(
    start,
):
    """A persistent fault, not a big query: every window fails. One descent to MIN_WINDOW, one more failure,
    then the whole rest from the projects' listings (before: ~2 x range / 1 h windows, each retried)."""
    fake = FakeGitLab(_records(600, burst=50), limit=-1)  # the group listing fails whatever it is asked
    narrowing = _narrowing(fake, **({"updated_after": start} if start else {}))
    got = _read(narrowing)
    _assert_complete_and_sorted(got, fake)
    group = [params for path, params in fake.calls if path == GROUP]
    first = _parse(start) if start else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    descent = math.ceil(math.log2((NOW - first) / dt.timedelta(hours=1)))
    # The first request, the descent (each halving's first half), and the window after the first fallback.
    assert len(group) <= 1 + descent + 2, len(group)
    assert narrowing.gave_up
    per_project = [(path, params) for path, params in fake.calls if path.startswith("/projects/")]
    assert len(per_project) == 2 * 5  # the one-hour window, then the rest: each project twice
    rest = per_project[5:]
    assert all("updated_before" not in params for _, params in rest)  # the rest is open: nothing left behind
    rest_from = fake.calls.index(rest[0])
    assert all(path != GROUP for path, _ in fake.calls[rest_from:])  # never back to the group listing


def test_after_a_burst_read_project_by_project_the_group_listing_is_asked_again_when_it_answers():
    """A burst window falls back to the projects; the next window answers, so the group listing goes on."""
    fake = FakeGitLab(_records(500, burst=400), limit=300)
    narrowing = _narrowing(fake, updated_after="2024-01-01T00:00:00.000Z")
    _assert_complete_and_sorted(_read(narrowing), fake)
    assert not narrowing.gave_up
    last_project_call = max(i for i, (path, _) in enumerate(fake.calls) if path.startswith("/projects/"))
    assert any(path == GROUP for path, _ in fake.answered[-3:])
    assert fake.calls[-1][0] == GROUP and last_project_call < len(fake.calls) - 1


def test_narrowed_group_requests_retry_a_500_once_and_others_keep_the_clients_policy():
    policy = RetryPolicy()
    seen: list[tuple[str, RetryPolicy | None]] = []

    class Client:
        retry_policy = policy

        def pages(self, path, params, paginator=None, retry_policy=None):
            seen.append((path, retry_policy))
            if path == GROUP:
                raise GitLabAPIError("GitLab answered 500 4 times", status=500)
            yield Page([], path)

    projects = [(f"/projects/{pid}/issues", dict(LISTING)) for pid in range(1, 3)]
    narrowing = WindowNarrowing(
        Client(), GROUP, {**LISTING, "updated_after": "2025-12-01T00:00:00.000Z"}, projects, paginator=SEEK, now=NOW
    )  # type: ignore[arg-type]
    assert _read(narrowing) == []
    assert seen[0] == (GROUP, None)  # the listing as asked: the client's own policy
    narrowed = [used for path, used in seen[1:] if path == GROUP]
    assert narrowed and all(used and used.max_server_errors == used.max_statement_timeouts == 2 for used in narrowed)
    assert all(used is None for path, used in seen if path.startswith("/projects/"))
    assert policy.max_server_errors == 4  # the shared policy is not changed


@pytest.mark.parametrize("status", [400, 403, 404, 502])
def test_other_errors_are_not_narrowed(status):
    fake = FakeGitLab(_records(50), limit=0, status=status)
    error: type[GitLabAPIError] = ResourceUnavailable if status in (403, 404) else GitLabAPIError
    fake_error = error("refused", status=status)

    def pages(path: str, params: t.Mapping[str, t.Any], paginator: t.Any = None) -> t.Iterator[Page]:
        fake.calls.append((path, dict(params)))
        raise fake_error
        yield  # pragma: no cover

    fake.pages = pages  # type: ignore[method-assign]
    with pytest.raises(GitLabAPIError) as caught:
        _read(_narrowing(fake))
    assert caught.value is fake_error
    assert len(fake.calls) == 1


# -- end to end against the simulator ----------------------------------------------------------------------------

STREAMS = ("issues", "merge_requests")
LIMIT = 100  # rows a group listing may match before the database cancels it


def _world(tmp_path):
    dataset = Dataset.generate(size="small", seed=5)
    dataset.statement_timeout_rows = LIMIT
    return dataset


def _config(sim: GitLabSimulator, dataset: Dataset) -> dict[str, t.Any]:
    # A bookmark-like start keeps the halvings (each a retried request) few; the narrowing is the same.
    return sim_config(sim, TOKEN, groups=dataset.top_group_paths(), start_date="2023-01-01T00:00:00Z")


def test_simulator_times_out_big_group_listings_as_each_gitlab_file_answers():
    dataset = _world(None)
    big = dataset.top_group_paths()[0]
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        headers = {"PRIVATE-TOKEN": TOKEN}
        gid = requests.get(f"{sim.api_url}/groups/{big}", headers=headers, timeout=10).json()["id"]
        issues = requests.get(f"{sim.api_url}/groups/{gid}/issues", headers=headers, timeout=10)
        mrs = requests.get(f"{sim.api_url}/groups/{gid}/merge_requests", headers=headers, timeout=10)
        narrow = requests.get(
            f"{sim.api_url}/groups/{gid}/issues",
            params={"updated_before": "2023-01-01T00:00:00Z"},
            headers=headers,
            timeout=10,
        )
    assert (issues.status_code, issues.json()) == (500, {"message": "500 Internal Server Error"})
    assert (mrs.status_code, mrs.json()) == (408, {"message": {"error": "Request timed out"}})
    assert narrow.status_code == 200


def test_a_big_groups_issues_500_and_merge_requests_408_complete_with_nothing_lost(tmp_path):
    dataset = _world(tmp_path)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim, dataset)
        catalog = select(discover(tmp_path, config), STREAMS)
        sim.clear_requests()
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        log = list(sim.requests)
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in STREAMS:
        expected = {r["id"] for r in dataset.expected(stream, start_date=config["start_date"])}
        got = collections.Counter(r["id"] for r in run.records[stream])
        lost = expected - set(got)
        duplicates = sum(n - 1 for n in got.values())
        print(f"{stream}: expected {len(expected)}, lost {len(lost)}, duplicates {duplicates}")
        assert not lost, f"{stream}: {len(lost)} records lost"
        assert duplicates == 0
    timeouts = collections.Counter((e.path.rsplit("/", 1)[-1], e.status) for e in log if e.status in (408, 500))
    assert timeouts[("issues", 500)] and timeouts[("merge_requests", 408)]
    windows = [e for e in log if "/groups/" in e.path and "updated_before" in e.query and e.status == 200]
    assert {e.path.rsplit("/", 1)[-1] for e in windows} == {"issues", "merge_requests"}  # the narrowing


def test_a_run_killed_while_narrowing_resumes_from_its_state_with_nothing_lost(tmp_path):
    dataset = _world(tmp_path)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim, dataset)
        catalog = select(discover(tmp_path, config), ["issues"])
        seen = {"records": 0}

        def after_some_narrowed_pages(message: dict[str, t.Any]) -> bool:
            if message.get("type") == "RECORD":
                seen["records"] += 1
            return seen["records"] >= 150  # inside the big group's windows (its first window answers ~60)

        first = run_segment(tmp_path / "first", config, catalog, None, after_some_narrowed_pages)
        assert first.killed and first.last_state is not None
        second = run_segment(tmp_path / "second", config, catalog, first.last_state, None)
    assert second.returncode == 0, second.stderr[-3000:]
    expected = {r["id"] for r in dataset.expected("issues", start_date=config["start_date"])}
    got = [r["id"] for _, r in first.records] + [r["id"] for _, r in second.records]
    lost = expected - set(got)
    duplicates = len(got) - len(set(got))
    print(f"issues: expected {len(expected)}, lost {len(lost)}, re-read after the kill {duplicates}")
    assert not lost
    assert duplicates <= 100 * len(dataset.top_group_paths())  # at most a page per partition


def test_a_burst_no_window_can_hold_is_read_from_the_groups_projects_own_listings(tmp_path):
    """A bulk edit touches 120 merge requests of one group within a second: windows cannot get below the limit."""
    dataset = _world(tmp_path)
    big = dataset.top_group_paths()[0]
    touched = [mr for mr in dataset.expected("merge_requests", groups=[big])][:120]
    for mr in touched:
        dataset.update_merge_request(mr["project_id"], mr["iid"], title=mr["title"] + " (bulk edit)")
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim, dataset)
        catalog = select(discover(tmp_path, config), ["merge_requests"])
        sim.clear_requests()
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        log = list(sim.requests)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = {r["id"]: r["updated_at"] for r in dataset.expected("merge_requests", start_date=config["start_date"])}
    got = collections.Counter(r["id"] for r in run.records["merge_requests"])
    assert set(expected) <= set(got)
    assert sum(n - 1 for n in got.values()) == 0
    latest = {r["id"]: r["updated_at"] for r in run.records["merge_requests"]}
    assert all(latest[mr["id"]].startswith(expected[mr["id"]][:19]) for mr in touched)  # the edited versions
    per_project = [e for e in log if e.path.startswith("/api/v4/projects/") and e.path.endswith("/merge_requests")]
    assert per_project and all("updated_before" in e.query or "updated_after" in e.query for e in per_project)
    print(f"merge_requests: {len(expected)} expected, lost 0; {len(per_project)} per-project requests")
