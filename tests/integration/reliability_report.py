"""Fault scenarios of issue 7 ("Faults") against the simulator, and the README table they produce.

Each scenario runs the real tap (a subprocess) on the small dataset, all streams selected (opt-ins on),
with faults injected at seeded points spread over the whole sync (several per run) and 4-8 concurrent
requests. The outcome must be one of the two DESIGN.md allows:

- completed: exit 0 and exactly the fault-free records: the same keys as `Dataset.expected` with no
  duplicates, the same records (content) as a fault-free run, and the same final STATE as that run;
- stopped: a non-zero exit, ONE clear last line on stderr (`tap-gitlab: error: ...`, no traceback) and a
  final STATE; a re-run from that STATE (faults gone) completes, the union of both runs' records is exactly
  the fault-free set, and the re-run ends with the fault-free run's final STATE.

403/404 on some endpoints of one project skip those partitions with a warning counted in the summary (and
only those records are missing); a project deleted mid-sync is skipped from then on (its records are left
out of the comparison: those read before the deletion are genuine); a project configured by its old path is
followed through GitLab's 301, and another configured project renamed mid-sync changes nothing (ids).

`python -m tests.integration.reliability_report` reruns every scenario and rewrites the table in README.md between
`<!-- faults:start -->` and `<!-- faults:end -->`; tests/integration/test_faults.py runs the same scenarios as tests.
"""

from __future__ import annotations

import collections
import json
import random
import re
import sys
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.readme_blocks import write_block
from tests.support.tap_harness import TapRun, all_opt_ins, discover, run_tap, select

TOKEN = "glpat-reliability-secret-token"
SEED = 7
BASE_SEED = 20240607
README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- faults:start -->", "<!-- faults:end -->"
ERROR_PREFIX = "tap-gitlab: error: "
SUMMARY = re.compile(r"Summary: (completed|FAILED) in [\d.]+ s: (\d+) records, (\d+) requests, (\d+) retries")
SKIPPED = re.compile(r"Summary: skipped (\S+) for (.+?): ")

OPT_INS = all_opt_ins()

Key = tuple[t.Any, ...]
Keys = dict[str, collections.Counter[Key]]  # stream -> record keys (with multiplicity)
Content = dict[str, collections.Counter[str]]  # stream -> records as canonical JSON (with multiplicity)
Bookmarks = dict[tuple[str, str], dict[str, t.Any]]  # (stream, partition context) -> its state


@dataclass
class Scenario:
    """One row of the table."""

    label: str
    kind: str | None = None  # fault kind of the simulator
    injections: int = 5  # spread over the run
    path: str = r"^/api/v4/"  # requests the fault may hit
    options: dict[str, t.Any] = field(default_factory=dict)
    # "project_403", "project_404", "deleted", "renamed"; "stuck" (one group's issue listing fails on every
    # request: with 429 the run stops, with 500 it completes from the projects' own listings) and "outage"
    # (every request fails from a seeded point on, expected to stop).
    special: str | None = None
    request_timeout: float | None = None
    expect: str = "completed"  # or "stopped"

    @property
    def slug(self) -> str:
        """The label as a test id."""
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")


