"""Groups and what groups and projects hold alike: members, labels, milestones; and epics, boards, variables.

Models gitlabhq lib/api/groups.rb, lib/api/members.rb, lib/api/labels.rb / group_labels.rb,
lib/api/milestones.rb / group_milestones.rb, lib/api/group_boards.rb, ee/lib/api/epics.rb,
ee/lib/api/epic_issues.rb, lib/api/group_variables.rb, and the entities lib/api/entities/group*.rb,
member.rb, label.rb, milestone.rb, board.rb, ee/lib/api/entities/epic.rb.
"""

from __future__ import annotations

import random
import typing as t

from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import (
    _G,
    _P,
    FORBIDDEN,
    Listing,
    Record,
    Request,
    choice,
    invalid,
    not_found,
    order,
    sort_param,
    window,
)
from tests.gitlab_sim.model import (
    API,
    WEB,
    GroupData,
    ProjectGen,
    _markdown,
    _mutation,
    _sentence,
    _sha,
    _times,
    runners_token,
)
from tests.gitlab_sim.util import DAY, NOW_EPOCH, date_only, db_time, parse_time


class GroupsModel:
    """Planning groups, generating their records and a project's members, labels and milestones; changing them."""

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

    @_mutation
    def update_epic(self, group_id: int, iid: int, **fields: t.Any) -> Record:
        with self.lock:
            epic = next(e for e in self.group_data[group_id].epics if e["iid"] == iid)
            return self._touch(epic, **fields)


