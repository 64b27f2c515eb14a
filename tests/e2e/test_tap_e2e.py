"""End to end: the real tap command against the simulator, checked against the simulator's own records."""

from __future__ import annotations

import collections

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import discover, run_tap, select

TOKEN = "glpat-e2e-secret-token"
FIRST_STREAMS = [
    "groups",
    "projects",
    "issues",
    "merge_requests",
    "commits",
    "branches",
    "project_members",
    "group_members",
]


@pytest.fixture(scope="module")
def dataset():
    return Dataset.generate(size="small", seed=7)


@pytest.fixture
def sim(dataset):
    with GitLabSimulator(dataset, token=TOKEN) as server:
        yield server


def _config(sim, **extra):
    top_groups = sim.dataset.top_group_paths()
    return {"api_url": sim.base_url, "private_token": TOKEN, "groups": top_groups, "max_concurrency": 4, **extra}


def _keys(records, key_properties):
    return [tuple(record[k] for k in key_properties) for record in records]


def test_full_sync_emits_every_record_exactly_once(sim, tmp_path):
    config = _config(sim)
    catalog = select(discover(tmp_path, config), FIRST_STREAMS)
    run = run_tap(tmp_path / "full", config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    schemas = run.schemas
    for stream in FIRST_STREAMS:
        records = run.records[stream]
        keys = _keys(records, schemas[stream]["key_properties"])
        duplicates = [k for k, n in collections.Counter(keys).items() if n > 1]
        assert not duplicates, f"{stream}: duplicate keys {duplicates[:5]}"
        expected = list(sim.dataset.expected(stream))
        assert len(records) == len(expected), stream
        expected_keys = _keys(expected, schemas[stream]["key_properties"])
        assert sorted(keys) == sorted(expected_keys), stream
    assert "Summary: completed" in run.stderr


def test_second_run_with_state_fetches_only_updated_issues(sim, tmp_path):
    config = _config(sim)
    catalog = select(discover(tmp_path, config), ["issues"])
    first = run_tap(tmp_path / "first", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    project_id = first.records["issues"][0]["project_id"]
    issue_iids = sorted({r["iid"] for r in first.records["issues"] if r["project_id"] == project_id})[:3]
    for iid in issue_iids:
        sim.dataset.update_issue(project_id, iid, title=f"changed {iid}")
    second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    got = {(r["project_id"], r["iid"]) for r in second.records["issues"]}
    changed = {(project_id, iid) for iid in issue_iids}
    assert changed <= got
    # Inclusive updated_after may re-read the boundary record of each project, nothing more.
    projects = {r["project_id"] for r in first.records["issues"]}
    assert len(got - changed) <= len(projects)


def test_api_url_with_sub_path_works(dataset, tmp_path):
    with GitLabSimulator(dataset, token=TOKEN, path_prefix="/gitlab") as sim:
        assert sim.base_url.endswith("/gitlab")
        config = _config(sim)
        catalog = select(discover(tmp_path, config), ["issues", "projects"])
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-3000:]
        assert len(run.records["issues"]) == len(list(sim.dataset.expected("issues")))


def test_token_never_appears_in_output(sim, tmp_path):
    config = _config(sim)
    catalog = select(discover(tmp_path, config), FIRST_STREAMS)
    run = run_tap(tmp_path / "run", config, catalog=catalog)
    assert TOKEN not in run.stdout
    assert TOKEN not in run.stderr
