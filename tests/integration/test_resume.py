"""Crash and resume (issue 7): SIGKILL a full sync anywhere, resume from its last STATE, lose nothing.

The real tap runs as a subprocess (all streams, every opt-in, 8 concurrent requests) against the small
simulated instance. Its stdout is read line by line, as a Singer target reads it, and after a seeded number
of lines the tap is killed with SIGKILL: no handler runs, nothing is flushed, the lines it wrote after that
point are lost. The target's view is what counts: the records among the lines read, and the last STATE
among them. A new run starts from that STATE (from no state if none was read) and, at every fourth point,
is itself killed part-way and resumed once more. The kill points are spread over the whole fault-free run's
output (one seeded point in each of `KILL_POINTS` equal slices).

For every point:

- no loss: the union of the runs' record keys, per stream, is exactly the dataset's (`Dataset.expected`);
- bounded re-reads: a record emitted again after the resume is a duplicate; duplicates per (stream,
  partition) are at most one page (100 records). A record's partition is its `project_id` (project streams)
  or `group_id` (group streams); `groups` and `projects` are one scope partition, `site_users` the instance.

Two more checks pin the mechanisms down: in the fault-free output, sorted streams never leave more than a
page of a partition's records between two STATEs (wherever a crash comes, the last STATE is at most a
page behind); and a project's first jobs read, killed after its first page, resumes with exactly the jobs
not yet emitted, leaving a pipeline changed in between to the next incremental run.

`python -m tests.integration.test_resume` runs every point and rewrites the table in README.md between
`<!-- resume:start -->` and `<!-- resume:end -->`; the tests below run the same points.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tap_gitlab.streams import STREAMS
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.expected import GROUP_STREAMS
from tests.support.readme_blocks import write_block
from tests.support.tap_harness import OUTPUTS, all_opt_ins, discover, register_secrets, select

TOKEN = "glpat-crash-and-resume-secret"
SIZE = "small"
SEED = 7
KILL_SEED = "issue-7/crash-and-resume"
KILL_POINTS = 24
CHAIN_EVERY = 4  # every fourth point also kills the first resumed run
MAX_DUPLICATES_PER_PARTITION = 100  # one page
RUN_TIMEOUT = 180.0
OPT_INS = all_opt_ins()
README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- resume:start -->", "<!-- resume:end -->"

Key = tuple[t.Any, ...]
Partition = tuple[str, t.Any]  # (stream, project id | group id | "scope" | "instance")


# -- one tap process, read as a target reads it -----------------------------------------------------------------


@dataclass
class Segment:
    """What a target read from one tap process: its lines up to the kill (or to the end)."""

    lines: int = 0
    records: list[tuple[str, dict[str, t.Any]]] = field(default_factory=list)
    states_after: list[int] = field(default_factory=list)  # the number of records read before each STATE
    last_state: dict[str, t.Any] | None = None
    killed: bool = False
    returncode: int | None = None
    stderr: str = ""


def run_segment(
    tmp: Path,
    config: dict[str, t.Any],
    catalog: dict[str, t.Any],
    state: dict[str, t.Any] | None,
    kill_after: int | t.Callable[[dict[str, t.Any]], bool] | None,
) -> Segment:
    """Run the tap; SIGKILL it once `kill_after` lines of its stdout have been read, or right after the first
    message for which `kill_after` is true (None: run to the end)."""
    tmp.mkdir(parents=True, exist_ok=True)
    register_secrets(config)
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    command = [
        sys.executable,
        "-m",
        "tap_gitlab",
        "--config",
        str(tmp / "config.json"),
        "--catalog",
        str(tmp / "catalog.json"),
    ]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        command += ["--state", str(tmp / "state.json")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITLAB_")}
    segment = Segment()
    read: list[str] = []
    with (tmp / "stderr.txt").open("w") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        watchdog = threading.Timer(RUN_TIMEOUT, proc.kill)  # a hung tap fails the check instead of the suite
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if isinstance(kill_after, int) and segment.lines >= kill_after:
                    segment.killed = True
                    break
                segment.lines += 1
                read.append(line)
                message = json.loads(line)
                if message.get("type") == "RECORD":
                    segment.records.append((message["stream"], message["record"]))
                elif message.get("type") == "STATE":
                    segment.last_state = message["value"]
                    segment.states_after.append(len(segment.records))
                if callable(kill_after) and kill_after(message):
                    segment.killed = True
                    break
            if segment.killed:
                os.kill(proc.pid, signal.SIGKILL)  # the line just read and all after it are lost
            proc.stdout.close()
            segment.returncode = proc.wait()
        finally:
            watchdog.cancel()
    segment.stderr = (tmp / "stderr.txt").read_text()
    OUTPUTS.append(("".join(read), segment.stderr))  # scanned for the token by tests/support/secrets_guard.py
    return segment


# -- the instance, the catalog and the fault-free run ---------------------------------------------------------------


class World:
    """A running simulator, the full catalog, the expected keys and the fault-free run's length."""

    def __init__(self, sim: GitLabSimulator, tmp: Path) -> None:
        self.sim = sim
        self.tmp = tmp
        dataset = sim.dataset
        self.top_groups = dataset.top_group_paths()
        self.config = {
            "api_url": sim.base_url,
            "private_token": TOKEN,
            "groups": self.top_groups,
            "max_concurrency": 8,
            "requests_per_minute": 100000,
            **OPT_INS,
        }
        self.catalog = select(discover(tmp / "discover", self.config), None)
        self.key_properties: dict[str, list[str]] = {
            entry["tap_stream_id"]: entry["key_properties"] for entry in self.catalog["streams"]
        }
        self.streams = sorted(self.key_properties)
        self.expected = {name: {self.key(name, r) for r in dataset.expected(name)} for name in self.streams}
        baseline = run_segment(tmp / "baseline", self.config, self.catalog, None, None)
        assert baseline.returncode == 0, baseline.stderr[-3000:]
        self.baseline = baseline
        self.baseline_lines = baseline.lines
        self.points = kill_points(self.baseline_lines)

    def key(self, stream: str, record: dict[str, t.Any]) -> Key:
        return tuple(record.get(k) for k in self.key_properties[stream])