SCENARIOS: list[Scenario] = [
    Scenario("429 with `Retry-After`", "429_retry_after", options={"retry_after": 1}),
    Scenario("429 with only `RateLimit-Reset`", "429_reset_only", options={"retry_after": 1}),
    Scenario("429 plain-text `Retry later`", "429_plain"),
    Scenario("500", "500"),
    Scenario("502", "502"),
    Scenario("503", "503"),
    Scenario("504", "504"),
    Scenario("connection reset", "reset"),
    Scenario("read timeout", "timeout", injections=4, options={"delay_s": 2}, request_timeout=1),
    Scenario("truncated body", "truncated", options={"mode": "short"}),
    Scenario("invalid JSON (200)", "truncated", options={"mode": "invalid_json"}),
    Scenario("HTML error page from a proxy", "html"),
    Scenario("403 on one project", special="project_403"),
    Scenario("404 on one project", special="project_404"),
    Scenario("project deleted mid-sync", special="deleted"),
    Scenario("renamed project (301), configured by old path", special="renamed"),
    # Faults that do not go away: the run must stop cleanly and resume without loss.
    # A group listing answering 500 to every request looks like a statement timeout (lib/api/issues.rb has no
    # handler): the tap narrows, then reads the rest from the group's projects, and completes.
    Scenario("500 on every retry of one group listing (read from its projects)", "500", special="stuck"),
    Scenario(
        "429 on every retry of one listing",
        "429_retry_after",
        special="stuck",
        options={"retry_after": 1},
        expect="stopped",
    ),
    Scenario("500 on every request from a seeded point on (outage)", "500", special="outage", expect="stopped"),
]


@dataclass
class Outcome:
    """What one scenario did."""

    label: str
    outcome: str = ""
    injected: int = 0
    distinct: int = 0  # distinct records emitted (keys), as compared
    expected: int = 0
    again: int = 0  # records emitted more than once (only a re-run may read some again)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    last_line: str = ""

    def row(self) -> str:
        ok = "✅" if not self.problems else "❌ " + "; ".join(self.problems)[:160]
        return (
            f"| {self.label} | {self.injected} | {self.outcome} {ok} | {self.distinct:,} / {self.expected:,} "
            f"| {self.again:,} | {self.requests:,} | {self.retries} | {self.seconds:.1f} |"
        )


class World:
    """The catalog and the fault-free baseline run, computed once (per xdist worker)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        dataset = Dataset.generate(size="small", seed=SEED)
        with GitLabSimulator(dataset, token=TOKEN) as sim:
            self.top_groups = dataset.top_group_paths()
            self.catalog = select(discover(tmp / "discover", self.config(sim)), None)
            self.key_properties = {entry["tap_stream_id"]: entry["key_properties"] for entry in self.catalog["streams"]}
            self.streams = sorted(self.key_properties)
            # The simulator builds a project's data when first asked; until then the project's
            # open_issues_count reads 0. Build everything first, as each scenario does (`expected`), so
            # that the projects' records compare equal.
            expected = self.expected(dataset)
            baseline = run_tap(tmp / "baseline", self.config(sim), catalog=self.catalog)
            assert baseline.returncode == 0, baseline.stderr[-3000:]
            self.baseline_paths = [entry.path for entry in sim.requests]
            problems: list[str] = []
            _compare(self.keys(baseline.records), expected, problems)
            # Every scenario is measured against this run: it must itself be right.
            assert not problems, f"the fault-free run differs from Dataset.expected: {problems}"
        self.baseline = baseline
        self.baseline_requests = len(self.baseline_paths)
        self.content = content(baseline)
        self.bookmarks = bookmarks(baseline.last_state)
        self.skipped = skipped_partitions(baseline)

    def config(self, sim: GitLabSimulator, **extra: t.Any) -> dict[str, t.Any]:
        return {
            "api_url": sim.base_url,
            "private_token": TOKEN,
            "groups": self.top_groups,
            "max_concurrency": 4,
            "requests_per_minute": 100000,
            **OPT_INS,
            **extra,
        }

    def key(self, stream: str, record: t.Mapping[str, t.Any]) -> Key:
        return tuple(record.get(k) for k in self.key_properties[stream])

    def keys(self, records: t.Mapping[str, list[dict[str, t.Any]]]) -> Keys:
        return {name: collections.Counter(self.key(name, r) for r in records.get(name, [])) for name in self.streams}

    def expected(self, dataset: Dataset, **scope: t.Any) -> Keys:
        return self.keys({name: dataset.expected(name, **scope) for name in self.streams})

    def requests_below(self, prefix: str) -> int:
        """How many requests of the fault-free run went to paths starting with `prefix`."""
        return sum(1 for path in self.baseline_paths if path.startswith(prefix))


def content(*runs: TapRun) -> Content:
    """Every record of `runs` as canonical JSON, per stream."""
    result: Content = collections.defaultdict(collections.Counter)
    for run in runs:
        for name, records in run.records.items():
            result[name].update(json.dumps(record, sort_keys=True) for record in records)
    return result


def bookmarks(state: t.Mapping[str, t.Any]) -> Bookmarks:
    """A Singer state as {(stream, partition context): partition state} (list order made irrelevant)."""
    result: Bookmarks = {}
    for name, stream_state in (state.get("bookmarks") or {}).items():
        for entry in [stream_state, *stream_state.get("partitions", [])]:
            context = json.dumps(entry.get("context"), sort_keys=True)
            value = {k: v for k, v in entry.items() if k not in ("context", "partitions")}
            if isinstance(value.get("boundary_ids"), list):
                value["boundary_ids"] = sorted(value["boundary_ids"])
            result[(name, context)] = value
    return result


def skipped_partitions(run: TapRun) -> set[tuple[str, str]]:
    """(stream, partition) of every 'Summary: skipped' line of a run."""
    return {(m.group(1), m.group(2)) for m in SKIPPED.finditer(run.stderr)}


def _retries(run: TapRun) -> tuple[int, int]:
    """(requests, retries) from the tap's summary line."""
    match = SUMMARY.search(run.stderr)
    return (int(match.group(3)), int(match.group(4))) if match else (0, 0)


