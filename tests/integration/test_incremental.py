"""Every stream end to end, and incremental runs that catch every change without re-reading unchanged children.

One full sync of all streams (opt-ins on) must give exactly the simulator's records with unique keys. Then
the simulator changes records in each incremental stream, adds jobs to an updated pipeline, commits to an
updated merge request, notes to an issue, an approval; the next run, from the first run's last STATE, must
emit every change, and its request log must show that children were read only for parents that changed
(plus, at most, the boundary parent that GitLab's inclusive `updated_after` returns again per partition).
"""

from __future__ import annotations

import collections
import re

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import all_opt_ins, discover, run_tap, select

TOKEN = "glpat-incremental-secret"
OPT_INS = all_opt_ins()
# Child endpoints read per parent, with the parent's key in the path.
CHILD_PATTERNS = {
    "issue_notes": re.compile(r"/projects/(\d+)/issues/(\d+)/notes$"),
    "merge_request_commits": re.compile(r"/projects/(\d+)/merge_requests/(\d+)/commits$"),
    "merge_request_notes": re.compile(r"/projects/(\d+)/merge_requests/(\d+)/notes$"),
    "merge_request_approvals": re.compile(r"/projects/(\d+)/merge_requests/(\d+)/approvals$"),
    "pipelines_extended": re.compile(r"/projects/(\d+)/pipelines/(\d+)$"),
    "jobs": re.compile(r"/projects/(\d+)/pipelines/(\d+)/jobs$"),
    "trigger_jobs": re.compile(r"/projects/(\d+)/pipelines/(\d+)/bridges$"),
    **{
        f"{prefix}_{kind}_events": re.compile(rf"/projects/(\d+)/{path}/(\d+)/resource_{kind}_events$")
        for prefix, path in (("issue", "issues"), ("merge_request", "merge_requests"))
        for kind in ("label", "state", "milestone")
    },
    "epic_issues": re.compile(r"/groups/(\d+)/epics/(\d+)/issues$"),
}