def kill_points(total_lines: int, count: int = KILL_POINTS) -> list[tuple[int, int | None]]:
    """(lines read before the kill, lines of the resumed run read before its kill or None), one per slice."""
    rng = random.Random(KILL_SEED)
    width = (total_lines - 1) / count
    points = []
    for index in range(count):
        low = 1 + int(index * width)
        high = max(low + 1, 1 + int((index + 1) * width))
        point = rng.randrange(low, high)
        chained = rng.randrange(1, total_lines - point + 1) if index % CHAIN_EVERY == CHAIN_EVERY - 1 else None
        points.append((point, chained))
    return points


def partition_of(stream: str, record: dict[str, t.Any]) -> t.Any:
    """The partition a record belongs to: its project or group, the scope listing, or the instance."""
    if stream in ("groups", "projects"):
        return "scope"
    if stream == "site_users":
        return "instance"
    return record.get("group_id") if stream in GROUP_STREAMS else record.get("project_id")


# -- one kill point ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one kill point did (a row of the README table)."""

    point: int
    chained: int | None
    runs: int = 0
    before: int = 0  # records read before the (first) kill
    after: int = 0  # records of the resumed run(s)
    duplicates: int = 0
    max_per_partition: int = 0
    worst: Partition | None = None
    lost: int = 0
    unexpected: int = 0
    problems: list[str] = field(default_factory=list)

    def row(self) -> str:
        chained = f" + {self.chained:,}" if self.chained is not None else ""
        worst = f" ({self.worst[0]})" if self.worst and self.max_per_partition else ""
        ok = "" if not self.problems else " ❌ " + "; ".join(self.problems)[:160]
        return (
            f"| {self.point:,}{chained} | {self.runs} | {self.before:,} | {self.after:,} | {self.duplicates:,} "
            f"| {self.max_per_partition}{worst} | {self.lost}{ok} |"
        )


