"""A seeded, deterministic GitLab instance: groups, projects and everything in them.

Object shapes follow ../shared/reference/gitlab-api-v4.md §6 (all top-level keys of the representative
objects, real types). Generation is lazy per project: `Dataset.generate` only plans (groups, users, per-project
record counts and id ranges); a project's records are generated on first access from their own seed, so a
million-record dataset plans in milliseconds and the server only materialises the projects it serves. The
same seed always yields the same bytes, whatever order projects are touched in.
"""

from __future__ import annotations

import random
import threading
import typing as t

from tests.gitlab_sim import words as W
from tests.gitlab_sim.areas.ci import CiModel
from tests.gitlab_sim.areas.events import EventsModel
from tests.gitlab_sim.areas.issues import IssuesModel
from tests.gitlab_sim.areas.merge_requests import MergeRequestsModel
from tests.gitlab_sim.areas.projects import ProjectsModel
from tests.gitlab_sim.areas.repository import RepositoryModel
from tests.gitlab_sim.areas.security import SecurityModel
from tests.gitlab_sim.areas.users import UsersModel
from tests.gitlab_sim.model import (
    API,
    SIZES,
    STREAM_FEATURE,
    WEB,
    GroupData,
    ProjectData,
    ProjectGen,
    ProjectPlan,
    Record,
    _markdown,
    _mutation,
    _sentence,
    _sha,
    _times,
    normalized,
    runners_token,
)
from tests.gitlab_sim.util import DAY, NOW_EPOCH, date_only, db_time, parse_time


