"""The dataset's shared model: sizes, record containers, id plans and the generators' small helpers.

The sizes and per-project plans are the simulator's own; the record shapes follow gitlabhq's entities
(lib/api/entities/*), cited where each record is built in tests/gitlab_sim/areas/.
"""

from __future__ import annotations

import functools
import hashlib
import random
import typing as t
from dataclasses import dataclass, field

from tests.gitlab_sim import words as W
from tests.gitlab_sim.util import NOW_EPOCH, norm_time

if t.TYPE_CHECKING:
    from tests.gitlab_sim.dataset import Dataset

Record = dict[str, t.Any]
WEB = "https://gitlab.example.com"
API = WEB + "/api/v4"

# Per-size plan. `groups`: per top group, (number of subgroups, number of nested groups under the first one).
SIZES: dict[str, dict[str, t.Any]] = {
    "tiny": {
        "groups": [(0, 0)],
        "projects": 2,
        "users": 6,
        "project": {
            "issues": 5,
            "issue_notes": 6,
            "merge_requests": 3,
            "merge_request_commits": 6,
            "merge_request_notes": 4,
            "commits": 8,
            "branch_commits": 2,
            "branches": 3,
            "tags": 2,
            "releases": 1,
            "pipelines": 4,
            "jobs": 10,
            "deployments": 2,
            "environments": 2,
            "events": 8,
            "members": 3,
            "labels": 3,
            "milestones": 2,
            "variables": 2,
            "vulnerabilities": 2,
        },
        "group": {
            "members": 3,
            "labels": 3,
            "milestones": 2,
            "boards": 1,
            "epics": 3,
            "epic_issues": 3,
            "variables": 2,
        },
    },
    "small": {
        "groups": [(2, 1), (1, 0), (0, 0)],
        "projects": 12,
        "users": 40,
        "project": {
            "issues": 40,
            "issue_notes": 60,
            "merge_requests": 20,
            "merge_request_commits": 45,
            "merge_request_notes": 30,
            "commits": 60,
            "branch_commits": 4,
            "branches": 6,
            "tags": 4,
            "releases": 3,
            "pipelines": 25,
            "jobs": 90,
            "deployments": 10,
            "environments": 3,
            "events": 50,
            "members": 5,
            "labels": 6,
            "milestones": 4,
            "variables": 3,
            "vulnerabilities": 5,
        },
        "group": {
            "members": 5,
            "labels": 5,
            "milestones": 3,
            "boards": 2,
            "epics": 6,
            "epic_issues": 8,
            "variables": 3,
        },
    },
    "medium": {
        "groups": [(3, 2), (3, 1), (2, 1)],
        "projects": 60,
        "users": 400,
        "project": {
            "issues": 260,
            "issue_notes": 380,
            "merge_requests": 120,
            "merge_request_commits": 260,
            "merge_request_notes": 180,
            "commits": 320,
            "branch_commits": 10,
            "branches": 20,
            "tags": 12,
            "releases": 6,
            "pipelines": 110,
            "jobs": 420,
            "deployments": 30,
            "environments": 4,
            "events": 160,
            "members": 12,
            "labels": 10,
            "milestones": 8,
            "variables": 4,
            "vulnerabilities": 20,
        },
        "group": {
            "members": 15,
            "labels": 8,
            "milestones": 5,
            "boards": 3,
            "epics": 25,
            "epic_issues": 40,
            "variables": 4,
        },
    },
    "large": {
        "groups": [(4, 2), (4, 2), (3, 1), (3, 1)],
        "projects": 200,
        "users": 20000,
        "project": {
            "issues": 700,
            "issue_notes": 1000,
            "merge_requests": 320,
            "merge_request_commits": 700,
            "merge_request_notes": 450,
            "commits": 750,
            "branch_commits": 20,
            "branches": 40,
            "tags": 20,
            "releases": 10,
            "pipelines": 250,
            "jobs": 900,
            "deployments": 80,
            "environments": 5,
            "events": 300,
            "members": 20,
            "labels": 12,
            "milestones": 10,
            "variables": 4,
            "vulnerabilities": 40,
        },
        "group": {
            "members": 30,
            "labels": 10,
            "milestones": 8,
            "boards": 3,
            "epics": 60,
            "epic_issues": 100,
            "variables": 4,
        },
    },
}