def resume_after_kill(world: World, index: int) -> Outcome:
    """Kill the sync at point `index`, resume (killing the resumed run too at chained points) and compare."""
    point, chained = world.points[index]
    outcome = Outcome(point, chained)
    tmp = world.tmp / f"point-{index:02d}"
    segments = [run_segment(tmp / "run-1", world.config, world.catalog, None, point)]
    later_kills = [chained] if chained is not None else []
    while segments[-1].killed:  # the last run is never killed, so this ends
        resumed = len(segments) - 1
        kill_after = later_kills[resumed] if resumed < len(later_kills) else None
        state = segments[-1].last_state
        segments.append(run_segment(tmp / f"run-{len(segments) + 1}", world.config, world.catalog, state, kill_after))
    outcome.runs = len(segments)
    for number, segment in enumerate(segments, 1):
        if not segment.killed and segment.returncode != 0:
            outcome.problems.append(f"run {number} failed (exit {segment.returncode}): {_last_line(segment.stderr)}")
        if "Traceback" in segment.stderr:
            outcome.problems.append(f"a traceback in run {number}")

    seen: dict[str, collections.Counter[Key]] = {name: collections.Counter() for name in world.streams}
    again: collections.Counter[Partition] = collections.Counter()
    for segment in segments:
        for stream, record in segment.records:
            key = world.key(stream, record)
            if seen[stream][key]:
                again[(stream, partition_of(stream, record))] += 1
            seen[stream][key] += 1
    outcome.before = len(segments[0].records)
    outcome.after = sum(len(segment.records) for segment in segments[1:])
    outcome.duplicates = sum(again.values())
    if again:
        outcome.worst, outcome.max_per_partition = again.most_common(1)[0]
    for name in world.streams:
        missing = world.expected[name] - set(seen[name])
        extra = set(seen[name]) - world.expected[name]
        outcome.lost += len(missing)
        outcome.unexpected += len(extra)
        if missing:
            outcome.problems.append(f"{name}: {len(missing)} records lost, e.g. {sorted(missing, key=str)[:2]}")
        if extra:
            outcome.problems.append(f"{name}: {len(extra)} unexpected records, e.g. {sorted(extra, key=str)[:2]}")
    over = {p: n for p, n in again.items() if n > MAX_DUPLICATES_PER_PARTITION}
    if over:
        outcome.problems.append(f"more than one page of duplicates in {len(over)} partitions, e.g. {sorted(over)[:3]}")
    return outcome


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


# -- the README table -------------------------------------------------------------------------------------------