class MembersLabelsMilestonesModel:
    """What groups and projects both have: members, labels and milestones (generating and changing them)."""

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


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/groups", "groups"),
    ("GET", _G, "group"),
    ("GET", _G + r"/(?P<kind>descendant_groups|subgroups)", "subgroups"),
    ("GET", _G + "/members", "group_members"),
    ("GET", _G + "/labels", "group_labels"),
    ("GET", _G + "/milestones", "group_milestones"),
    ("GET", _G + "/boards", "group_boards"),
    ("GET", _G + "/epics", "epics"),
    ("GET", _G + r"/epics/(?P<iid>\d+)", "epic"),
    ("GET", _G + r"/epics/(?P<iid>\d+)/issues", "epic_issues"),
    ("GET", _G + "/variables", "group_variables"),
    ("GET", _P + "/members", "project_members"),
    ("GET", _P + "/users", "project_users"),
    ("GET", _P + "/labels", "project_labels"),
    ("GET", _P + "/milestones", "project_milestones"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {
    "project_members": "members",
    "project_users": "users",
    "project_labels": "labels",
    "project_milestones": "milestones",
}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset({"epics", "epic_issues"})


class GroupsRoutes:
    """The group endpoints, and the member, label and milestone endpoints of groups and projects."""

    def _group_list(self, req: Request, gids: list[int]) -> Listing:
        groups = [self.ds.groups[g] for g in gids]
        skip = {int(v) for v in req.arr("skip_groups") if v.isdigit()}
        if skip:
            groups = [g for g in groups if g["id"] not in skip]
        if req.q.get("search"):
            s = req.q["search"].lower()
            groups = [g for g in groups if s in g["name"].lower() or s in g["path"].lower()]
        if req.q.get("visibility"):
            groups = [g for g in groups if g["visibility"] == req.q["visibility"]]
        by = choice(req, "order_by", ("name", "path", "id", "similarity"), "name")
        sort = sort_param(req, "asc")
        field_name = {"similarity": "name"}.get(by, by)
        result = order(groups, field_name, sort)
        if req.flag("statistics"):
            stats = {
                "storage_size": 0,
                "repository_size": 0,
                "wiki_size": 0,
                "lfs_objects_size": 0,
                "job_artifacts_size": 0,
                "pipeline_artifacts_size": 0,
                "packages_size": 0,
                "snippets_size": 0,
                "uploads_size": 0,
            }
            return Listing(result, transform=lambda g: {**g, "statistics": stats}, transform_key="statistics")
        return Listing(result)

    def h_groups(self, req: Request) -> Listing:
        gids = list(self.ds.groups)
        if req.flag("top_level_only"):
            gids = [g for g in gids if self.ds.groups[g]["parent_id"] is None]
        return self._group_list(req, gids)

    def h_group(self, req: Request) -> Record:
        gid = self.group(req)
        group = dict(self.ds.groups[gid])
        group.update(
            shared_with_groups=[],
            prevent_sharing_groups_outside_hierarchy=False,
            prevent_forking_outside_group=None,
            membership_lock=False,
            # GroupDetail's runner registration token, to owners (lib/api/entities/group_detail.rb)
            runners_token=runners_token(self.ds.seed, "group", gid),
        )
        if group["parent_id"] is None:  # GroupDetail: root groups, to owners
            group["enabled_git_access_protocol"] = "all"
        if req.flag("with_projects", True):
            # The embedded arrays hold at most 100 projects (the reason scope.py never uses them).
            own = self.ds.group_project_ids(gid, include_subgroups=False, with_shared=False)[:100]
            shared = [p for p in self.ds.shared_into.get(gid, []) if p not in self.ds.deleted][:100]
            group["projects"] = [self.ds.projects[p] for p in own]
            group["shared_projects"] = [self.ds.projects[p] for p in shared]
        return group

    def h_subgroups(self, req: Request) -> Listing:
        gid = self.group(req)
        if req.params["kind"] == "subgroups":
            gids = list(self.ds.group_children.get(gid, []))
        else:
            gids = self.ds.descendants(gid)
        return self._group_list(req, gids)

    def _members(self, req: Request, members: list[Record]) -> Listing:
        if req.q.get("query"):
            s = req.q["query"].lower()
            members = [m for m in members if s in m["username"].lower() or s in m["name"].lower()]
        ids = {int(v) for v in req.arr("user_ids") if v.isdigit()}
        if ids:
            members = [m for m in members if m["id"] in ids]
        skip = {int(v) for v in req.arr("skip_users") if v.isdigit()}
        if skip:
            members = [m for m in members if m["id"] not in skip]
        return Listing(order(members, "id", "asc"))

    def h_group_members(self, req: Request) -> Listing:
        return self._members(req, self.ds.group_data[self.group(req)].members)

    def h_group_labels(self, req: Request) -> Listing:
        gid = self.group(req)
        gids = [gid]
        if req.flag("include_ancestor_groups", True):
            gids += self.ds.ancestors(gid)[1:]
        if req.flag("include_descendant_groups", False):
            gids += self.ds.descendants(gid)
        labels = [lab for g in gids for lab in self.ds.group_data[g].labels]
        return self._labels(req, labels)

    def _labels(self, req: Request, labels: list[Record]) -> Listing:
        if req.q.get("search"):
            s = req.q["search"].lower()
            labels = [lab for lab in labels if s in lab["name"].lower()]
        return Listing(sorted(labels, key=lambda lab: (lab["name"].lower(), lab["id"])))

    def _milestones(self, req: Request, milestones: list[Record]) -> Listing:
        state = req.q.get("state")
        if state:
            if state not in ("active", "closed"):
                raise invalid("state")
            milestones = [m for m in milestones if m["state"] == state]
        iids = {int(v) for v in req.arr("iids") if v.isdigit()}
        if iids:
            milestones = [m for m in milestones if m["iid"] in iids]
        if req.q.get("title"):
            milestones = [m for m in milestones if m["title"] == req.q["title"]]
        if req.q.get("search"):
            s = req.q["search"].lower()
            milestones = [m for m in milestones if s in m["title"].lower() or s in (m["description"] or "").lower()]
        milestones = window(milestones, req, "updated_at", "updated_after", "updated_before")
        return Listing(
            sorted(milestones, key=lambda m: (m["due_date"] is None, m["due_date"] or "", m["title"], m["id"]))
        )

    def h_group_milestones(self, req: Request) -> Listing:
        gid = self.group(req)
        gids = [gid]
        if req.flag("include_ancestors", False) or req.flag("include_parent_milestones", False):
            gids += self.ds.ancestors(gid)[1:]
        if req.flag("include_descendants", False):
            gids += self.ds.descendants(gid)
        return self._milestones(req, [m for g in gids for m in self.ds.group_data[g].milestones])

    def h_group_boards(self, req: Request) -> Listing:
        gid = self.group(req)
        return Listing(sorted(self.ds.group_data[gid].boards, key=lambda b: (b["name"], b["id"])))

    def _epic_group(self, req: Request) -> int:
        gid = self.group(req)
        if gid not in self.ds.epics_licensed:
            raise FORBIDDEN  # epics unavailable on the tier -> 403 (§6.16)
        return gid

    def h_epics(self, req: Request) -> Listing:
        gid = self._epic_group(req)
        gids = [gid]
        if req.flag("include_descendant_groups", True):
            gids += [g for g in self.ds.descendants(gid) if g in self.ds.epics_licensed]
        if req.flag("include_ancestor_groups", False):
            gids += self.ds.ancestors(gid)[1:]
        epics = [e for g in gids for e in self.ds.group_data[g].epics]
        state = req.q.get("state") or "all"
        if state not in ("opened", "closed", "all"):
            raise invalid("state")
        if state != "all":
            epics = [e for e in epics if e["state"] == state]
        if req.q.get("author_id", "").isdigit():
            epics = [e for e in epics if e["author"]["id"] == int(req.q["author_id"])]
        if req.q.get("labels"):
            wanted = set(req.q["labels"].split(","))
            epics = [e for e in epics if wanted <= set(e["labels"])]
        if req.q.get("search"):
            s = req.q["search"].lower()
            epics = [e for e in epics if s in e["title"].lower()]
        epics = window(epics, req, "updated_at", "updated_after", "updated_before")
        epics = window(epics, req, "created_at", "created_after", "created_before")
        by = choice(req, "order_by", ("created_at", "updated_at", "title"), "created_at")
        return Listing(order(epics, by, sort_param(req, "desc")))

    def _find_epic(self, gid: int, iid: int) -> Record:
        epic = next((e for e in self.ds.group_data[gid].epics if e["iid"] == iid), None)
        if epic is None:
            raise not_found("Epic")
        return epic

    def h_epic(self, req: Request) -> Record:
        gid = self._epic_group(req)
        return self._find_epic(gid, int(req.params["iid"]))

    def h_epic_issues(self, req: Request) -> Listing:
        gid = self._epic_group(req)
        epic = self._find_epic(gid, int(req.params["iid"]))
        return Listing(self.ds.epic_issue_records(gid, epic))

    def h_group_variables(self, req: Request) -> Listing:
        return Listing(list(self.ds.group_data[self.group(req)].variables))

    def h_project_members(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "project_members")
        return self._members(req, d.members)

    def h_project_users(self, req: Request) -> Listing:
        pid, _d = self._pfeature(req, "project_users")
        users = self.ds.project_users(pid)
        if req.q.get("search"):
            s = req.q["search"].lower()
            users = [u for u in users if s in u["username"].lower() or s in u["name"].lower()]
        return Listing(users)

    def h_project_labels(self, req: Request) -> Listing:
        pid, d = self._pfeature(req, "project_labels")
        labels = list(d.labels)
        if req.flag("include_ancestor_groups", True):  # default true (§6.11)
            for g in self.ds.ancestors(self.ds.projects[pid]["namespace"]["id"]):
                labels += [{**lab, "priority": None, "is_project_label": False} for lab in self.ds.group_data[g].labels]
        return self._labels(req, labels)

    def h_project_milestones(self, req: Request) -> Listing:
        pid, d = self._pfeature(req, "project_milestones")
        milestones = list(d.milestones)
        if req.flag("include_ancestors", False) or req.flag("include_parent_milestones", False):
            for g in self.ds.ancestors(self.ds.projects[pid]["namespace"]["id"]):
                milestones += self.ds.group_data[g].milestones
        return self._milestones(req, milestones)
