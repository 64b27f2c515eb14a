"""A seeded, deterministic GitLab instance: groups, projects and everything in them.

Object shapes follow ../shared/reference/gitlab-api-v4.md §6 (all top-level keys of the representative
objects, real types). Generation is lazy per project: `Dataset.generate` only plans (groups, users, per-project
record counts and id ranges); a project's records are generated on first access from their own seed, so a
million-record dataset plans in milliseconds and the server only materialises the projects it serves. The
same seed always yields the same bytes, whatever order projects are touched in.

`Dataset` composes one mixin per GitLab area (tests/gitlab_sim/areas/: projects, groups with the members,
labels and milestones groups and projects share, users, issues, merge requests, repository, CI/CD, events,
security); it keeps the instance's state, its clock, id sequences, and the order of a project's generation
steps (`_generate_project`). The shared containers and helpers are in model.py.
"""

from __future__ import annotations

import random
import threading
import typing as t

from tests.gitlab_sim.areas.ci import CiModel, DeploymentsModel
from tests.gitlab_sim.areas.events import EventsModel
from tests.gitlab_sim.areas.groups import GroupsModel, MembersLabelsMilestonesModel
from tests.gitlab_sim.areas.issues import IssuesModel
from tests.gitlab_sim.areas.merge_requests import MergeRequestsModel
from tests.gitlab_sim.areas.projects import ProjectsModel
from tests.gitlab_sim.areas.repository import RepositoryModel
from tests.gitlab_sim.areas.security import SecurityModel
from tests.gitlab_sim.areas.users import UsersModel
from tests.gitlab_sim.model import (
    SIZES,
    STREAM_FEATURE,
    WEB,
    GroupData,
    ProjectData,
    ProjectGen,
    ProjectPlan,
    Record,
    _mutation,
    normalized,
    runners_token,
)
from tests.gitlab_sim.util import DAY, NOW_EPOCH, db_time, parse_time


