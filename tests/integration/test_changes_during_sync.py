"""Changes during the sync (issue 7): the simulator changes while the tap reads it; no update may be lost.

A background thread creates and updates issues, merge requests, pipelines, notes, commits and jobs while a
full sync runs (latency 5 ms, 6 workers), including writes stamped with exactly the same millisecond as the
latest change (GitLab's clock has millisecond resolution in the API and `updated_after` is inclusive). Then
the mutations stop and an incremental run starts from the first run's last STATE. Every record's latest
version (its `updated_at`, or its key for records that never change) must have been emitted by one of the
two runs: zero lost updates.
"""

from __future__ import annotations

import collections
import random
import threading
import time

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.util import db_time
from tests.support.tap_harness import discover, run_tap, select

TOKEN = "glpat-changes-secret-token"
STREAMS = [
    "issues",
    "issue_notes",
    "merge_requests",
    "merge_request_commits",
    "pipelines",
    "pipelines_extended",
    "jobs",
]


def _normal(value):
    """Timestamps as comparable text (the tap keeps GitLab's text; the dataset may hold another offset)."""
    from tap_gitlab.timestamps import normalize

    return normalize(value)


class Mutator(threading.Thread):
    """Changes the dataset every few milliseconds until stopped; remembers what it did."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        super().__init__(daemon=True)
        self.ds = dataset
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.done: collections.Counter[str] = collections.Counter()
        self.errors: list[BaseException] = []
        issue_projects = sorted({r["project_id"] for r in dataset.expected("issues")})
        mr_projects = sorted({r["project_id"] for r in dataset.expected("merge_requests")})
        pipeline_projects = sorted({r["project_id"] for r in dataset.expected("pipelines")})
        self.issue_projects, self.mr_projects, self.pipeline_projects = issue_projects, mr_projects, pipeline_projects

    def run(self) -> None:
        actions = [
            self.update_issue,
            self.update_issue,
            self.create_issue,
            self.note_issue,
            self.update_mr,
            self.create_mr,
            self.commit_mr,
            self.create_pipeline,
            self.update_pipeline,
            self.add_job,
            self.same_millisecond_issue,
            self.same_millisecond_mr,
            self.same_millisecond_pipeline,
        ]
        try:
            while not self.stop.is_set():
                action = self.rng.choice(actions)
                action()
                self.done[action.__name__] += 1
                time.sleep(self.rng.uniform(0.002, 0.012))
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    # -- picks ---------------------------------------------------------------------------------------------
    def _issue(self) -> tuple[int, int]:
        pid = self.rng.choice(self.issue_projects)
        with self.ds.lock:
            return pid, self.rng.choice(sorted(self.ds.data(pid).issue_by_iid))

    def _mr(self) -> tuple[int, int]:
        pid = self.rng.choice(self.mr_projects)
        with self.ds.lock:
            return pid, self.rng.choice(sorted(self.ds.data(pid).mr_by_iid))

    def _pipeline(self) -> tuple[int, int]:
        pid = self.rng.choice(self.pipeline_projects)
        with self.ds.lock:
            return pid, self.rng.choice(sorted(self.ds.data(pid).pipeline_by_id))

    # -- mutations through the simulator's API -------------------------------------------------------------
    def update_issue(self) -> None:
        self.ds.update_issue(*self._issue(), title=f"edited {self.rng.random():.6f}")

    def create_issue(self) -> None:
        self.ds.create_issue(self.rng.choice(self.issue_projects), title="created during the sync")

    def note_issue(self) -> None:
        self.ds.add_issue_note(*self._issue())

    def update_mr(self) -> None:
        self.ds.update_merge_request(*self._mr(), title=f"edited {self.rng.random():.6f}")

    def create_mr(self) -> None:
        self.ds.create_merge_request(self.rng.choice(self.mr_projects), title="opened during the sync")

    def commit_mr(self) -> None:
        self.ds.add_merge_request_commit(*self._mr())

    def create_pipeline(self) -> None:
        self.ds.create_pipeline(self.rng.choice(self.pipeline_projects))

    def update_pipeline(self) -> None:
        self.ds.update_pipeline(*self._pipeline(), status=self.rng.choice(["running", "success", "failed"]))

    def add_job(self) -> None:
        self.ds.add_job(*self._pipeline())

    # -- writes in the same millisecond as the latest change (no clock tick) -------------------------------
    def _same_millisecond(self, record: dict, **fields) -> None:
        with self.ds.lock:
            self.ds.advance_clock(0)
            # The dataset clock moves 1 ms after each change: the latest change is stamped 1 ms before it.
            record.update(fields, updated_at=db_time(self.ds._clock - 0.001))
            self.ds.version += 1  # the server caches pages per dataset version

    def same_millisecond_issue(self) -> None:
        pid, iid = self._issue()
        with self.ds.lock:
            self._same_millisecond(self.ds.data(pid).issue_by_iid[iid], title="same millisecond")

    def same_millisecond_mr(self) -> None:
        pid, iid = self._mr()
        with self.ds.lock:
            mr = self.ds.data(pid).mr_by_iid[iid]
            self._same_millisecond(mr, title="same millisecond")
            self.ds.data(pid).mr_approvals[iid]["updated_at"] = mr["updated_at"]

    def same_millisecond_pipeline(self) -> None:
        pid, pipeline_id = self._pipeline()
        with self.ds.lock:
            self._same_millisecond(self.ds.data(pid).pipeline_by_id[pipeline_id], status="canceled")


def _key(record, key_properties):
    return tuple(record.get(k) for k in key_properties)


@pytest.mark.parametrize("seed", [1, 2])
def test_changes_during_the_sync_are_all_caught_by_the_next_run(tmp_path, seed):
    dataset = Dataset.generate(size="small", seed=11)
    with GitLabSimulator(dataset, token=TOKEN, latency_ms=5) as sim:
        top_groups = dataset.top_group_paths()
        config = {
            "api_url": sim.base_url,
            "private_token": TOKEN,
            "groups": top_groups,
            "max_concurrency": 6,
            "requests_per_minute": 100000,
        }
        catalog = select(discover(tmp_path, config), STREAMS)
        keys = {e["tap_stream_id"]: e["key_properties"] for e in catalog["streams"]}

        mutator = Mutator(dataset, seed)
        mutator.start()
        first = run_tap(tmp_path / "during", config, catalog=catalog)
        mutator.stop.set()
        mutator.join(10)
        assert not mutator.errors, mutator.errors
        assert first.returncode == 0, first.stderr[-3000:]
        assert sum(mutator.done.values()) > 50, mutator.done  # the sync really ran under changes

        second = run_tap(tmp_path / "after", config, catalog=catalog, state=first.last_state)
        assert second.returncode == 0, second.stderr[-3000:]

    lost: dict[str, list] = {}
    for name in STREAMS:
        emitted = collections.defaultdict(set)
        for run in (first, second):
            for record in run.records[name]:
                emitted[_key(record, keys[name])].add(_normal(record.get("updated_at")))
        missing = []
        for record in dataset.expected(name):
            key = _key(record, keys[name])
            if key not in emitted:
                missing.append((key, "never emitted"))
            elif record.get("updated_at") and _normal(record["updated_at"]) not in emitted[key]:
                missing.append((key, f"latest version {record['updated_at']} not emitted"))
        if missing:
            lost[name] = missing
    print(f"mutations during the sync: {dict(mutator.done)}")
    print(
        f"records: first run {sum(map(len, first.records.values()))}, second run {sum(map(len, second.records.values()))}"
    )
    for name, items in lost.items():
        print(f"{name}: {len(items)} lost updates, e.g. {items[:3]}")
    assert not lost, f"lost updates: { {name: len(items) for name, items in lost.items()} }"


# -- the seeking pagination that makes this hold (tap_gitlab/paginators.py `UpdatedAtSeek`) -------------------


def _issue(id_, updated_at):
    return {"id": id_, "updated_at": updated_at}


def test_seek_drops_records_already_read_at_the_boundary_and_reads_a_stuck_timestamp_as_a_block():
    from tap_gitlab.paginators import UpdatedAtSeek

    seek = UpdatedAtSeek()
    assert seek.accept([_issue(1, "2024-01-01T00:00:00.000Z"), _issue(2, "2024-01-01T00:00:01.000Z")]) == [
        _issue(1, "2024-01-01T00:00:00.000Z"),
        _issue(2, "2024-01-01T00:00:01.000Z"),
    ]
    assert seek.next_query(True) == {"updated_after": "2024-01-01T00:00:01.000Z"}
    # The inclusive filter returns issue 2 again, and issue 3 written in the same millisecond.
    page = [_issue(2, "2024-01-01T00:00:01.000Z"), _issue(3, "2024-01-01T01:00:01.000+01:00")]
    assert seek.accept(page) == [_issue(3, "2024-01-01T01:00:01.000+01:00")]
    # No progress: that millisecond's records are read as a listing of their own (tests/integration/test_ties.py).
    assert seek.next_query(True) == {
        "updated_after": "2024-01-01T00:00:01.000Z",
        "updated_before": "2024-01-01T00:00:01.000999Z",
        "page": 1,
    }
    assert seek.accept(page) == []
    assert seek.next_query(False) == {"updated_after": "2024-01-01T00:00:01.001Z"}
    assert seek.accept([_issue(4, "2024-01-01T00:00:02.000Z")]) == [_issue(4, "2024-01-01T00:00:02.000Z")]
    assert seek.next_query(True) == {"updated_after": "2024-01-01T00:00:02.000Z"}
    # An endpoint that ignores the filter answers older records: seeking stops.
    assert seek.accept([_issue(1, "2024-01-01T00:00:00.000Z")]) is None
    assert seek.next_query(True) is None


def test_client_pages_by_offset_when_the_endpoint_ignores_updated_after(monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    from tap_gitlab.client import GitLabClient
    from tap_gitlab.paginators import UpdatedAtSeekPaginator
    from tap_gitlab.settings import normalize
    from tap_gitlab.transport import Headers, Response

    records = [_issue(i, f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}.000Z") for i in range(1, 251)]
    client = GitLabClient(normalize({"api_url": "http://127.0.0.1:9", "private_token": TOKEN}))
    seen_urls = []

    def get_json(url, **_options):
        seen_urls.append(url)
        query = parse_qs(urlsplit(url).query)
        page = int(query.get("page", ["1"])[0])
        headers = Headers({"x-next-page": str(page + 1)} if page * 100 < len(records) else {})
        response = Response(200, headers, b"", url)
        return records[(page - 1) * 100 : page * 100], response

    monkeypatch.setattr(client, "get_json", get_json)
    pages = list(client.pages("/projects/1/issues", {}, UpdatedAtSeekPaginator()))
    got = [record["id"] for page in pages for record in page.records]
    assert got == list(range(1, 251))
    assert any("updated_after" in url for url in seen_urls)  # it tried to seek, saw the filter ignored
    assert len(seen_urls) == 4


def test_client_seeks_after_each_page_of_a_sorted_listing(monkeypatch):
    """Records updated between pages (they move to the end) pull no unread record onto a page already read."""
    from urllib.parse import parse_qs, urlsplit

    from tap_gitlab.client import GitLabClient
    from tap_gitlab.paginators import UpdatedAtSeekPaginator
    from tap_gitlab.settings import normalize
    from tap_gitlab.transport import Headers, Response

    store = {i: f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}.000Z" for i in range(1, 251)}
    client = GitLabClient(normalize({"api_url": "http://127.0.0.1:9", "private_token": TOKEN}))
    calls = []

    def get_json(url, **_options):
        calls.append(url)
        query = parse_qs(urlsplit(url).query)
        since = query.get("updated_after", [""])[0]
        rows = sorted((v, k) for k, v in store.items() if v >= since)
        page = int(query.get("page", ["1"])[0])
        response = Response(200, Headers({"x-next-page": str(page + 1)} if page * 100 < len(rows) else {}), b"", url)
        if len(calls) == 1:
            for k in range(1, 11):  # ten records of the first page change after it was served
                store[k] = "2024-01-01T01:00:00.000Z"
        return [_issue(k, v) for v, k in rows[(page - 1) * 100 : page * 100]], response

    monkeypatch.setattr(client, "get_json", get_json)
    got = [r["id"] for page in client.pages("/projects/1/issues", {}, UpdatedAtSeekPaginator()) for r in page.records]
    assert set(got) == set(store)  # offset paging would have skipped records 101-110
    assert sorted(got[-10:]) == list(range(1, 11))  # the changed records come again, with their new version
