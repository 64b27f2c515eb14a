"""Commits that lose nothing: revision ranges from the branch heads last read, over a `git log` simulator.

GitLab's `since` is git's `--after` on the committer date (`lib/api/commits.rb` → Gitaly `FindCommits`), so a
bookmark never sees commits a merge brings in with older dates, nor a branch pushed late with old history. The
simulator models each repository as a commit graph (tests/gitlab_sim/gitlog.py): these tests check its
`git log` semantics first, then that the tap extracts every commit after merges, late branches and
force-pushes, and that an unchanged repository costs one request.
"""

from __future__ import annotations

import collections

import pytest
import requests

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.util import DAY, NOW_EPOCH
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-commits-secret"
OLD = NOW_EPOCH - 200 * DAY  # older than any bookmark a first run leaves


def _get(sim, path, **params):
    return requests.get(f"{sim.base_url}/api/v4{path}", headers={"PRIVATE-TOKEN": TOKEN}, params=params, timeout=10)


def _log(sim, pid, **params):
    """Every commit sha of a listing, page by page, as the API lists them."""
    shas: list[str] = []
    page = 1
    while True:
        answer = _get(sim, f"/projects/{pid}/repository/commits", page=page, **params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        shas += [c["id"] for c in body]
        if not answer.headers.get("X-Next-Page"):
            return shas
        page += 1


def _merged_project(dataset: Dataset) -> int:
    """A project whose generated default branch already holds a merge commit."""
    for pid in dataset.live_projects():
        if any(len(c["parent_ids"]) == 2 for c in dataset.data(pid).commits):
            return pid
    raise AssertionError("no generated merge")


@pytest.fixture
def repo():
    dataset = Dataset.generate(size="tiny", seed=3)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        yield sim, dataset


# -- the simulator: git log semantics --------------------------------------------------------------------------


def test_the_default_branch_log_holds_merged_in_history_newest_committer_date_first(repo):
    sim, dataset = repo
    pid = _merged_project(dataset)
    d = dataset.data(pid)
    merge = next(c for c in d.commits if len(c["parent_ids"]) == 2)
    listed = _log(sim, pid, per_page=100)
    assert merge["parent_ids"][1] in listed  # the merged branch's head, reached through the second parent
    seconds = [d.commit_seconds[sha] for sha in listed]
    assert seconds == sorted(seconds, reverse=True)
    assert set(listed) == {c["id"] for c in dataset.expected("commits", projects=[pid])}


def test_a_range_lists_what_its_right_end_reaches_and_its_left_end_does_not(repo):
    sim, dataset = repo
    pid = dataset.live_projects()[0]
    base = dataset.data(pid).commits[3]["id"]
    own = dataset.create_branch(pid, "topic", start=base, count=3)
    assert _log(sim, pid, ref_name="main..topic") == [c["id"] for c in reversed(own)]
    head = dataset.data(pid).commits[0]["id"]
    assert set(_log(sim, pid, ref_name=f"{head}..topic")) == {c["id"] for c in own}
    assert _log(sim, pid, ref_name=f"{own[-1]['id']}..topic") == []
    both = set(_log(sim, pid, ref_name="main...topic"))
    assert both == {c["id"] for c in own} | set(_log(sim, pid, ref_name="topic..main"))


def test_since_filters_on_the_committer_date_and_hides_history_merged_in_with_older_dates(repo):
    sim, dataset = repo
    pid = dataset.live_projects()[0]
    old = dataset.create_branch(
        pid, "old-work", start=dataset.data(pid).commits[-1]["id"], committed_at=[OLD, OLD + 60]
    )
    dataset.advance_clock(60)
    merge = dataset.merge_branch(pid, "old-work")
    since = "2000-01-01T00:00:00Z"
    everything = _log(sim, pid, per_page=100)
    assert {c["id"] for c in old} | {merge["id"]} <= set(everything)
    recent = _log(sim, pid, per_page=100, since=merge["committed_date"])
    assert recent == [merge["id"]]  # the merged commits are older than `since`: git never lists them
    assert _log(sim, pid, per_page=100, since=since) == everything
    until = _log(sim, pid, per_page=100, until=old[-1]["committed_date"])
    assert merge["id"] not in until and old[-1]["id"] in until  # `until` hides newer commits, walks on


def test_first_parent_leaves_out_the_merged_branch(repo):
    sim, dataset = repo
    pid = dataset.live_projects()[0]
    own = dataset.create_branch(pid, "side", start=dataset.data(pid).commits[2]["id"], count=2)
    dataset.merge_branch(pid, "side")
    assert {c["id"] for c in own} <= set(_log(sim, pid, per_page=100))
    assert not {c["id"] for c in own} & set(_log(sim, pid, per_page=100, first_parent="true"))


def test_topo_order_lists_no_parent_before_all_its_children(repo):
    sim, dataset = repo
    pid = _merged_project(dataset)
    d = dataset.data(pid)
    listed = _log(sim, pid, per_page=100, order="topo")
    assert set(listed) == set(_log(sim, pid, per_page=100))
    position = {sha: k for k, sha in enumerate(listed)}
    for sha in listed:
        for parent in d.commit_by_id[sha]["parent_ids"]:
            assert position[parent] > position[sha]
    assert _get(sim, f"/projects/{pid}/repository/commits", order="newest").status_code == 400


def test_all_lists_every_ref_with_each_page_the_newest_slice_oldest_first(repo):
    sim, dataset = repo
    pid = dataset.live_projects()[0]
    d = dataset.data(pid)
    listed = _log(sim, pid, per_page=4, all="true")
    assert len(listed) == len(set(listed)) == len(d.commit_by_id)
    first = _get(sim, f"/projects/{pid}/repository/commits", per_page=4, all="true").json()
    seconds = [d.commit_seconds[c["id"]] for c in first]
    assert seconds == sorted(seconds)  # --reverse within the page
    newest = sorted(d.commit_seconds.values(), reverse=True)[:4]
    assert sorted(seconds, reverse=True) == newest  # ... of the newest commits (--max-count before --reverse)


def test_offset_pages_have_no_totals_and_a_full_last_page_is_followed_by_an_empty_one(repo):
    sim, dataset = repo
    pid = dataset.live_projects()[0]
    whole = _log(sim, pid, per_page=100)
    assert _log(sim, pid, per_page=3) == whole
    answer = _get(sim, f"/projects/{pid}/repository/commits", per_page=len(whole))
    assert "X-Total" not in answer.headers and answer.headers["X-Next-Page"] == "2"
    assert _get(sim, f"/projects/{pid}/repository/commits", per_page=len(whole), page=2).json() == []


def test_a_garbage_collected_head_lists_nothing_in_a_range_and_its_commit_is_not_found(repo):
    sim, dataset = repo
    pid = dataset.live_projects()[0]
    dataset.create_branch(pid, "wip", count=2)
    old = dataset.data(pid).commit_by_id
    old_head = next(b for b in dataset.data(pid).branches if b["name"] == "wip")["commit"]["id"]
    new = dataset.force_push(pid, "wip", back=2, count=1)
    # Rewritten but not yet collected: the old head resolves, the range lists what the rewrite added.
    assert _log(sim, pid, ref_name=f"{old_head}..wip") == [new[0]["id"]]
    assert _get(sim, f"/projects/{pid}/repository/commits/{old_head}").status_code == 200
    newer = dataset.force_push(pid, "wip", back=1, count=1, gc=True)
    assert new[0]["id"] not in old and old_head not in dataset.data(pid).commit_by_id
    # Gitaly's NotFound is rescued into an empty list (`Gitlab::Git::Repository#log`): 200 [].
    assert _log(sim, pid, ref_name=f"{old_head}..wip") == []
    assert _log(sim, pid, ref_name=old_head) == []
    gone = _get(sim, f"/projects/{pid}/repository/commits/{old_head}")
    assert (gone.status_code, gone.json()) == (404, {"message": "404 Commit Not Found"})
    assert _log(sim, pid, ref_name="main..wip") == [newer[0]["id"]]
    assert _get(sim, f"/projects/{pid}/repository/commits", ref_name="main wip").status_code == 400


# -- the tap ----------------------------------------------------------------------------------------------------


def _keys(records):
    return collections.Counter((r["project_id"], r["id"]) for r in records)


def _repository_requests(sim, pid):
    return [e for e in sim.requests if e.path.startswith(f"/api/v4/projects/{pid}/repository/")]


@pytest.fixture
def tap(tmp_path):
    """A small instance, one project read, commits only; `run(state, **settings)` runs the tap."""
    dataset = Dataset.generate(size="small", seed=13)
    pid = _merged_project(dataset)
    path = dataset.projects[pid]["path_with_namespace"]
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        base = sim_config(sim, TOKEN, projects=[path])
        catalog = select(discover(tmp_path, base), ["commits"])
        runs = iter(range(100))

        def run(state=None, **settings):
            sim.clear_requests()
            result = run_tap(tmp_path / f"run{next(runs)}", {**base, **settings}, catalog=catalog, state=state)
            assert result.returncode == 0, result.stderr[-3000:]
            return result

        run.tmp, run.base, run.catalog = tmp_path, base, catalog  # type: ignore[attr-defined]
        yield sim, dataset, pid, run


def _expected(dataset, pid, all_branches=False):
    return collections.Counter(
        (pid, c["id"]) for c in dataset.expected("commits", projects=[pid], all_branches=all_branches)
    )


@pytest.mark.parametrize("all_branches", [False, True])
def test_commits_merged_in_with_dates_older_than_the_bookmark_are_extracted(tap, all_branches):
    _sim, dataset, pid, run = tap
    first = run(commits_all_branches=all_branches)
    assert _keys(first.records["commits"]) == _expected(dataset, pid, all_branches)
    start = dataset.data(pid).commits[-1]["id"]
    old = dataset.create_branch(pid, "old-work", start=start, committed_at=[OLD, OLD + 60, OLD + 120])
    dataset.advance_clock(60)
    merge = dataset.merge_branch(pid, "old-work")
    pushed = dataset.push_commits(pid, "main", 1)
    second = run(first.last_state, commits_all_branches=all_branches)
    got = _keys(second.records["commits"])
    assert set(got) == {(pid, c["id"]) for c in [*old, merge, *pushed]}
    assert max(got.values()) == 1
    assert (
        _keys(first.records["commits"] + second.records["commits"]).keys()
        == _expected(dataset, pid, all_branches).keys()
    )


def test_a_branch_pushed_late_with_old_commits_is_extracted_with_commits_all_branches(tap):
    sim, dataset, pid, run = tap
    first = run(commits_all_branches=True)
    late = dataset.create_branch(
        pid, "late/import", start=dataset.data(pid).commits[5]["id"], committed_at=[OLD, OLD + 1]
    )
    second = run(first.last_state, commits_all_branches=True)
    assert _keys(second.records["commits"]) == collections.Counter((pid, c["id"]) for c in late)
    # Read as a range from the default branch's head: nothing the first run emitted comes again.
    ranges = [e.query.get("ref_name") for e in _repository_requests(sim, pid) if e.path.endswith("/commits")]
    head = dataset.data(pid).commits[0]["id"]
    assert ranges == [f"{head}..{late[-1]['id']}"]


@pytest.mark.parametrize("all_branches", [False, True])
def test_a_force_push_whose_old_head_was_garbage_collected_loses_nothing(tap, all_branches):
    sim, dataset, pid, run = tap
    first = run(commits_all_branches=all_branches)
    dataset.advance_clock(60)
    rewritten = dataset.force_push(pid, "main", back=2, count=2, gc=True)
    dataset.advance_clock(60)
    dataset.merge_branch(
        pid, next(b["name"] for b in dataset.data(pid).branches if not b["default"] and not b["merged"])
    )
    second = run(first.last_state, commits_all_branches=all_branches)
    both = _keys(first.records["commits"] + second.records["commits"])
    assert both.keys() >= _expected(dataset, pid, all_branches).keys()
    assert {(pid, c["id"]) for c in rewritten} <= set(_keys(second.records["commits"]))
    assert max(_keys(second.records["commits"]).values()) == 1
    probes = [e for e in _repository_requests(sim, pid) if "/repository/commits/" in e.path]
    assert [e.status for e in probes] == [404]  # the old head is gone: checked once, then read again


@pytest.mark.parametrize("all_branches", [False, True])
def test_an_unchanged_repository_costs_one_request(tap, all_branches):
    sim, _dataset, pid, run = tap
    first = run(commits_all_branches=all_branches)
    quiet = run(first.last_state, commits_all_branches=all_branches)
    assert quiet.records["commits"] == []
    asked = _repository_requests(sim, pid)
    assert len(asked) == 1, [(e.path, e.query) for e in asked]
    assert asked[0].path.endswith("/repository/branches" if all_branches else "/repository/commits")


@pytest.mark.parametrize("all_branches", [False, True])
def test_the_first_run_reads_the_listing_pages_and_for_every_branch_the_branches_once(tap, all_branches):
    sim, dataset, pid, run = tap
    first = run(commits_all_branches=all_branches)
    pages = len(first.records["commits"]) // 100 + 1  # GitLab sends a next link after any full page
    asked = _repository_requests(sim, pid)
    listings = [e for e in asked if e.path.endswith("/repository/commits")]
    assert len(listings) == pages
    assert len(asked) == pages + (1 if all_branches else 0)
    heads = _heads(first.last_state, pid)
    assert heads["HEAD"] == dataset.data(pid).commits[0]["id"]
    if all_branches:
        assert {name: sha for name, sha in heads.items() if name != "HEAD"} == {
            b["name"]: b["commit"]["id"] for b in dataset.data(pid).branches
        }


def test_a_state_without_heads_reads_the_whole_history_once_then_ranges(tap):
    _sim, dataset, pid, run = tap
    first = run()
    legacy = first.last_state
    for partition in legacy["bookmarks"]["commits"]["partitions"]:
        partition.pop("branch_heads", None)  # a state written before heads were kept
    again = run(legacy)
    assert _keys(again.records["commits"]) == _expected(dataset, pid)
    pushed = dataset.push_commits(pid, "main", 2)
    third = run(again.last_state)
    assert _keys(third.records["commits"]) == collections.Counter((pid, c["id"]) for c in pushed)


def test_a_branch_head_is_stored_only_once_its_commits_are_out(tap):
    sim, dataset, pid, run = tap
    first = run(commits_all_branches=True)
    dataset.advance_clock(60)
    on_main = dataset.push_commits(pid, "main", 2)
    feature = next(b["name"] for b in dataset.data(pid).branches if not b["default"] and not b["merged"])
    on_feature = dataset.push_commits(pid, feature, 2)
    # The default branch's range is read first; every later listing of this project fails until the run stops.
    rule = sim.faults.add("500", path=rf"^/api/v4/projects/{pid}/repository/commits$", after=1)
    sim.clear_requests()
    config = {"commits_all_branches": True}
    stopped = run_tap(run.tmp / "stopped", {**run.base, **config}, catalog=run.catalog, state=first.last_state)
    assert stopped.returncode != 0
    sim.faults.remove(rule)
    assert {c["id"] for c in on_main} <= {r["id"] for r in stopped.records["commits"]}
    heads = _heads(stopped.last_state, pid)
    assert heads["HEAD"] == heads["main"] == on_main[-1]["id"]
    assert heads[feature] == _heads(first.last_state, pid)[feature]  # its commits never came out
    resumed = run(stopped.last_state, **config)
    assert _keys(resumed.records["commits"]) == collections.Counter((pid, c["id"]) for c in on_feature)
    assert _heads(resumed.last_state, pid)[feature] == on_feature[-1]["id"]


def _heads(state, pid):
    partition = next(p for p in state["bookmarks"]["commits"]["partitions"] if p["context"]["project_id"] == pid)
    return partition["branch_heads"]


def test_switching_on_commits_all_branches_reads_only_what_the_other_branches_add(tap):
    _sim, dataset, pid, run = tap
    first = run()
    second = run(first.last_state, commits_all_branches=True)
    emitted = _keys(first.records["commits"] + second.records["commits"])
    assert emitted == _expected(dataset, pid, all_branches=True)  # every commit once over both runs
    back = run(second.last_state)
    assert back.records["commits"] == []
    assert set(_heads(back.last_state, pid)) == set(_heads(second.last_state, pid))  # branch heads kept