def _compare(got: Keys, want: Keys, problems: list[str]) -> None:
    """Report keys lost or unexpected (multiplicity is checked separately)."""
    for name in sorted(want):
        missing = set(want[name]) - set(got.get(name, {}))
        extra = set(got.get(name, {})) - set(want[name])
        if missing:
            problems.append(f"{name}: {len(missing)} records lost, e.g. {sorted(missing)[:2]}")
        if extra:
            problems.append(f"{name}: {len(extra)} unexpected records, e.g. {sorted(extra)[:2]}")


def _check_duplicates(got: Keys, problems: list[str]) -> None:
    for name in sorted(got):
        duplicates = [k for k, n in got[name].items() if n > 1]
        if duplicates:
            problems.append(f"{name}: {len(duplicates)} records emitted twice, e.g. {duplicates[:2]}")


def _check_content(got: Content, want: Content, problems: list[str], *, exact: bool) -> None:
    """Records equal to the fault-free run's: the same multiset (`exact`), else the same set."""
    for name in sorted(set(want) | set(got)):
        mine, theirs = got.get(name, collections.Counter()), want.get(name, collections.Counter())
        differ = set(mine) ^ set(theirs)
        if differ:
            problems.append(f"{name}: {len(differ)} records differ from the fault-free run's")
        elif exact and mine != theirs:
            problems.append(f"{name}: record counts differ from the fault-free run's")


def _check_bookmarks(got: Bookmarks, want: Bookmarks, problems: list[str]) -> None:
    differ = sorted(key for key in set(got) | set(want) if got.get(key) != want.get(key))
    if differ:
        stream, context = differ[0]
        problems.append(
            f"final STATE differs from the fault-free run's in {len(differ)} partitions, e.g. {stream} {context}: "
            f"{got.get(differ[0])} instead of {want.get(differ[0])}"
        )