class Dataset(
    ProjectsModel,
    GroupsModel,
    MembersLabelsMilestonesModel,
    UsersModel,
    IssuesModel,
    MergeRequestsModel,
    RepositoryModel,
    CiModel,
    DeploymentsModel,
    EventsModel,
    SecurityModel,
):
    """A GitLab instance. Reads and mutations are thread-safe (one re-entrant lock)."""

    def __init__(self, size: str, seed: int) -> None:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
        self.size = size
        self.seed = seed
        self.lock = threading.RLock()
        self.version = 0  # bumped by every mutation (the server's listing cache keys on it)
        self._clock = NOW_EPOCH
        self.web_url = WEB
        self.users: list[Record] = []
        self.users_by_id: dict[int, Record] = {}
        self.user_basic: dict[int, Record] = {}
        self.groups: dict[int, Record] = {}
        self.group_children: dict[int, list[int]] = {}
        self.group_data: dict[int, GroupData] = {}
        self.projects: dict[int, Record] = {}
        self.namespace_projects: dict[int, list[int]] = {}  # group id -> projects directly in it
        self.shared_into: dict[int, list[int]] = {}  # group id -> projects shared into it
        self.plans: dict[int, ProjectPlan] = {}
        self._data: dict[int, ProjectData] = {}
        self.redirects: dict[str, int] = {}  # old lower-case full path -> project id
        self.deleted: set[int] = set()
        self.forbidden: set[tuple[int, str]] = set()  # (project id, feature)
        self.epics_licensed: set[int] = set()  # group ids (Premium)
        self.ultimate: set[int] = set()  # group ids (Ultimate: vulnerabilities)
        self.issue_epic: dict[tuple[int, int], Record] = {}
        self._next_ids: dict[str, int] = {}
        self._mutation_rng = random.Random(f"{seed}/mutations")
        # GitLab before 17.0 lists child pipelines in `GET /projects/:id/pipelines`; 17.0 and later hide them
        # unless `source=parent_pipeline` is asked for (gotcha 17). True plays the older instance.
        self.child_pipelines_listed = False
        self.readme_bytes: dict[int, bytes] = {}  # a project's README as a test set it (else one is written)
        # GitLab 19.2 added `/pipelines/:id/trigger_jobs` and deprecated `/bridges` (same answer); False plays
        # a GitLab that has removed `/bridges`.
        self.bridges_route = True
        # A database statement timeout (issue 10 item 5): a group-level issue or merge request listing whose
        # filters match more than this many rows across the group's projects is cancelled (None: never).
        # The cost is the query's, so every page of such a listing fails alike (areas/issues.py `_statement_timeout`).
        self.statement_timeout_rows: int | None = None
        # The instance's time zone (gitlab.yml `gitlab.time_zone`, Rails' `Time.zone`; default UTC) as a UTC
        # offset in minutes, from -720 to +840: the events finder's `after`/`before` are whole days of it.
        self.time_zone_offset_minutes = 0
        # Whether the token's user may read confidential issues (Reporter or more): events on them are
        # dropped from their page when not (`Event#visible_to_user?`, see `event_visible`).
        self.token_reads_confidential = True

    # -- clock ------------------------------------------------------------------------------------------------
    @property
    def now(self) -> str:
        """The dataset clock as GitLab's DB timestamp text."""
        return db_time(self._clock)

    @_mutation
    def advance_clock(self, seconds: float) -> str:
        with self.lock:
            self._clock += max(0.0, seconds)
            return self.now

    @_mutation
    def churn(self, fraction: float) -> dict[str, int]:
        """Change a `fraction` of the issues, merge requests and pipelines of every project, as a day of work
        would: each chosen issue gets a new note (which touches it), each chosen merge request and pipeline
        is updated. Seeded by the mutation stream, so a benchmark is repeatable. Returns what changed."""
        changed = {"issues": 0, "merge_requests": 0, "pipelines": 0}
        rng = self._mutation_rng
        with self.lock:
            for pid in sorted(self.projects):
                if pid in self.deleted:
                    continue
                d = self.data(pid)
                for issue in [issue for issue in d.issues if rng.random() < fraction]:
                    self.add_issue_note(pid, issue["iid"])
                    changed["issues"] += 1
                for mr in [mr for mr in d.merge_requests if rng.random() < fraction]:
                    self.update_merge_request(pid, mr["iid"])
                    changed["merge_requests"] += 1
                for pipeline in [pipeline for pipeline in d.pipelines if rng.random() < fraction]:
                    self.update_pipeline(pid, pipeline["id"])
                    changed["pipelines"] += 1
        return changed

    def _tick(self) -> str:
        """The timestamp of a mutation: the clock, which then moves 1 ms (same second, strictly increasing)."""
        value = db_time(self._clock)
        self._clock += 0.001
        self.version += 1
        return value

    # -- generation -------------------------------------------------------------------------------------------
    @classmethod
    def generate(cls, size: str = "small", seed: int = 7) -> Dataset:
        ds = cls(size, seed)
        ds._plan()
        return ds

    def _plan(self) -> None:
        spec = SIZES[self.size]
        rng = random.Random(f"{self.seed}/plan/{self.size}")
        self._plan_users(rng, spec["users"])
        self._plan_groups(rng, spec["groups"])
        self._plan_projects(rng, spec)
        for gid in self.groups:
            self._generate_group(gid, spec["group"])

    # -- group-level records (eager: few) ----------------------------------------------------------------------

    # -- per-project records (lazy) ----------------------------------------------------------------------------
    def data(self, pid: int) -> ProjectData:
        found = self._data.get(pid)
        if found is not None:
            return found
        with self.lock:
            found = self._data.get(pid)
            if found is None:
                found = self._generate_project(pid)
                self._data[pid] = found
            return found

    def generated_projects(self) -> int:
        return len(self._data)

    def _generate_project(self, pid: int) -> ProjectData:
        """A project's records, area by area, from the project's own generator (the steps draw from it in turn)."""
        g = self._project_gen(pid)
        self._generate_project_members(g)
        self._generate_project_labels(g)
        self._generate_project_milestones(g)
        self._generate_commits(g)
        self._generate_branches(g)
        self._generate_tags_and_releases(g)
        self._generate_issues(g)
        self._generate_merge_requests(g)
        self._generate_pipelines(g)
        self._generate_environments_and_deployments(g)
        self._generate_languages(g)
        self._generate_events(g)
        self._generate_project_variables(g)
        self._generate_vulnerabilities(g)
        self._merge_first_branch(g.d)
        g.project["open_issues_count"] = sum(1 for i in g.d.issues if i["state"] == "opened")
        return g.d

    def _project_gen(self, pid: int) -> ProjectGen:
        plan = self.plans[pid]
        project = self.projects[pid]
        rng = random.Random(f"{self.seed}/project/{pid}")
        start = parse_time(project["created_at"]) or NOW_EPOCH - 700 * DAY
        # A few shared instants (ms-identical, some in the clock's current second) for ties on updated_at.
        shared_times = [NOW_EPOCH - 0.8, NOW_EPOCH - 0.5, *(rng.uniform(start, NOW_EPOCH - DAY) for _ in range(4))]
        return ProjectGen(
            pid=pid,
            project=project,
            counts=plan.counts,
            bases=plan.bases,
            rng=rng,
            d=ProjectData(),
            start=start,
            ub=self.user_basic,
            gid=project["namespace"]["id"],
            shared_times=shared_times,
        )

    # -- lookups used by the server ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Planned record counts per kind (without generating any project)."""
        totals: dict[str, int] = {}
        for pid in self.live_projects():
            for kind, value in self.plans[pid].counts.items():
                totals[kind] = totals.get(kind, 0) + value
        totals["projects"] = len(self.live_projects())
        totals["groups"] = len(self.groups)
        totals["site_users"] = len(self.users)
        for kind in ("members", "labels", "milestones", "boards", "epics", "variables"):
            totals[f"group_{kind}"] = sum(len(getattr(g, kind)) for g in self.group_data.values())
        totals["epic_issues_links"] = sum(len(v) for g in self.group_data.values() for v in g.epic_links.values())
        return totals

    def total_records(self) -> int:
        return sum(v for k, v in self.counts().items() if k not in ("epic_issues_links",))

    # -- what a correct extractor emits --------------------------------------------------------------------------
    def expected(
        self,
        stream: str,
        groups: t.Sequence[str | int] | None = None,
        projects: t.Sequence[str | int] | None = None,
        include_archived: bool = True,
        start_date: str | None = None,
        all_branches: bool = False,
    ) -> list[Record]:
        from tests.gitlab_sim.expected import expected_records

        with self.lock:
            return expected_records(self, stream, groups, projects, include_archived, start_date, all_branches)

    # -- mutations (tests change the instance while the server runs) --------------------------------------------
    def _new_id(self, kind: str) -> int:
        value = self._next_ids.get(kind, 10_000_000)
        self._next_ids[kind] = value + 1
        return value

    def _touch(self, record: Record, **fields: t.Any) -> Record:
        record.update(fields)
        record["updated_at"] = self._tick()
        return record

    # Deletions. GitLab removes the row itself (lib/api/branches.rb `DELETE :id/repository/branches/:branch`
    # through Branches::DeleteService; lib/api/members.rb `DELETE :id/members/:user_id` through
    # Members::DestroyService; lib/api/labels.rb and lib/api/group_labels.rb `DELETE .../labels/:name`,
    # which destroy the label), so the next listing simply no longer has it: nothing marks it deleted.

    # -- repository mutations: the commit graph that `git log` walks (tests/gitlab_sim/gitlog.py) ---------------


__all__ = [
    "SIZES",
    "STREAM_FEATURE",
    "Dataset",
    "GroupData",
    "ProjectData",
    "ProjectPlan",
    "normalized",
    "runners_token",
]