# Stream name -> the project feature (first path segment after /projects/:id) whose 403 hides it.
STREAM_FEATURE = {
    "issues": "issues",
    "issue_notes": "issues",
    "merge_requests": "merge_requests",
    "merge_request_commits": "merge_requests",
    "merge_request_notes": "merge_requests",
    "merge_request_approvals": "merge_requests",
    "branches": "repository",
    "tags": "repository",
    "commits": "repository",
    "releases": "releases",
    "pipelines": "pipelines",
    "pipelines_extended": "pipelines",
    "jobs": "pipelines",
    "trigger_jobs": "pipelines",
    "deployments": "deployments",
    "environments": "environments",
    "languages": "languages",
    "readme": "repository",
    "issue_label_events": "issues",
    "issue_state_events": "issues",
    "issue_milestone_events": "issues",
    "merge_request_label_events": "merge_requests",
    "merge_request_state_events": "merge_requests",
    "merge_request_milestone_events": "merge_requests",
    "events": "events",
    "project_variables": "variables",
    "vulnerabilities": "vulnerabilities",
    "project_members": "members",
    "project_labels": "labels",
    "project_milestones": "milestones",
    "users": "users",
}


def runners_token(seed: int, kind: str, ident: int) -> str:
    """A project's or group's runner registration token: `GR1348941` and 20 characters.

    The prefix is GitLab's `RUNNERS_TOKEN_PREFIX` (app/models/concerns/runners_token_prefixable.rb). GitLab
    returns the token to users who can admin the project in every project object (lib/api/entities/project.rb,
    `runners_token` under `admin_project`) and to owners in `GET /groups/:id` (lib/api/entities/group_detail.rb,
    `user_can_admin_group`); the simulator's token is a maintainer and owner everywhere (it reads CI variables).
    """
    return "GR1348941" + _sha("runners", seed, kind, ident)[:20]


def _sha(*parts: t.Any) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def _pick(rng: random.Random, words: t.Sequence[str]) -> str:
    return words[int(rng.random() * len(words))]  # rng.choice, at a third of the cost


def _sentence(rng: random.Random) -> str:
    return f"{_pick(rng, W.VERBS)} {_pick(rng, W.ADJ)} {_pick(rng, W.NOUNS)} in {_pick(rng, W.NOUNS)}"


def _markdown(rng: random.Random, title: str) -> str:
    items = "\n".join(f"- [{'x' if rng.random() < 0.5 else ' '}] {_sentence(rng).lower()}" for _ in range(3))
    return f"## Summary\n\n{title}.\n\n### Steps\n\n{items}\n\n`{rng.choice(W.NOUNS)}.{rng.choice(W.NOUNS)}()` fails."