def _keys(records, key_properties):
    return sorted(tuple(str(record.get(k)) for k in key_properties) for record in records)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A simulator of its own (the tests mutate it), the catalog, and the first full run."""
    dataset = Dataset.generate(size="small", seed=11)
    tmp = tmp_path_factory.mktemp("incremental")
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        top_groups = dataset.top_group_paths()
        config = {
            "api_url": sim.base_url,
            "private_token": TOKEN,
            "groups": top_groups,
            "max_concurrency": 8,
            "requests_per_minute": 100000,
            **OPT_INS,
        }
        catalog = select(discover(tmp, config), None)
        first = run_tap(tmp / "first", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        yield sim, dataset, config, catalog, first, tmp


def test_full_sync_of_every_stream_matches_the_simulator(world):
    _sim, dataset, _config, catalog, first, _tmp = world
    names = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert set(first.schemas) == names
    for name in sorted(names):
        key_properties = first.schemas[name]["key_properties"]
        records = first.records[name]
        counts = collections.Counter(tuple(r.get(k) for k in key_properties) for r in records)
        duplicates = [key for key, n in counts.items() if n > 1]
        assert not duplicates, f"{name}: duplicate primary keys {duplicates[:3]}"
        assert all(all(r.get(k) is not None for k in key_properties) for r in records), name
        expected = dataset.expected(name)
        assert expected, f"{name}: the simulator has no records; the test would prove nothing"
        assert _keys(records, key_properties) == _keys(expected, key_properties), name
    # Every record of a project stream carries project_id, of a group stream group_id.
    for name in ("issues", "jobs", "merge_request_commits", "branches", "languages", "issue_notes"):
        assert all(isinstance(r["project_id"], int) for r in first.records[name]), name
    for name in ("group_members", "group_labels", "epics", "epic_issues"):
        assert all(isinstance(r["group_id"], int) for r in first.records[name]), name


def test_incremental_run_catches_every_change_and_skips_unchanged_children(world):
    sim, dataset, config, catalog, first, tmp = world
    issues = first.records["issues"]
    project_id = collections.Counter(r["project_id"] for r in issues).most_common(1)[0][0]
    project_issues = sorted(r["iid"] for r in issues if r["project_id"] == project_id)
    mrs = sorted(r["iid"] for r in first.records["merge_requests"] if r["project_id"] == project_id)
    pipelines = sorted(r["id"] for r in first.records["pipelines"] if r["project_id"] == project_id)
    group_id = first.records["epics"][0]["group_id"]
    epic_iid = first.records["epics"][0]["iid"]
    milestone = first.records["project_milestones"][0]
    group_milestone = first.records["group_milestones"][0]

    dataset.advance_clock(60)
    changed = {
        "issues": {dataset.update_issue(project_id, project_issues[0], title="changed")["id"]},
        "issue_notes": {dataset.add_issue_note(project_id, project_issues[1])["id"]},
        "merge_request_commits": {dataset.add_merge_request_commit(project_id, mrs[0])["id"]},
        "jobs": {dataset.add_job(project_id, pipelines[0])["id"]},
        "deployments": {dataset.create_deployment(project_id)["id"]},
        "project_milestones": {dataset.update_milestone(milestone["id"], title="moved")["id"]},
        "group_milestones": {dataset.update_milestone(group_milestone["id"], title="moved")["id"]},
        "epics": {dataset.update_epic(group_id, epic_iid, title="re-planned")["id"]},
    }
    new_issue = dataset.create_issue(project_id, title="brand new")
    changed["issues"].add(new_issue["id"])
    new_mr = dataset.create_merge_request(project_id, title="new work")
    changed["merge_requests"] = {new_mr["id"], dataset.update_merge_request(project_id, mrs[1], title="x")["id"]}
    dataset.approve_merge_request(project_id, mrs[2])
    new_pipeline = dataset.create_pipeline(project_id)
    changed["pipelines"] = {new_pipeline["id"], dataset.update_pipeline(project_id, pipelines[1])["id"]}
    changed["pipelines_extended"] = set(changed["pipelines"])

    sim.clear_requests()
    second = run_tap(tmp / "second", config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]

    for name, ids in changed.items():
        got = {r["id"] for r in second.records[name]}
        assert ids <= got, f"{name}: changes not emitted: {ids - got}"
    approvals = {(r["project_id"], r["merge_request_iid"]) for r in second.records["merge_request_approvals"]}
    assert (project_id, mrs[2]) in approvals
    assert (project_id, mrs[0]) in {
        (r["project_id"], r["merge_request_iid"]) for r in second.records["merge_request_commits"]
    }

    # Children were read only for changed parents: the parents GitLab lists again at the bookmark (its
    # `updated_after` is inclusive) are known from the state's boundary ids.
    changed_parents = {
        "issue_notes": {
            (project_id, project_issues[0]),
            (project_id, project_issues[1]),
            (project_id, new_issue["iid"]),
        },
        "merge_request_commits": {
            (project_id, mrs[0]),
            (project_id, mrs[1]),
            (project_id, mrs[2]),
            (project_id, new_mr["iid"]),
        },
        "jobs": {(project_id, pipelines[0]), (project_id, pipelines[1]), (project_id, new_pipeline["id"])},
        "epic_issues": {(group_id, epic_iid)},
    }
    changed_parents["merge_request_notes"] = changed_parents["merge_request_approvals"] = changed_parents[
        "merge_request_commits"
    ]
    changed_parents["pipelines_extended"] = changed_parents["trigger_jobs"] = changed_parents["jobs"]
    for kind in ("label", "state", "milestone"):
        changed_parents[f"issue_{kind}_events"] = changed_parents["issue_notes"]
        changed_parents[f"merge_request_{kind}_events"] = changed_parents["merge_request_commits"]
    for name, pattern in CHILD_PATTERNS.items():
        requested = collections.Counter()
        for entry in sim.requests:
            match = pattern.search(entry.path)
            if match:
                requested[(int(match.group(1)), int(match.group(2)))] += 1
        unchanged = [parent for parent in requested if parent not in changed_parents[name]]
        assert not unchanged, f"{name}: children of unchanged parents re-read: {unchanged}"
        assert max(requested.values(), default=0) <= 1, f"{name}: a parent's children read twice"
        assert set(requested) == changed_parents[name] & set(requested)


def test_incremental_run_with_no_changes_is_cheap(world):
    sim, _dataset, config, catalog, first, tmp = world
    baseline = run_tap(tmp / "baseline", config, catalog=catalog, state=first.last_state)
    assert baseline.returncode == 0
    sim.clear_requests()
    quiet = run_tap(tmp / "quiet", config, catalog=catalog, state=baseline.last_state)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert sum(len(records) for name, records in quiet.records.items() if name in CHILD_PATTERNS) == 0
    requests = [entry for entry in sim.requests if entry.path.startswith("/api/v4/")]
    top_groups = [g for g in first.records["groups"] if g.get("parent_id") is None]
    scope_requests = 3 * len(top_groups)  # each group, its descendants, its projects
    partitions = sum(len(state.get("partitions", [])) or 1 for state in quiet.states[-1]["bookmarks"].values())
    # Issue 6's target: at most one request per (stream, partition) beyond resolving the scope.
    children = [e for e in requests if any(p.search(e.path) for p in CHILD_PATTERNS.values())]
    assert not children, f"children of unchanged parents read: {[e.path for e in children][:5]}"
    assert len(requests) <= scope_requests + partitions, (len(requests), scope_requests, partitions)
