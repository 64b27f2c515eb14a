"""Child pipelines (source `parent_pipeline`): GitLab 17.0+ hides them from `GET /projects/:id/pipelines` unless
`source=parent_pipeline` is asked for (gotcha 17); before 17.0 the default listing includes them too.

The pipeline streams read them in a second partition per project, with a bookmark of its own: a full run
emits every child pipeline, its detail and its jobs; an incremental run catches a child pipeline created
since, and a job added to one; on an older GitLab every pipeline and job comes out once; and with
`include_child_pipelines` off the tap reads what it read before (one partition per project).
"""

from __future__ import annotations

import collections

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-child-pipelines-secret"
STREAMS = ("pipelines", "pipelines_extended", "jobs")
KEYS = {"pipelines": ("id",), "pipelines_extended": ("id",), "jobs": ("id",)}


def _config(sim: GitLabSimulator, **settings: object) -> dict[str, object]:
    return sim_config(sim, TOKEN, **settings)


def _ids(records: list[dict]) -> list[int]:
    return sorted(record["id"] for record in records)


def _assert_once_each_and_all(run, dataset: Dataset) -> None:
    """Every pipeline stream emits exactly the simulator's records, each key once."""
    for name in STREAMS:
        ids = _ids(run.records[name])
        duplicates = [key for key, n in collections.Counter(ids).items() if n > 1]
        assert not duplicates, f"{name}: duplicate keys {duplicates[:5]}"
        assert ids == _ids(dataset.expected(name)), name


def _child_ids(dataset: Dataset) -> tuple[set[int], set[int]]:
    """(child pipeline ids, ids of their jobs) over every project."""
    pipelines: set[int] = set()
    jobs: set[int] = set()
    for pid in dataset.live_projects():
        data = dataset.data(pid)
        pipelines |= set(data.child_pipelines)
        jobs |= {job["id"] for child in data.child_pipelines for job in data.jobs_by_pipeline[child]}
    return pipelines, jobs


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A simulator of its own (the tests change it), the pipeline streams' catalog and a first full run."""
    dataset = Dataset.generate(size="small", seed=5)
    tmp = tmp_path_factory.mktemp("child-pipelines")
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        catalog = select(discover(tmp, config), STREAMS)
        first = run_tap(tmp / "first", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        requests = list(sim.requests)
        yield sim, dataset, config, catalog, first, requests, tmp


def test_a_full_run_emits_child_pipelines_their_detail_and_their_jobs(world):
    _sim, dataset, _config, _catalog, first, requests, _tmp = world
    _assert_once_each_and_all(first, dataset)
    child_pipelines, child_jobs = _child_ids(dataset)
    assert child_pipelines and child_jobs, "the simulator has no child pipelines: the test would prove nothing"
    assert child_pipelines <= set(_ids(first.records["pipelines"]))
    assert child_pipelines <= set(_ids(first.records["pipelines_extended"]))
    assert child_jobs <= set(_ids(first.records["jobs"]))
    assert {r["source"] for r in first.records["pipelines"] if r["id"] in child_pipelines} == {"parent_pipeline"}
    # One more partition per project and stream: its listing asks for the child pipelines.
    listings = [
        entry
        for entry in requests
        if entry.path.endswith("/pipelines") and entry.query.get("source") == "parent_pipeline"
    ]
    assert len({entry.path for entry in listings}) == len(dataset.live_projects())
    partitions = first.last_state["bookmarks"]["pipelines"]["partitions"]
    children = [p for p in partitions if p["context"].get("source") == "parent_pipeline"]
    assert len(children) == len(dataset.live_projects())
    assert all(
        p.get("replication_key_value") for p in children if dataset.data(p["context"]["project_id"]).child_pipelines
    )


def test_an_incremental_run_catches_a_new_child_pipeline_and_a_job_added_to_one(world):
    sim, dataset, config, catalog, first, _requests, tmp = world
    project_id = next(pid for pid in dataset.live_projects() if dataset.data(pid).child_pipelines)
    data = dataset.data(project_id)
    old_child = max(data.child_pipelines)
    parent = next(p["id"] for p in reversed(data.pipelines) if p["source"] != "parent_pipeline")

    dataset.advance_clock(60)
    new_child = dataset.create_pipeline(project_id, parent_id=parent)
    new_job = dataset.add_job(project_id, new_child["id"], name="child-test")
    job_in_old_child = dataset.add_job(project_id, old_child, name="retry")

    sim.clear_requests()
    second = run_tap(tmp / "second", config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    pipelines = set(_ids(second.records["pipelines"]))
    assert {new_child["id"], old_child} <= pipelines
    assert {new_child["id"], old_child} <= set(_ids(second.records["pipelines_extended"]))
    assert {new_job["id"], job_in_old_child["id"]} <= set(_ids(second.records["jobs"]))
    # Only what changed: the two child pipelines (and the ones GitLab lists again at the bookmark).
    unchanged = pipelines - {new_child["id"], old_child}
    assert len(unchanged) <= 2 * len(dataset.live_projects()), sorted(unchanged)
    for name in STREAMS:
        ids = _ids(second.records[name])
        assert len(ids) == len(set(ids)), f"{name}: a record emitted twice"
    # First run plus second run (newest wins) is the instance as it is now.
    for name in STREAMS:
        merged = {r["id"]: r for r in first.records[name]} | {r["id"]: r for r in second.records[name]}
        assert sorted(merged) == _ids(dataset.expected(name)), name


def test_gitlab_before_17_lists_child_pipelines_once(tmp_path):
    """The default listing includes child pipelines there too: the default partition leaves them out."""
    dataset = Dataset.generate(size="small", seed=5)
    dataset.list_child_pipelines(True)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        catalog = select(discover(tmp_path, config), STREAMS)
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        _assert_once_each_and_all(first, dataset)

        project_id = next(pid for pid in dataset.live_projects() if dataset.data(pid).child_pipelines)
        old_child = max(dataset.data(project_id).child_pipelines)
        dataset.advance_clock(60)
        job = dataset.add_job(project_id, old_child, name="retry")
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.last_state)
        assert second.returncode == 0, second.stderr[-3000:]
        for name in STREAMS:
            ids = _ids(second.records[name])
            assert len(ids) == len(set(ids)), f"{name}: a record emitted twice"
        assert old_child in _ids(second.records["pipelines"])
        assert job["id"] in _ids(second.records["jobs"])


def test_with_include_child_pipelines_off_the_tap_reads_one_partition_per_project(tmp_path):
    dataset = Dataset.generate(size="tiny", seed=5)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim, include_child_pipelines=False)
        catalog = select(discover(tmp_path, config), STREAMS)
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-3000:]
        assert not [entry for entry in sim.requests if "source" in entry.query]
        child_pipelines, child_jobs = _child_ids(dataset)
        assert child_pipelines, "the simulator has no child pipelines: the test would prove nothing"
        assert not child_pipelines & set(_ids(run.records["pipelines"]))
        assert not child_jobs & set(_ids(run.records["jobs"]))
        expected = [p["id"] for p in dataset.expected("pipelines") if p["source"] != "parent_pipeline"]
        assert _ids(run.records["pipelines"]) == sorted(expected)
        partitions = run.last_state["bookmarks"]["pipelines"]["partitions"]
        assert [p["context"] for p in partitions] == [{"project_id": pid} for pid in dataset.live_projects()]