def _times(rng: random.Random, n: int, start: float, end: float) -> list[float]:
    return sorted(rng.uniform(start, end) for _ in range(n))


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` items over `parts` buckets: every bucket gets one while they last, the rest at random."""
    if parts <= 0:
        return []
    counts = [1 if i < total else 0 for i in range(parts)]
    for _ in range(max(0, total - parts)):
        counts[rng.randrange(parts)] += 1
    return counts


@dataclass
class ProjectPlan:
    id: int
    index: int
    counts: dict[str, int]
    bases: dict[str, int]


@dataclass
class ProjectData:
    """Every record of one project, as GitLab serves it (lists in creation order unless noted)."""

    members: list[Record] = field(default_factory=list)
    labels: list[Record] = field(default_factory=list)
    milestones: list[Record] = field(default_factory=list)
    issues: list[Record] = field(default_factory=list)
    issue_notes: dict[int, list[Record]] = field(default_factory=dict)
    merge_requests: list[Record] = field(default_factory=list)
    mr_commits: dict[int, list[Record]] = field(default_factory=dict)  # newest first
    mr_notes: dict[int, list[Record]] = field(default_factory=dict)
    mr_approvals: dict[int, Record] = field(default_factory=dict)
    commits: list[Record] = field(default_factory=list)  # default branch, newest first
    branch_commits: dict[str, list[Record]] = field(default_factory=dict)  # commits only on that branch
    commit_stats: dict[str, Record] = field(default_factory=dict)
    commit_utc: dict[str, str] = field(default_factory=dict)
    # The repository as a graph (every commit reachable from a branch or tag, by sha; `parent_ids` are the
    # edges) and each commit's committer date in whole seconds, as git compares it (tests/gitlab_sim/gitlog.py).
    commit_by_id: dict[str, Record] = field(default_factory=dict)
    commit_seconds: dict[str, int] = field(default_factory=dict)
    branches: list[Record] = field(default_factory=list)
    tags: list[Record] = field(default_factory=list)
    releases: list[Record] = field(default_factory=list)
    pipelines: list[Record] = field(default_factory=list)  # detail objects
    jobs: list[Record] = field(default_factory=list)
    retried_jobs: set[int] = field(default_factory=set)
    deployments: list[Record] = field(default_factory=list)
    environments: list[Record] = field(default_factory=list)
    languages: dict[str, float] = field(default_factory=dict)
    events: list[Record] = field(default_factory=list)
    variables: list[Record] = field(default_factory=list)
    vulnerabilities: list[Record] = field(default_factory=list)
    # indexes
    issue_by_iid: dict[int, Record] = field(default_factory=dict)
    mr_by_iid: dict[int, Record] = field(default_factory=dict)
    pipeline_by_id: dict[int, Record] = field(default_factory=dict)
    child_pipelines: dict[int, int] = field(default_factory=dict)  # child pipeline id -> its parent's id
    jobs_by_pipeline: dict[int, list[Record]] = field(default_factory=dict)
    # Trigger jobs (bridges) by the pipeline they belong to, newest first: one per child pipeline it started.
    bridges_by_pipeline: dict[int, list[Record]] = field(default_factory=dict)


@dataclass
class GroupData:
    members: list[Record] = field(default_factory=list)
    labels: list[Record] = field(default_factory=list)
    milestones: list[Record] = field(default_factory=list)
    boards: list[Record] = field(default_factory=list)
    epics: list[Record] = field(default_factory=list)
    epic_links: dict[int, list[tuple[int, int, int, int]]] = field(default_factory=dict)  # epic id -> links
    variables: list[Record] = field(default_factory=list)


F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def _mutation(method: F) -> F:
    """Run a mutation under the lock and bump the version when it is complete, so that nothing the server
    cached while the records were half-changed survives it."""

    @functools.wraps(method)
    def wrapper(self: Dataset, *args: t.Any, **kwargs: t.Any) -> t.Any:
        with self.lock:
            try:
                return method(self, *args, **kwargs)
            finally:
                self.version += 1

    return t.cast(F, wrapper)


def normalized(text: str | None) -> str | None:
    return norm_time(text)


@dataclass
class ProjectGen:
    """One project's generation in progress: its generator and plan, and what each step makes for later ones.

    The steps (`Dataset._generate_project`) draw from `rng` in a fixed order, so a project's records are the
    same whatever else is generated.
    """

    pid: int
    project: Record
    counts: dict[str, int]
    bases: dict[str, int]
    rng: random.Random
    d: ProjectData
    start: float
    ub: dict[int, Record]
    gid: int
    shared_times: list[float]
    people: list[int] = field(default_factory=list)  # the project's members' user ids (or [1])
    label_names: list[str] = field(default_factory=list)  # the project's and its groups' labels
    ms_short: list[Record] = field(default_factory=list)  # the milestones as issues and releases show them
    tz: str = ""  # the committers' time zone
    chrono: list[Record] = field(default_factory=list)  # default-branch commits, oldest first
    branch_names: list[str] = field(default_factory=list)
    note_id: int = 0  # the last note id given (issues' notes, then merge requests')

    @property
    def full(self) -> str:
        return self.project["path_with_namespace"]

    @property
    def web(self) -> str:
        return self.project["web_url"]

    def updated_from(self, created: float) -> float:
        """An `updated_at` for a record created at `created`: now and then one of the shared instants."""
        rng = self.rng
        if rng.random() < 0.08:
            pick = rng.choice(self.shared_times)
            if pick >= created:
                return pick
        return created + rng.random() ** 2 * (NOW_EPOCH - created)
