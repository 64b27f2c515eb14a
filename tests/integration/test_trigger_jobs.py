"""Trigger jobs (bridges): the jobs that start child and multi-project pipelines, which no job listing includes.

Opt-in (`fetch_trigger_jobs`), because GitLab lists them only per pipeline. A full run emits every trigger job
once, each tied to the child pipeline it started; an incremental run asks only for the pipelines that changed;
a GitLab that no longer has `/bridges` (deprecated in 19.2 for `/trigger_jobs`) is read through the new name.
"""

from __future__ import annotations

import collections
import re

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-trigger-jobs-secret"
STREAMS = ("pipelines", "trigger_jobs")
BRIDGES = re.compile(r"/projects/(\d+)/pipelines/(\d+)/bridges$")
TRIGGER_JOBS = re.compile(r"/projects/(\d+)/pipelines/(\d+)/trigger_jobs$")


def _config(sim: GitLabSimulator, **settings: object) -> dict[str, object]:
    return sim_config(sim, TOKEN, fetch_trigger_jobs=True, **settings)


def _ids(records: list[dict]) -> list[int]:
    return sorted(record["id"] for record in records)


def _asked(requests, pattern: re.Pattern[str]) -> list[int]:
    """The pipeline ids of the requests whose path matches `pattern`."""
    return [int(match.group(2)) for entry in requests if (match := pattern.search(entry.path))]


def _children(dataset: Dataset) -> dict[int, int]:
    """Child pipeline id -> parent pipeline id, over every project."""
    return {
        child: parent for pid in dataset.live_projects() for child, parent in dataset.data(pid).child_pipelines.items()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    dataset = Dataset.generate(size="small", seed=5)
    tmp = tmp_path_factory.mktemp("trigger-jobs")
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        catalog = select(discover(tmp, config), STREAMS)
        first = run_tap(tmp / "first", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        requests = list(sim.requests)
        yield sim, dataset, config, catalog, first, requests, tmp


def test_a_full_run_emits_every_trigger_job_once_with_the_pipeline_it_started(world):
    _sim, dataset, _config, _catalog, first, requests, _tmp = world
    records = first.records["trigger_jobs"]
    ids = _ids(records)
    assert [key for key, n in collections.Counter(ids).items() if n > 1] == []
    assert ids == _ids(dataset.expected("trigger_jobs"))
    children = _children(dataset)
    assert len(children) >= 10, "the simulator has few child pipelines: the test would prove little"
    # Each child pipeline was started by exactly one trigger job, in its parent.
    started = {record["downstream_pipeline"]["id"]: record for record in records}
    assert len(started) == len(records) and set(started) == set(children)
    for child, record in started.items():
        assert record["pipeline"]["id"] == record["pipeline_id"] == children[child]
        assert record["project_id"] == record["pipeline"]["project_id"]
        assert record["pipeline_updated_at"]
    # One request per pipeline (children included: they may trigger pipelines of their own), and none to
    # the newer name while the older one answers.
    asked = _asked(requests, BRIDGES)
    assert sorted(asked) == sorted(p["id"] for p in dataset.expected("pipelines"))
    assert _asked(requests, TRIGGER_JOBS) == []


def test_an_incremental_run_asks_only_for_changed_pipelines(world):
    sim, dataset, config, catalog, first, _requests, tmp = world
    project_id = next(pid for pid in dataset.live_projects() if dataset.data(pid).child_pipelines)
    data = dataset.data(project_id)
    parent = next(p["id"] for p in reversed(data.pipelines) if p["source"] != "parent_pipeline")
    dataset.advance_clock(60)
    child = dataset.create_pipeline(project_id, parent_id=parent)

    sim.clear_requests()
    second = run_tap(tmp / "second", config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    new = [r for r in second.records["trigger_jobs"] if r["downstream_pipeline"]["id"] == child["id"]]
    assert len(new) == 1 and new[0]["pipeline_id"] == parent
    asked = _asked(sim.requests, BRIDGES)
    # The parent and the new child, plus pipelines GitLab lists again at a bookmark (`updated_after` is >=).
    assert {parent, child["id"]} <= set(asked)
    assert len(asked) <= 2 + 2 * len(dataset.live_projects()), asked
    merged = {r["id"]: r for r in first.records["trigger_jobs"]} | {r["id"]: r for r in second.records["trigger_jobs"]}
    assert sorted(merged) == _ids(dataset.expected("trigger_jobs"))


def test_a_gitlab_without_bridges_is_read_through_trigger_jobs(tmp_path):
    dataset = Dataset.generate(size="small", seed=6)
    dataset.remove_bridges_route()
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        catalog = select(discover(tmp_path, config), STREAMS)
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-3000:]
        expected = _ids(dataset.expected("trigger_jobs"))
        assert len(expected) >= 10, "the simulator has few trigger jobs: the test would prove little"
        assert _ids(run.records["trigger_jobs"]) == expected
        # Only the requests in flight before the first answer tried the old name; each tried the new one too.
        assert 1 <= len(_asked(sim.requests, BRIDGES)) <= config["max_concurrency"]
        assert sorted(_asked(sim.requests, TRIGGER_JOBS)) == sorted(p["id"] for p in dataset.expected("pipelines"))
        assert "trigger_jobs: GitLab has no /projects/:id/pipelines/:id/bridges" in run.stderr


def test_off_by_default(tmp_path):
    dataset = Dataset.generate(size="tiny", seed=5)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        del config["fetch_trigger_jobs"]
        catalog = select(discover(tmp_path, config), STREAMS)
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.records.get("trigger_jobs", []) == []
        assert _asked(sim.requests, BRIDGES) == []
        # Selected, but off: no SCHEMA (no empty table in a target), and one line naming the setting.
        assert "trigger_jobs" not in run.schemas
        assert "trigger_jobs (fetch_trigger_jobs)" in run.stderr