class Dataset(
    UsersModel, SecurityModel, EventsModel, CiModel, RepositoryModel, MergeRequestsModel, IssuesModel, ProjectsModel
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
        # The cost is the query's, so every page of such a listing fails alike (routes.py `_statement_timeout`).
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

    def _plan_groups(self, rng: random.Random, layout: list[tuple[int, int]]) -> None:
        gid = 0
        names_used: set[str] = set()

        def make(parent: Record | None, level: int) -> Record:
            nonlocal gid
            gid += 1
            word = rng.choice(W.GROUP_WORDS)
            while f"{parent['id'] if parent else 0}/{word}" in names_used:
                word = f"{rng.choice(W.GROUP_WORDS)}-{gid}"
            names_used.add(f"{parent['id'] if parent else 0}/{word}")
            if parent is None:
                word = f"{word}-co" if level == 0 else word
            name = word.replace("-", " ").title()
            full_path = f"{parent['full_path']}/{word}" if parent else word
            full_name = f"{parent['full_name']} / {name}" if parent else name
            created = NOW_EPOCH - (800 - gid) * DAY
            group = {
                "id": gid,
                "name": name,
                "path": word,
                "description": f"The {name} group.",
                "visibility": rng.choice(["private", "internal", "public"]),
                "share_with_group_lock": False,
                "require_two_factor_authentication": False,
                "two_factor_grace_period": 48,
                "project_creation_level": "developer",
                "auto_devops_enabled": None,
                "subgroup_creation_level": "maintainer",
                "emails_disabled": False,
                "emails_enabled": True,
                "mentions_disabled": None,
                "lfs_enabled": True,
                "default_branch": None,
                "default_branch_protection": 2,
                "default_branch_protection_defaults": {
                    "allowed_to_push": [{"access_level": 40}],
                    "allow_force_push": False,
                    "allowed_to_merge": [{"access_level": 40}],
                },
                "avatar_url": None,
                "web_url": f"{WEB}/groups/{full_path}",
                "request_access_enabled": True,
                "repository_storage": "default",
                "full_name": full_name,
                "full_path": full_path,
                "file_template_project_id": None,
                "parent_id": parent["id"] if parent else None,
                "created_at": db_time(created),
                "ip_restriction_ranges": None,
                "organization_id": 1,
                "shared_runners_setting": "enabled",
                "max_artifacts_size": None,
                "math_rendering_limits_enabled": True,
                "lock_math_rendering_limits_enabled": False,
                "ldap_cn": None,
                "ldap_access": None,
                "wiki_access_level": "enabled",
                "duo_features_enabled": False,
                "lock_duo_features_enabled": False,
                "marked_for_deletion_on": None,
            }
            self.groups[gid] = group
            self.group_children.setdefault(gid, [])
            if parent:
                self.group_children[parent["id"]].append(gid)
            return group

        for index, (subs, nested) in enumerate(layout):
            top = make(None, 0)
            # Licences live on the top-level namespace: the last top group (of several) has none.
            licensed = index < len(layout) - 1 or len(layout) == 1
            children = [make(top, 1) for _ in range(subs)]
            grandchildren = [make(children[0], 2) for _ in range(nested)] if children else []
            for g in [top, *children, *grandchildren]:
                if licensed:
                    self.epics_licensed.add(g["id"])
                if index == 0:
                    self.ultimate.add(g["id"])

    def top_group_paths(self) -> list[str]:
        """The full paths of the top-level groups (a configuration's `groups` covering the whole instance)."""
        return [g["full_path"] for g in self.expected("groups") if g.get("parent_id") is None]

    def top_group_of(self, gid: int) -> int:
        while self.groups[gid]["parent_id"] is not None:
            gid = self.groups[gid]["parent_id"]
        return gid

    def ancestors(self, gid: int) -> list[int]:
        """The group and its ancestors, nearest first."""
        chain = [gid]
        while self.groups[chain[-1]]["parent_id"] is not None:
            chain.append(self.groups[chain[-1]]["parent_id"])
        return chain

    def descendants(self, gid: int) -> list[int]:
        out: list[int] = []
        stack = list(reversed(self.group_children.get(gid, [])))
        while stack:
            g = stack.pop()
            out.append(g)
            stack.extend(reversed(self.group_children.get(g, [])))
        return out

    # -- group-level records (eager: few) ----------------------------------------------------------------------
    def _alloc_group(self, kind: str) -> int:
        self._group_bases[kind] += 1
        return self._group_bases[kind]

    def _generate_group(self, gid: int, spec: dict[str, int]) -> None:
        rng = random.Random(f"{self.seed}/group/{gid}")
        group = self.groups[gid]
        data = GroupData()
        created0 = parse_time(group["created_at"]) or NOW_EPOCH
        members = [1] if group["parent_id"] is None else []
        members += rng.sample(range(2, len(self.users) + 1), min(spec["members"], len(self.users) - 1))
        for uid in members:
            data.members.append(self._member(rng, uid, 50 if uid == 1 else None, created0))
        for name in rng.sample(W.LABELS, min(spec["labels"], len(W.LABELS))):
            lid = self._alloc_group("labels")
            data.labels.append(
                {
                    "id": lid,
                    "name": f"{name}" if group["parent_id"] is None else f"{group['path']}::{name}",
                    "description": f"Group label {name}" if lid % 2 else None,
                    "description_html": f"Group label {name}" if lid % 2 else "",
                    "text_color": "#FFFFFF",
                    "color": rng.choice(W.COLORS),
                    "subscribed": False,
                    "archived": False,
                    "open_issues_count": 0,
                    "closed_issues_count": 0,
                    "open_merge_requests_count": 0,
                }
            )
        for k in range(spec["milestones"]):
            mid = self._alloc_group("milestones")
            created = rng.uniform(created0, NOW_EPOCH - 10 * DAY)
            data.milestones.append(
                self._milestone(
                    rng, mid, k + 1, "group_id", gid, created, f"{WEB}/groups/{group['full_path']}/-/milestones/{k + 1}"
                )
            )
        for k in range(spec["boards"]):
            bid = self._alloc_group("boards")
            milestone = data.milestones[k % len(data.milestones)] if data.milestones and k % 2 else None
            lists = [
                {
                    "id": bid * 10 + j,
                    "label": {
                        "id": lab["id"],
                        "name": lab["name"],
                        "color": lab["color"],
                        "description": lab["description"],
                    },
                    "position": j,
                    "max_issue_count": 0,
                    "max_issue_weight": 0,
                    "limit_metric": None,
                }
                for j, lab in enumerate(data.labels[:3])
            ]
            data.boards.append(
                {
                    "id": bid,
                    "name": "Development" if k == 0 else f"Board {k + 1}",
                    "hide_backlog_list": False,
                    "hide_closed_list": False,
                    "project": None,
                    "group": {"id": gid, "name": group["name"], "web_url": group["web_url"]},
                    "milestone": {"id": milestone["id"], "title": milestone["title"]} if milestone else None,
                    "assignee": None,
                    "labels": [],
                    "weight": None,
                    "lists": lists,
                }
            )
        if gid in self.epics_licensed:
            self._generate_epics(rng, gid, data, spec)
        for k in range(spec["variables"]):
            key = f"{group['path'].upper().replace('-', '_')}_VAR_{k // 2}"
            data.variables.append(self._variable(rng, key, "*" if k % 2 == 0 else "production"))
        self.group_data[gid] = data

    def _generate_epics(self, rng: random.Random, gid: int, data: GroupData, spec: dict[str, int]) -> None:
        group = self.groups[gid]
        # Issues this group's epics can hold: those of projects in the group and its subgroups.
        candidates = [
            (pid, iid)
            for g in [gid, *self.descendants(gid)]
            for pid in self.namespace_projects.get(g, [])
            for iid in range(1, self.plans[pid].counts["issues"] + 1)
            if (pid, iid) not in self.issue_epic
        ]
        created0 = parse_time(group["created_at"]) or NOW_EPOCH
        epics: list[Record] = []
        for k, created in enumerate(_times(rng, spec["epics"], created0, NOW_EPOCH - DAY)):
            eid = self._alloc_group("epics")
            iid = k + 1
            title = _sentence(rng)
            updated = created + rng.random() * (NOW_EPOCH - created)
            parent = epics[rng.randrange(len(epics))] if epics and rng.random() < 0.3 else None
            closed = rng.random() < 0.3
            due = date_only(created + 60 * DAY) if rng.random() < 0.5 else None
            ref = f"&{iid}"
            epic = {
                "id": eid,
                "iid": iid,
                "work_item_id": 500000 + eid,
                "group_id": gid,
                "parent_id": parent["id"] if parent else None,
                "parent_iid": parent["iid"] if parent else None,
                "title": title,
                "description": _markdown(rng, title),
                "state": "closed" if closed else "opened",
                "confidential": False,
                "web_url": f"{WEB}/groups/{group['full_path']}/-/epics/{iid}",
                # deprecated, still sent: `group_epic_path`, a path (ee/lib/api/entities/epic.rb)
                "web_edit_url": f"/groups/{group['full_path']}/-/epics/{iid}",
                "reference": ref,
                "references": {"short": ref, "relative": ref, "full": f"{group['full_path']}{ref}"},
                "author": self.user_basic[rng.choice([m["id"] for m in data.members])],
                "start_date": None,
                "start_date_is_fixed": False,
                "start_date_fixed": None,
                "start_date_from_milestones": None,
                "start_date_from_inherited_source": None,
                "end_date": due,
                "due_date": due,
                "due_date_is_fixed": False,
                "due_date_fixed": None,
                "due_date_from_milestones": due,
                "due_date_from_inherited_source": due,
                "created_at": db_time(created),
                "updated_at": db_time(updated),
                "closed_at": db_time(updated) if closed else None,
                "labels": [lab["name"] for lab in rng.sample(data.labels, min(2, len(data.labels)))],
                "upvotes": rng.randrange(5),
                "downvotes": 0,
                "color": "#1068bf",
                "text_color": "#FFFFFF",
                "imported": False,
                "imported_from": "none",
                "_links": {
                    "self": f"{API}/groups/{gid}/epics/{iid}",
                    "epic_issues": f"{API}/groups/{gid}/epics/{iid}/issues",
                    "group": f"{API}/groups/{gid}",
                    "parent": f"{API}/groups/{gid}/epics/{parent['iid']}" if parent else None,
                },
            }
            epics.append(epic)
            links = []
            for position in range(rng.randint(0, max(1, 2 * spec["epic_issues"] // max(1, spec["epics"])))):
                if not candidates:
                    break
                pid, issue_iid = candidates.pop(rng.randrange(len(candidates)))
                link_id = self._alloc_group("epic_issues")
                self.issue_epic[(pid, issue_iid)] = epic
                links.append((pid, issue_iid, link_id, position * 1000))
            data.epic_links[eid] = links
        data.epics = epics

    def _member(self, rng: random.Random, uid: int, level: int | None, since: float) -> Record:
        created = rng.uniform(since, NOW_EPOCH - DAY)
        return {
            **self.user_basic[uid],
            "created_at": db_time(created),
            "created_by": self.user_basic[1],
            "expires_at": date_only(NOW_EPOCH + 90 * DAY) if rng.random() < 0.1 else None,
            "access_level": level or rng.choice([10, 20, 30, 30, 40]),
            "group_saml_identity": None,
            "membership_state": "active",
            "is_using_seat": True,
        }

    def _milestone(
        self, rng: random.Random, mid: int, iid: int, owner_key: str, owner: int, created: float, web_url: str
    ) -> Record:
        updated = created + rng.random() * (NOW_EPOCH - created)
        start = created + rng.uniform(0, 30) * DAY
        due = start + 30 * DAY
        closed = due < NOW_EPOCH - 30 * DAY and rng.random() < 0.7
        return {
            "id": mid,
            "iid": iid,
            owner_key: owner,
            "title": f"{iid}.{rng.randrange(10)}",
            "description": f"Release {iid} goals" if mid % 3 else None,
            "state": "closed" if closed else "active",
            "created_at": db_time(created),
            "updated_at": db_time(updated),
            "due_date": date_only(due),
            "start_date": date_only(start),
            "expired": due < NOW_EPOCH,
            "web_url": web_url,
        }

    def _variable(self, rng: random.Random, key: str, scope: str) -> Record:
        return {
            "variable_type": "env_var",
            "key": key,
            "value": _sha(key, scope)[:16],
            "protected": scope != "*",
            "masked": rng.random() < 0.5,
            "hidden": False,
            "raw": False,
            "environment_scope": scope,
            "description": None,
        }

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

    def _generate_project_members(self, g: ProjectGen) -> None:
        """Members."""
        counts, rng, d, start = g.counts, g.rng, g.d, g.start
        member_ids = rng.sample(range(2, len(self.users) + 1), min(counts["members"], len(self.users) - 1))
        d.members = [self._member(rng, uid, None, start) for uid in member_ids]
        people = member_ids or [1]
        g.people = people

    def _generate_project_labels(self, g: ProjectGen) -> None:
        """Labels."""
        counts, bases, rng, d, gid = g.counts, g.bases, g.rng, g.d, g.gid
        for k, name in enumerate(rng.sample(W.LABELS, min(counts["labels"], len(W.LABELS)))):
            d.labels.append(
                {
                    "id": bases["labels"] + k + 1,
                    "name": name,
                    "color": rng.choice(W.COLORS),
                    "text_color": "#FFFFFF",
                    "description": f"{name.title()} work" if k % 2 else None,
                    "description_html": f"{name.title()} work" if k % 2 else "",
                    "open_issues_count": 0,
                    "closed_issues_count": 0,
                    "open_merge_requests_count": 0,
                    "subscribed": False,
                    "priority": k * 10 if k % 3 == 0 else None,
                    "is_project_label": True,
                    "archived": False,
                }
            )
        label_names = [lab["name"] for lab in d.labels] + [
            lab["name"] for g in self.ancestors(gid) for lab in self.group_data[g].labels
        ]
        g.label_names = label_names

    def _generate_project_milestones(self, g: ProjectGen) -> None:
        """Milestones."""
        pid, counts, bases, rng, d, start, web = g.pid, g.counts, g.bases, g.rng, g.d, g.start, g.web
        for k, created in enumerate(_times(rng, counts["milestones"], start, NOW_EPOCH - DAY)):
            d.milestones.append(
                self._milestone(
                    rng, bases["milestones"] + k + 1, k + 1, "project_id", pid, created, f"{web}/-/milestones/{k + 1}"
                )
            )
        ms_short = [
            {
                key: m[key]
                for key in (
                    "id",
                    "iid",
                    "project_id",
                    "title",
                    "description",
                    "state",
                    "created_at",
                    "updated_at",
                    "due_date",
                    "start_date",
                    "expired",
                    "web_url",
                )
            }
            for m in d.milestones
        ]
        g.ms_short = ms_short

    # -- lookups used by the server ----------------------------------------------------------------------------

    def find_group(self, ref: str) -> int | None:
        if ref.isdigit():
            return int(ref) if int(ref) in self.groups else None
        low = ref.lower()
        return next((gid for gid, g in self.groups.items() if g["full_path"].lower() == low), None)

    def group_project_ids(self, gid: int, *, include_subgroups: bool, with_shared: bool) -> list[int]:
        groups = [gid, *self.descendants(gid)] if include_subgroups else [gid]
        pids = [pid for g in groups for pid in self.namespace_projects.get(g, [])]
        if with_shared:
            pids += [pid for g in groups for pid in self.shared_into.get(g, [])]
        seen: set[int] = set()
        return [p for p in pids if p not in self.deleted and not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]

    def epic_issue_records(self, gid: int, epic: Record) -> list[Record]:
        out = []
        for pid, iid, link_id, position in self.group_data[gid].epic_links.get(epic["id"], []):
            if pid in self.deleted:
                continue
            issue = self.data(pid).issue_by_iid.get(iid)
            if issue is not None:
                out.append({**issue, "epic_issue_id": link_id, "relative_position": position})
        return out

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

    @_mutation
    def update_epic(self, group_id: int, iid: int, **fields: t.Any) -> Record:
        with self.lock:
            epic = next(e for e in self.group_data[group_id].epics if e["iid"] == iid)
            return self._touch(epic, **fields)

    @_mutation
    def update_milestone(self, *ids: int, **fields: t.Any) -> Record:
        """`update_milestone(milestone_id, ...)` or `update_milestone(project_or_group_id, milestone_id, ...)`."""
        milestone_id = ids[-1]
        with self.lock:
            for g in self.group_data.values():
                for m in g.milestones:
                    if m["id"] == milestone_id:
                        return self._touch(m, **fields)
            candidates = [ids[0]] if len(ids) > 1 and ids[0] in self.projects else self.live_projects()
            for pid in candidates:
                for m in self.data(pid).milestones:
                    if m["id"] == milestone_id:
                        return self._touch(m, **fields)
        raise KeyError(milestone_id)

    # Deletions. GitLab removes the row itself (lib/api/branches.rb `DELETE :id/repository/branches/:branch`
    # through Branches::DeleteService; lib/api/members.rb `DELETE :id/members/:user_id` through
    # Members::DestroyService; lib/api/labels.rb and lib/api/group_labels.rb `DELETE .../labels/:name`,
    # which destroy the label), so the next listing simply no longer has it: nothing marks it deleted.

    @_mutation
    def remove_project_member(self, project_id: int, user_id: int) -> None:
        with self.lock:
            d = self.data(project_id)
            d.members[:] = [m for m in d.members if m["id"] != user_id]

    @_mutation
    def delete_project_label(self, project_id: int, label_id: int) -> None:
        with self.lock:
            d = self.data(project_id)
            d.labels[:] = [lab for lab in d.labels if lab["id"] != label_id]

    @_mutation
    def remove_group_member(self, group_id: int, user_id: int) -> None:
        with self.lock:
            g = self.group_data[group_id]
            g.members[:] = [m for m in g.members if m["id"] != user_id]

    @_mutation
    def delete_group_label(self, group_id: int, label_id: int) -> None:
        with self.lock:
            g = self.group_data[group_id]
            g.labels[:] = [lab for lab in g.labels if lab["id"] != label_id]

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
