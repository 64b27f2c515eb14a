"""Deletions: what GitLab stops listing disappears downstream, and nothing else does.

Singer: a full-table stream ends with ACTIVATE_VERSION (after its last record, with the run's version on
every record) only when every partition was read in full. The warehouse below applies the messages as
MeltanoLabs target-postgres does (upsert by key, keeping the record's version in `_sdc_table_version`; on
ACTIVATE_VERSION delete the rows whose version is older or null, table-wide).

Flow: a full-refresh binding keeps the keys it captured in its state and, when the tap read the stream in
full, emits `{<key>, "_meta": {"op": "d"}}` for each key the sweep did not capture again.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.flow_harness import check_session, reduce_state, run_connector
from tests.support.tap_harness import TapRun, discover, run_tap, select, sim_config

TOKEN = "glpat-deletions-secret-4242"
FULL_TABLE = ["branches", "project_members", "project_labels", "group_members", "group_labels"]
STREAMS = [*FULL_TABLE, "issues"]

Warehouse = dict[str, dict[tuple[t.Any, ...], tuple[int | None, dict[str, t.Any]]]]


def load(warehouse: Warehouse, run: TapRun) -> Warehouse:
    """Apply a run's messages the way target-postgres does (hard delete)."""
    keys: dict[str, list[str]] = {}
    for message in run.messages:
        kind, stream = message["type"], message.get("stream")
        if kind == "SCHEMA":
            keys[stream] = message["key_properties"]
            warehouse.setdefault(stream, {})
        elif kind == "RECORD":
            record = message["record"]
            warehouse[stream][tuple(record[k] for k in keys[stream])] = (message.get("version"), record)
        elif kind == "ACTIVATE_VERSION":
            table = warehouse[stream]
            for key in [k for k, (version, _) in table.items() if version is None or version < message["version"]]:
                del table[key]
    return warehouse


def keys_of(ds: Dataset, stream: str, key_properties: list[str]) -> set[tuple[t.Any, ...]]:
    return {tuple(record[k] for k in key_properties) for record in ds.expected(stream)}