def _check_stop(run: TapRun, problems: list[str]) -> None:
    """A failed run: non-zero exit, one clear last line, no traceback, a final STATE."""
    if run.returncode == 0:
        problems.append("exit code 0 on a failed run")
    if not run.last_stderr_line.startswith(ERROR_PREFIX):
        problems.append(f"last stderr line is not one clear error: {run.last_stderr_line[:160]!r}")
    errors = [line for line in run.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    if len(errors) > 1:
        problems.append(f"{len(errors)} error lines instead of one")
    if not run.messages or run.messages[-1].get("type") != "STATE":
        problems.append("the failed run did not end its output with a STATE")


def _spread(scenario: Scenario, total: int, rng: random.Random) -> dict[str, t.Any]:
    """Fire `injections` times, every `stride` matching requests, from a seeded offset: spread over the run."""
    stride = max(6, total // (scenario.injections + 1))
    return {
        "path": scenario.path,
        "after": rng.randrange(5, stride),
        "every": stride,
        "times": scenario.injections,
        **scenario.options,
    }


class Trigger(threading.Thread):
    """Runs `action` (a change to the instance) once the simulator has served `count` requests below `prefix`."""

    def __init__(self, sim: GitLabSimulator, count: int, action: t.Callable[[], t.Any], prefix: str = "") -> None:
        super().__init__(daemon=True)
        self.sim, self.count, self.action, self.prefix = sim, count, action, prefix
        self.fired = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        seen = index = 0
        while not self.stop.is_set():
            requests = self.sim.requests
            seen += sum(1 for entry in requests[index:] if entry.path.startswith(self.prefix))
            index = len(requests)
            if seen >= self.count:
                self.action()
                self.fired.set()
                return
            time.sleep(0.005)


def run_scenario(world: World, scenario: Scenario, tmp: Path) -> Outcome:
    """Run one scenario; `Outcome.problems` lists every way the outcome falls short of the requirement."""
    rng = random.Random(f"{BASE_SEED}/{scenario.label}")
    outcome = Outcome(scenario.label)
    problems = outcome.problems
    dataset = Dataset.generate(size="small", seed=SEED)
    started = time.monotonic()
    concurrency = rng.choice([4, 6, 8])
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        extra: dict[str, t.Any] = {"max_concurrency": concurrency}
        if scenario.request_timeout:
            extra["request_timeout"] = scenario.request_timeout
        config = world.config(sim, **extra)
        want = world.expected(dataset)
        left_out: dict[str, set[Key]] = {}  # records not compared (a deleted project's) or not expected
        # The fault-free run's records and STATE apply when the instance and the scope are the same.
        same_instance = True
        trigger: Trigger | None = None
        warn_about: int | None = None  # the project whose partitions must be reported skipped
        prefix = ""  # the paths of the project changed mid-sync

        if scenario.special in ("project_403", "project_404"):
            pid = rng.choice(sorted(dataset.live_projects()))
            warn_about = pid
            if scenario.special == "project_403":
                # Listings (their partitions are skipped) and the approvals of each merge request (read for
                # each parent of a group-level listing: those children are skipped, the rest go on).
                paths = r"(pipelines|deployments|releases|repository/tags|merge_requests/\d+/approvals)"
                streams = (
                    "pipelines",
                    "pipelines_extended",
                    "jobs",
                    "trigger_jobs",
                    "deployments",
                    "releases",
                    "tags",
                    "merge_request_approvals",
                )
            else:
                paths = r"(repository/branches|repository/commits|environments|labels|members)"
                streams = ("branches", "commits", "environments", "project_labels", "project_members")
            sim.faults.add(scenario.special[-3:], path=rf"^/api/v4/projects/{pid}/{paths}$")
            left_out = {name: keys for name, keys in _project_keys(world, dataset, pid).items() if name in streams}
        elif scenario.special == "deleted":
            pid = rng.choice(sorted(dataset.live_projects())[len(dataset.live_projects()) // 2 :])
            warn_about = pid
            left_out = _project_keys(world, dataset, pid)
            prefix = f"/api/v4/projects/{pid}/"
            at = rng.randrange(3, max(4, world.requests_below(prefix) // 2))
            trigger = Trigger(sim, at, lambda: dataset.delete_project(pid), prefix)
            same_instance = False
        elif scenario.special == "renamed":
            projects = sorted(dataset.live_projects())
            chosen = rng.sample(projects, 3)
            old_paths = [dataset.projects[pid]["path_with_namespace"] for pid in chosen]
            dataset.rename_project(chosen[0], dataset.projects[chosen[0]]["path"] + "-renamed")
            config = {**config, "groups": [], "projects": old_paths}
            want = world.expected(dataset, projects=chosen)
            # A second configured project is renamed while the tap reads it (it keys on ids: nothing changes).
            prefix = f"/api/v4/projects/{chosen[1]}/"
            at = rng.randrange(3, max(4, world.requests_below(prefix) // 2))
            trigger = Trigger(sim, at, lambda: dataset.rename_project(chosen[1], "moved-while-syncing"), prefix)
            same_instance = False
        elif scenario.special == "stuck":
            # One group's issue listing answers its first page, then fails on every request until the tap
            # gives up (the next pages, and the issue_notes stream's read of the same listing).
            group = dataset.find_group(world.top_groups[rng.randrange(len(world.top_groups))])
            sim.faults.add(scenario.kind, path=rf"^/api/v4/groups/{group}/issues$", after=1, **scenario.options)
        elif scenario.special == "outage":
            at = rng.randrange(world.baseline_requests // 4, 3 * world.baseline_requests // 4)
            sim.faults.add(scenario.kind, path=scenario.path, after=at, **scenario.options)
        else:
            assert scenario.kind
            sim.faults.add(scenario.kind, **_spread(scenario, world.baseline_requests, rng))

        if trigger is not None:
            trigger.start()
        first = run_tap(tmp / "first", config, catalog=world.catalog)
        if trigger is not None:
            trigger.stop.set()
            if not trigger.fired.is_set():
                problems.append(f"the change to the instance ({scenario.special}) never happened during the run")
        runs = [first]
        # Faulty answers: injected faults, plus the 404s of the deleted project and the 301s of renamed ones.
        outcome.injected = sum(
            1
            for entry in sim.requests
            if entry.fault
            or (scenario.special == "renamed" and entry.status == 301)
            or (scenario.special == "deleted" and entry.status == 404 and entry.path.startswith(prefix))
        )
        outcome.requests = len(sim.requests)
        outcome.retries = _retries(first)[1]
        if first.returncode == 0:
            outcome.outcome = "completed"
            if scenario.expect == "stopped":
                problems.append("the run completed although the fault never cleared")
        else:
            outcome.outcome = "stopped, resumed"
            outcome.last_line = first.last_stderr_line
            _check_stop(first, problems)
            if scenario.expect == "completed":
                problems.append(f"the run stopped: {first.last_stderr_line[:160]}")
            sim.faults.clear()
            second = run_tap(tmp / "second", config, catalog=world.catalog, state=first.last_state)
            runs.append(second)
            outcome.requests = len(sim.requests)
            outcome.retries += _retries(second)[1]
            if second.returncode != 0:
                problems.append(f"the re-run failed: {second.last_stderr_line[:160]}")
        outcome.seconds = time.monotonic() - started

        got: Keys = {name: collections.Counter() for name in world.streams}
        for run in runs:
            for name, counter in world.keys(run.records).items():
                got[name].update(counter)
        outcome.again = sum(n - 1 for counter in got.values() for n in counter.values() if n > 1)
        if len(runs) == 1:
            _check_duplicates(got, problems)  # a completed run emits every record once (a re-run re-reads some)
        compared, want = _drop(got, left_out), _drop(want, left_out)
        _compare(compared, want, problems)
        outcome.distinct = sum(len(c) for c in compared.values())
        outcome.expected = sum(len(c) for c in want.values())

        if same_instance:
            # The same records, field for field, and the same final STATE as the fault-free run.
            baseline = {
                name: collections.Counter(
                    {text: n for text, n in texts.items() if world.key(name, json.loads(text)) not in left_out[name]}
                    if name in left_out
                    else texts
                )
                for name, texts in world.content.items()
            }
            _check_content(content(*runs), baseline, problems, exact=len(runs) == 1)
            if runs[-1].returncode == 0:
                final = bookmarks(runs[-1].last_state)

                def kept(key: tuple[str, str]) -> bool:
                    """False for a skipped partition (it has no bookmark): the project's, in any variant."""
                    context = json.loads(key[1])
                    skipped = isinstance(context, dict) and context.get("project_id") == warn_about
                    return not (warn_about is not None and key[0] in left_out and skipped)

                final = {k: v for k, v in final.items() if kept(k)}
                _check_bookmarks(final, {k: v for k, v in world.bookmarks.items() if kept(k)}, problems)

        new_skips = skipped_partitions(first) - world.skipped
        if warn_about is not None:
            ours = {skip for skip in new_skips if skip[1].startswith(f"project {warn_about} ")}
            if not ours:
                problems.append(f"no skipped partition of project {warn_about} in the summary")
            if scenario.special != "deleted":
                # Every stream that lost records to the refusal says so (a deleted project's may just end).
                said = {stream for stream, _ in ours}
                unsaid = sorted(name for name, keys in left_out.items() if keys and name not in said)
                if unsaid:
                    problems.append(f"records of project {warn_about} left out without a warning: {unsaid}")
            outcome.outcome += f", {len(ours)} partitions skipped"
            new_skips -= ours
        if new_skips:
            problems.append(f"partitions skipped that the fault-free run reads: {sorted(new_skips)[:3]}")
        if outcome.injected == 0:
            problems.append("no faulty answer (fault, 404 of the deleted project, 301) was ever sent")
        for run in runs:
            if "Traceback" in run.stderr:
                problems.append("a traceback on stderr")
    return outcome


def _project_keys(world: World, dataset: Dataset, pid: int) -> dict[str, set[Key]]:
    """The keys of project `pid`'s records in every stream (matched on `project_id`, or `id` for projects)."""
    result = {}
    for name in world.streams:
        result[name] = {
            world.key(name, r)
            for r in dataset.expected(name)
            if r.get("project_id") == pid or (name == "projects" and r.get("id") == pid)
        }
    return result


def _drop(keys: Keys, left_out: t.Mapping[str, set[Key]]) -> Keys:
    """`keys` without the keys in `left_out`."""
    return {
        name: collections.Counter({k: n for k, n in counter.items() if k not in left_out.get(name, set())})
        for name, counter in keys.items()
    }


# -- the README table -------------------------------------------------------------------------------------------


def table(outcomes: t.Sequence[Outcome], seconds: float) -> str:
    lines = [
        START,
        "",
        "| fault (seeded points of a full sync, 4-8 workers) | faulty answers | outcome | records (distinct / "
        "fault-free) | emitted again | requests | retries | seconds |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
        *[outcome.row() for outcome in outcomes],
        "",
        "✅: the keys are exactly `Dataset.expected`'s; where the instance is unchanged the records and the "
        "final STATE are also exactly those of a fault-free run; a stopped run ended with one `tap-gitlab: "
        "error: …` line, a non-zero exit and a STATE, and the re-run from it completed (the union of both runs "
        "is counted; *emitted again* is what the re-run read a second time). 403/404: only the refused records "
        "of that project are missing, and every stream that lost some reports it skipped in the summary. Deleted "
        "project: its records are left out of the count; its later partitions are reported skipped.",
        "",
        "Stopped runs ended with these lines (exit code 1):",
        "",
        *[f"- {outcome.label}: `{outcome.last_line}`" for outcome in outcomes if outcome.last_line],
        "",
        f"All {len(outcomes)} scenarios in {seconds:.0f} s, generated by `python -m tests.integration.reliability_report` "
        "(tests/integration/test_faults.py runs the same scenarios).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    write_block(START, END, text, README)


def main() -> int:
    started = time.monotonic()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="tap-gitlab-faults-") as tmp:
        world = World(Path(tmp))
        for index, scenario in enumerate(SCENARIOS):
            outcome = run_scenario(world, scenario, Path(tmp) / f"s{index}")
            print(outcome.row(), flush=True)
            outcomes.append(outcome)
    write_readme(table(outcomes, time.monotonic() - started))
    return 1 if any(outcome.problems for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