def table(world: World, outcomes: t.Sequence[Outcome], seconds: float) -> str:
    expected = sum(len(keys) for keys in world.expected.values())
    chained = sum(1 for o in outcomes if o.chained is not None)
    worst = max(outcomes, key=lambda o: o.max_per_partition)
    intro = (
        f"A full sync of the small simulated instance ({expected:,} records in {len(world.streams)} streams, every "
        f"opt-in, 8 concurrent requests; {world.baseline_lines:,} lines of output) is killed with SIGKILL after "
        f"a seeded number of output lines, then resumed from the last STATE read; at {chained} points the "
        "resumed run is killed too (`+ n`) and resumed again. Duplicates are records emitted again after a "
        "resume; a partition is a project or group (at most one page, 100, allowed). Sorted streams resume "
        "within a page and fan-out children within a page of records; full-table streams (members, labels, "
        "branches, users, ...) re-read every partition whole, and unsorted ones (commits, milestones) the "
        "interrupted partition, so their duplicates are bounded by a partition's size."
    )
    lines = [
        START,
        "",
        textwrap.fill(intro, width=110, break_on_hyphens=False),
        "",
        "| kill after lines | runs | records before kill | records after resume | duplicates "
        "| max duplicates per partition | lost |",
        "|---:|---:|---:|---:|---:|---|---:|",
        *[outcome.row() for outcome in outcomes],
        f"| **{len(outcomes)} kill points** | {sum(o.runs for o in outcomes)} "
        f"| {sum(o.before for o in outcomes):,} | {sum(o.after for o in outcomes):,} "
        f"| {sum(o.duplicates for o in outcomes):,} | {worst.max_per_partition} "
        f"| **{sum(o.lost for o in outcomes)}** |",
        "",
        f"Generated in {seconds:.0f} s by `python -m tests.integration.test_resume` (tests/integration/test_resume.py runs the same points).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    write_block(START, END, text, README)


def main() -> int:
    started = time.monotonic()
    outcomes = []
    with (
        tempfile.TemporaryDirectory(prefix="tap-gitlab-resume-") as tmp,
        GitLabSimulator(Dataset.generate(size=SIZE, seed=SEED), token=TOKEN) as sim,
    ):
        world = World(sim, Path(tmp))
        for index in range(len(world.points)):
            outcome = resume_after_kill(world, index)
            print(outcome.row(), flush=True)
            outcomes.append(outcome)
    write_readme(table(world, outcomes, time.monotonic() - started))
    return 1 if any(outcome.problems for outcome in outcomes) else 0


# -- the tests --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[World]:
    with GitLabSimulator(Dataset.generate(size=SIZE, seed=SEED), token=TOKEN) as sim:
        yield World(sim, tmp_path_factory.mktemp("resume"))


def test_kill_points_cover_the_whole_sync() -> None:
    points = kill_points(6000)
    assert len(points) >= 20
    firsts = [point for point, _ in points]
    assert firsts == sorted(set(firsts))
    assert firsts[0] < 6000 / KILL_POINTS and firsts[-1] > 6000 * (KILL_POINTS - 1) / KILL_POINTS
    assert sum(1 for _, chained in points if chained is not None) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("index", range(KILL_POINTS))
def test_sigkill_then_resume_loses_nothing_and_rereads_at_most_a_page_per_partition(world: World, index: int) -> None:
    outcome = resume_after_kill(world, index)
    assert outcome.runs >= 2, "the tap finished before the kill point"
    assert not outcome.problems, outcome.problems
    assert outcome.lost == 0


@pytest.mark.slow
def test_sorted_streams_leave_at_most_a_page_of_records_per_partition_between_states(world: World) -> None:
    """Wherever a crash comes, the last STATE before it is at most one page behind in each partition."""
    sorted_streams = {spec.name for spec in STREAMS if spec.sorted}
    states = iter([*world.baseline.states_after, len(world.baseline.records)])
    next_state = next(states)
    unsaved: collections.Counter[Partition] = collections.Counter()
    worst: dict[Partition, int] = {}
    for index, (stream, record) in enumerate(world.baseline.records):
        while index >= next_state:
            unsaved.clear()
            next_state = next(states)
        if stream in sorted_streams:
            partition = (stream, partition_of(stream, record))
            unsaved[partition] += 1
            worst[partition] = max(worst.get(partition, 0), unsaved[partition])
    assert {name for name, _ in worst} >= {"issues", "issue_notes", "jobs", "merge_request_commits"}
    over = {partition: count for partition, count in worst.items() if count > MAX_DUPLICATES_PER_PARTITION}
    assert not over


def test_readme_has_the_crash_and_resume_table() -> None:
    readme = README.read_text(encoding="utf-8")
    assert START in readme and END in readme, "run `python -m tests.integration.test_resume`"
    block = readme[readme.index(START) : readme.index(END)]
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| kill")]
    points, totals = rows[:-1], rows[-1]
    assert len(points) >= 20 and "kill points" in totals
    assert all(row.rstrip().endswith("| 0 |") for row in points), "a kill point lost records"
    assert "❌" not in block
    assert totals.rstrip().endswith("| **0** |")
    worst = int(totals.split("|")[-3].strip())
    assert worst <= MAX_DUPLICATES_PER_PARTITION


if __name__ == "__main__":
    sys.exit(main())


def _jobs_progress(state: dict[str, t.Any] | None, *, children: bool = False) -> dict[int, dict[str, t.Any]]:
    """project id -> `listing_progress` of the jobs partitions in a Singer state (the default ones, or those
    of child pipelines)."""
    partitions = ((state or {}).get("bookmarks", {}).get("jobs") or {}).get("partitions", [])
    return {
        p["context"]["project_id"]: p["listing_progress"]
        for p in partitions
        if p.get("listing_progress") and ("source" in p["context"]) == children
    }


@pytest.mark.slow
def test_jobs_resume_inside_a_project_and_leave_pipelines_changed_since_to_the_next_run(tmp_path: Path) -> None:
    """Killed inside a project's first jobs read, the resumed run emits only the jobs not yet out; a pipeline
    updated (a job added) before the resume is left to the next incremental run, which reads all its jobs."""
    dataset = Dataset.generate(size=SIZE, seed=SEED)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        top_groups = dataset.top_group_paths()
        config = {"api_url": sim.base_url, "private_token": TOKEN, "groups": top_groups, "max_concurrency": 8}
        catalog = select(discover(tmp_path / "discover", config), ["jobs"])
        # The project with the most jobs (two pages); the tap is killed right after the STATE after the first.
        project_id = max(dataset.live_projects(), key=lambda pid: len(dataset.data(pid).jobs))
        assert len(dataset.data(project_id).jobs) > 100
        data = dataset.data(project_id)
        first_page_read = min(job["id"] for job in data.jobs[:100])
        # The default partition's jobs (child pipelines' jobs are read in a partition of their own).
        jobs = [job for job in data.jobs if job["pipeline"]["id"] not in data.child_pipelines]

        def after_first_page(message: dict[str, t.Any]) -> bool:
            return _jobs_progress(message.get("value")).get(project_id, {}).get("below_id") == first_page_read

        killed = run_segment(tmp_path / "killed", config, catalog, None, after_first_page)
        assert killed.killed
        below_id = _jobs_progress(killed.last_state)[project_id]["below_id"]
        emitted = {record["id"] for _, record in killed.records}
        assert {job["id"] for job in jobs if job["id"] >= below_id} <= emitted
        # Between the runs: one pipeline with jobs still to read gets a new job (which touches the pipeline).
        pending = [job for job in jobs if job["id"] < below_id]
        changed_pipeline = pending[0]["pipeline"]["id"]
        still_due = {job["id"] for job in pending if job["pipeline"]["id"] != changed_pipeline}
        assert still_due
        new_job = dataset.add_job(project_id, changed_pipeline)

        resumed = run_segment(tmp_path / "resumed", config, catalog, killed.last_state, None)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        # Exactly the jobs not yet emitted, but none of the changed pipeline's (its updated_at is past the
        # listing the resume point belongs to).
        resumed_ids = {r["id"] for _, r in resumed.records if r["project_id"] == project_id}
        child_jobs = {job["id"] for job in data.jobs if job["pipeline"]["id"] in data.child_pipelines}
        assert resumed_ids - child_jobs == still_due
        assert not _jobs_progress(resumed.last_state), "the resume point outlived its partition"
        assert not _jobs_progress(resumed.last_state, children=True), "the resume point outlived its partition"

        following = run_segment(tmp_path / "next", config, catalog, resumed.last_state, None)
        assert following.returncode == 0, following.stderr[-2000:]
        assert {r["id"] for _, r in following.records if r["pipeline_id"] == changed_pipeline} == {
            job["id"] for job in data.jobs_by_pipeline[changed_pipeline]
        }
        got = {record["id"] for segment in (killed, resumed, following) for _, record in segment.records}
        assert new_job["id"] in got
        assert got == {job["id"] for job in dataset.expected("jobs")}
        before_and_after_kill = [record["id"] for segment in (killed, resumed) for _, record in segment.records]
        assert len(before_and_after_kill) == len(set(before_and_after_kill)), "a job emitted twice"