def activations(run: TapRun) -> dict[str, int]:
    return {m["stream"]: m["version"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ds = Dataset.generate(size="tiny", seed=5)
    tmp = tmp_path_factory.mktemp("deletions")
    with GitLabSimulator(ds, token=TOKEN) as sim:
        config = sim_config(sim, TOKEN, groups=ds.top_group_paths())
        catalog = select(discover(tmp, config), STREAMS)
        yield ds, sim, config, catalog, tmp


def _victims(ds: Dataset) -> dict[str, t.Any]:
    """One branch, member and label of the first project, and one member and label of the first group."""
    project = ds.expected("projects")[0]["id"]
    group = ds.expected("groups")[0]["id"]
    branch = next(b for b in ds.expected("branches") if b["project_id"] == project and not b["default"])
    member = next(m for m in ds.expected("project_members") if m["project_id"] == project)
    label = next(lab for lab in ds.expected("project_labels") if lab["project_id"] == project)
    group_member = next(m for m in ds.expected("group_members") if m["group_id"] == group)
    group_label = next(lab for lab in ds.expected("group_labels") if lab["group_id"] == group)
    return {
        "branches": (project, branch["name"]),
        "project_members": (project, member["id"]),
        "project_labels": (project, label["id"]),
        "group_members": (group, group_member["id"]),
        "group_labels": (group, group_label["id"]),
    }


def _delete(ds: Dataset, victims: dict[str, t.Any]) -> None:
    ds.delete_branch(*victims["branches"])
    ds.remove_project_member(*victims["project_members"])
    ds.delete_project_label(*victims["project_labels"])
    ds.remove_group_member(*victims["group_members"])
    ds.delete_group_label(*victims["group_labels"])


def test_full_table_streams_end_with_activate_version_after_their_last_record(world):
    _ds, _sim, config, catalog, tmp = world
    run = run_tap(tmp / "order", config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    versions = activations(run)
    assert set(versions) == set(FULL_TABLE)  # not the incremental issues
    for stream in FULL_TABLE:
        positions = [i for i, m in enumerate(run.messages) if m.get("stream") == stream and m["type"] == "RECORD"]
        (activate,) = [
            i for i, m in enumerate(run.messages) if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
        ]
        assert positions and activate > max(positions), stream
        assert {run.messages[i]["version"] for i in positions} == {versions[stream]}
    assert all("version" not in m for m in run.messages if m.get("stream") == "issues" and m["type"] == "RECORD")


def test_a_deleted_branch_member_and_label_disappear_from_the_warehouse(world):
    ds, _sim, config, catalog, tmp = world
    first = run_tap(tmp / "first", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    warehouse = load({}, first)
    victims = _victims(ds)
    for stream, key in victims.items():
        assert key in warehouse[stream]
    _delete(ds, victims)

    second = run_tap(tmp / "second", config, catalog=catalog)
    assert second.returncode == 0, second.stderr[-2000:]
    assert min(activations(second).values()) > max(activations(first).values())
    load(warehouse, second)
    keys = {m["stream"]: m["key_properties"] for m in second.messages if m["type"] == "SCHEMA"}
    for stream in FULL_TABLE:
        assert set(warehouse[stream]) == keys_of(ds, stream, keys[stream]), stream
        assert victims[stream] not in warehouse[stream], stream
    # Incremental rows are never removed by a full-table stream's ACTIVATE_VERSION.
    assert len(warehouse["issues"]) == len(ds.expected("issues"))


def test_a_skipped_partition_deletes_nothing_of_its_stream(world):
    ds, sim, config, catalog, tmp = world
    before = load({}, run_tap(tmp / "before-skip", config, catalog=catalog))
    projects = [p["id"] for p in ds.expected("projects")]
    refused, other = projects[0], projects[1]
    gone = next(b["name"] for b in ds.expected("branches") if b["project_id"] == other and not b["default"])
    ds.delete_branch(other, gone)
    rule = sim.faults.add("403", path=rf"^/api/v4/projects/{refused}/repository/branches")
    try:
        run = run_tap(tmp / "skip", config, catalog=catalog)
    finally:
        sim.faults.remove(rule)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "branches" not in activations(run)
    assert "project_members" in activations(run)  # the other streams still signal theirs
    assert "branches: no deletions signalled this run" in run.stderr
    after = load(before, run)
    # The refused project's branches stay, and so does the branch deleted elsewhere, until a complete run.
    assert {k for k in before["branches"] if k[0] == refused} <= set(after["branches"])
    assert (other, gone) in after["branches"]
    complete = load(after, run_tap(tmp / "complete", config, catalog=catalog))
    assert (other, gone) not in complete["branches"]
    assert any(k[0] == refused for k in complete["branches"])


def _full_table(catalog: dict[str, t.Any], streams: set[str]) -> dict[str, t.Any]:
    """`catalog` with `streams` read as FULL_TABLE (what Meltano's `metadata: {stream: {replication-method:
    FULL_TABLE}}` writes)."""
    catalog = json.loads(json.dumps(catalog))
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] in streams:
            entry["replication_method"] = "FULL_TABLE"
            for meta in entry["metadata"]:
                if meta["breadcrumb"] == []:
                    meta["metadata"]["forced-replication-method"] = "FULL_TABLE"
    return catalog


def test_a_deleted_issue_stays_through_incremental_runs_and_goes_with_a_full_table_read(tmp_path):
    ds = Dataset.generate(size="tiny", seed=8)
    with GitLabSimulator(ds, token=TOKEN) as sim:
        config = sim_config(sim, TOKEN, groups=ds.top_group_paths())
        catalog = select(discover(tmp_path, config), ["issues", "issue_notes"])
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-2000:]
        warehouse = load({}, first)
        issue = next(
            i for i in ds.expected("issues") if any(n["noteable_id"] == i["id"] for n in ds.expected("issue_notes"))
        )
        ds.delete_issue(issue["project_id"], issue["iid"])
        # GitLab records no event for a deleted issue; incremental runs cannot see that it is gone.
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.last_state)
        assert activations(second) == {}
        load(warehouse, second)
        assert (issue["id"],) in warehouse["issues"]
        # Read as full table (even with the incremental state still passed), the issue and its notes go.
        full = run_tap(
            tmp_path / "full", config, catalog=_full_table(catalog, {"issues", "issue_notes"}), state=second.last_state
        )
        assert full.returncode == 0, full.stderr[-2000:]
        assert set(activations(full)) == {"issues", "issue_notes"}
        load(warehouse, full)
        assert set(warehouse["issues"]) == {(i["id"],) for i in ds.expected("issues")}
        assert (issue["id"],) not in warehouse["issues"]
        notes = {record["noteable_id"] for _, record in warehouse["issue_notes"].values()}
        assert issue["id"] not in notes
        assert len(warehouse["issue_notes"]) == len(ds.expected("issue_notes"))


def test_deletions_can_be_turned_off(world):
    _ds, _sim, config, catalog, tmp = world
    run = run_tap(tmp / "off", {**config, "emit_activate_version_messages": False}, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert activations(run) == {}
    assert all("version" not in m for m in run.messages if m["type"] == "RECORD")


# -- Flow ------------------------------------------------------------------------------------------------

FLOW_STREAMS = ["branches", "project_members", "project_labels"]


def _flow_open(config: dict[str, t.Any], state: dict[str, t.Any]) -> dict[str, t.Any]:
    bindings = [
        {
            "resourceConfig": {"stream": s, "syncMode": "full_refresh"},
            "resourcePath": [s],
            "stateKey": s,
            "collection": {"name": f"acmeCo/gitlab/{s}", "key": ["/project_id"], "writeSchema": {"type": "object"}},
        }
        for s in FLOW_STREAMS
    ]
    capture = {"name": "acmeCo/gitlab", "connectorType": "IMAGE", "config": config, "bindings": bindings}
    return {"open": {"capture": capture, "version": "v1", "range": {"keyEnd": 4294967295}, "state": state}}


def _session(sim: GitLabSimulator, ds: Dataset, state: dict[str, t.Any]):
    config = {
        "credentials": {"auth_type": "access_token", "access_token": TOKEN},
        "api_url": sim.base_url,
        "groups": " ".join(ds.top_group_paths()),
        "max_concurrency": 4,
    }
    run = run_connector(_flow_open(config, state))
    assert run.returncode == 0, run.stderr[-3000:]
    check_session(run)
    assert TOKEN not in run.stdout and TOKEN not in run.stderr
    return run, reduce_state(state, run)


def _tombstones(run) -> dict[str, list[dict[str, t.Any]]]:
    result: dict[str, list[dict[str, t.Any]]] = {s: [] for s in FLOW_STREAMS}
    for captured in run.of("captured"):
        doc = captured["doc"]
        if doc.get("_meta", {}).get("op") == "d":
            result[FLOW_STREAMS[captured["binding"]]].append(doc)
    return result


def test_flow_full_refresh_bindings_delete_what_gitlab_no_longer_lists():
    ds = Dataset.generate(size="tiny", seed=6)
    with GitLabSimulator(ds, token=TOKEN) as sim:
        first, state = _session(sim, ds, {})
        assert _tombstones(first) == {s: [] for s in FLOW_STREAMS}
        project = ds.expected("projects")[0]["id"]
        branch = next(b["name"] for b in ds.expected("branches") if b["project_id"] == project and not b["default"])
        member = next(m["id"] for m in ds.expected("project_members") if m["project_id"] == project)
        label = next(lab["id"] for lab in ds.expected("project_labels") if lab["project_id"] == project)
        ds.delete_branch(project, branch)
        ds.remove_project_member(project, member)
        ds.delete_project_label(project, label)

        second, state = _session(sim, ds, state)
        assert _tombstones(second) == {
            "branches": [{"project_id": project, "name": branch, "_meta": {"op": "d"}}],
            "project_members": [{"project_id": project, "id": member, "_meta": {"op": "d"}}],
            "project_labels": [{"project_id": project, "id": label, "_meta": {"op": "d"}}],
        }
        # The state keeps exactly the keys GitLab lists now, so the next sweep deletes nothing more.
        kept = {tuple(json.loads(k)) for k in state["bindingStateV1"]["branches"]["keys"]}
        assert kept == {(b["project_id"], b["name"]) for b in ds.expected("branches")}
        third, state = _session(sim, ds, state)
        assert _tombstones(third) == {s: [] for s in FLOW_STREAMS}

        # A sweep that skips one project's branches (403) deletes no branch at all, not even elsewhere.
        projects = [p["id"] for p in ds.expected("projects")]
        other = next(b for b in ds.expected("branches") if b["project_id"] == projects[1] and not b["default"])
        ds.delete_branch(projects[1], other["name"])
        rule = sim.faults.add("403", path=rf"^/api/v4/projects/{projects[0]}/repository/branches")
        try:
            skipped, state = _session(sim, ds, state)
        finally:
            sim.faults.remove(rule)
        assert _tombstones(skipped)["branches"] == []
        refused = [k for k in state["bindingStateV1"]["branches"]["keys"] if json.loads(k)[0] == projects[0]]
        assert refused  # the refused project's documents are still known, so not lost for later sweeps
        complete, state = _session(sim, ds, state)
        assert _tombstones(complete)["branches"] == [
            {"project_id": projects[1], "name": other["name"], "_meta": {"op": "d"}}
        ]
        done = [line for line in complete.logs if line["msg"].startswith("capture: done")]
        assert done and done[0]["fields"]["deletions"] == {"branches": 1}
