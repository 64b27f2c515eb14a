"""Merge requests: with their commits, notes (and diff notes), approvals and resource events.

Models gitlabhq lib/api/merge_requests.rb, lib/api/merge_request_approvals.rb (ee), lib/api/notes.rb, the
entities lib/api/entities/merge_request*.rb, and app/finders/merge_requests_finder.rb.
"""

from __future__ import annotations

import random
import typing as t

from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import (
    _G,
    _P,
    ApiError,
    Listing,
    Record,
    Request,
    choice,
    invalid,
    not_found,
    order,
    sort_param,
)
from tests.gitlab_sim.model import ProjectGen, _markdown, _mutation, _pick, _sentence, _sha, _split, _times
from tests.gitlab_sim.util import DAY, NOW_EPOCH, db_time, parse_time

SIMPLE_MR_KEYS = ("id", "iid", "project_id", "title", "description", "state", "created_at", "updated_at", "web_url")


class MergeRequestsModel:
    """Generating and changing a project's merge requests."""

    def _generate_merge_requests(self, g: ProjectGen) -> None:
        """Merge requests with their commits, notes and approvals."""
        (
            pid,
            counts,
            bases,
            rng,
            d,
            start,
            full,
            web,
            updated_from,
            people,
            label_names,
            ms_short,
            tz,
            branch_names,
            note_id,
        ) = (
            g.pid,
            g.counts,
            g.bases,
            g.rng,
            g.d,
            g.start,
            g.full,
            g.web,
            g.updated_from,
            g.people,
            g.label_names,
            g.ms_short,
            g.tz,
            g.branch_names,
            g.note_id,
        )
        mr_commit_split = _split(rng, counts["merge_request_commits"], counts["merge_requests"])
        mr_note_split = _split(rng, counts["merge_request_notes"], counts["merge_requests"])
        for k, created in enumerate(_times(rng, counts["merge_requests"], start, NOW_EPOCH - 2 * DAY)):
            iid = k + 1
            updated = updated_from(created)
            mr = self._merge_request(
                rng,
                pid,
                bases["merge_requests"] + k + 1,
                iid,
                created,
                updated,
                people,
                label_names,
                ms_short,
                full,
                web,
                branch_names,
            )
            commits = []
            parent = d.commits[-1]["id"] if d.commits else None
            for j, when in enumerate(
                _times(rng, mr_commit_split[k], created - 3600, created + 0.5 * (updated - created))
            ):
                sha = _sha(self.seed, pid, "mr", iid, j)
                c = self._commit(rng, sha, parent, when, tz, web, None)
                commits.append(c)
                parent = sha
            d.mr_commits[iid] = list(reversed(commits))
            if commits:
                mr["sha"] = commits[-1]["id"]
            notes = []
            for when in _times(rng, mr_note_split[k], created, updated):
                note_id += 1
                notes.append(self._note(rng, note_id, mr, "MergeRequest", when, people))
            d.mr_notes[iid] = notes
            mr["user_notes_count"] = sum(1 for n in notes if not n["system"])
            d.merge_requests.append(mr)
            d.mr_by_iid[iid] = mr
            approvers = rng.sample(people, min(len(people), rng.choice([0, 0, 1, 2])))
            d.mr_approvals[iid] = self._approvals(mr, approvers, web)
        g.note_id = note_id

    def _merge_request(
        self,
        rng: random.Random,
        pid: int,
        id_: int,
        iid: int,
        created: float,
        updated: float,
        people: list[int],
        label_names: list[str],
        milestones: list[Record],
        full: str,
        web: str,
        branches: list[str],
    ) -> Record:
        ub = self.user_basic
        title = _sentence(rng)
        state = rng.choices(["merged", "opened", "closed", "locked"], [55, 30, 14, 1])[0]
        merger = ub[rng.choice(people)] if state == "merged" else None
        assignees = [ub[u] for u in rng.sample(people, min(len(people), rng.choice([0, 1, 1])))]
        draft = state == "opened" and rng.random() < 0.2
        source = branches[1 + iid % (len(branches) - 1)] if len(branches) > 1 else f"feature/{iid}"
        estimate = rng.choice([0, 0, 3600])
        return {
            "id": id_,
            "iid": iid,
            "project_id": pid,
            "title": f"Draft: {title}" if draft else title,
            "description": _markdown(rng, title),
            "state": state,
            "imported": False,
            "imported_from": "none",
            "merged_by": merger,
            "merge_user": merger,
            "merged_at": db_time(updated) if state == "merged" else None,
            "merge_after": None,
            "prepared_at": db_time(created + 5),
            "closed_by": ub[rng.choice(people)] if state == "closed" else None,
            "closed_at": db_time(updated) if state == "closed" else None,
            "created_at": db_time(created),
            "updated_at": db_time(updated),
            "target_branch": "main",
            "source_branch": source,
            "upvotes": rng.randrange(3),
            "downvotes": 0,
            "author": ub[rng.choice(people)],
            "assignee": assignees[0] if assignees else None,
            "assignees": assignees,
            "reviewers": [ub[u] for u in rng.sample(people, min(len(people), rng.choice([0, 1])))],
            "source_project_id": pid,
            "target_project_id": pid,
            "labels": sorted(rng.sample(label_names, min(len(label_names), rng.randint(0, 2)))),
            "draft": draft,
            "work_in_progress": draft,
            "milestone": rng.choice(milestones) if milestones and rng.random() < 0.4 else None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged" if state == "opened" else "unchecked",
            "detailed_merge_status": "mergeable" if state == "opened" else "not_open",
            "sha": None,
            "merge_commit_sha": _sha(pid, "merge", iid) if state == "merged" else None,
            "squash_commit_sha": None,
            "user_notes_count": 0,
            "discussion_locked": None,
            "should_remove_source_branch": None,
            "force_remove_source_branch": True,
            "allow_collaboration": False,
            "allow_maintainer_to_push": False,
            "web_url": f"{web}/-/merge_requests/{iid}",
            # deprecated for `references`, still exposed (lib/api/entities/merge_request_basic.rb)
            "reference": f"!{iid}",
            "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"{full}!{iid}"},
            "time_stats": {
                "time_estimate": estimate,
                "total_time_spent": 0,
                "human_time_estimate": "1h" if estimate else None,
                "human_total_time_spent": None,
            },
            "squash": False,
            "squash_on_merge": False,
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": False,
            "blocking_discussions_resolved": True,
            "approvals_before_merge": None,
        }

    def _approvals(self, mr: Record, approvers: list[int], web: str) -> Record:
        approved_by = [{"user": self.user_basic[u], "approved_at": mr["updated_at"]} for u in approvers]
        return {
            "id": mr["id"],
            "iid": mr["iid"],
            "project_id": mr["project_id"],
            "title": mr["title"],
            "description": mr["description"],
            "state": mr["state"],
            "created_at": mr["created_at"],
            "updated_at": mr["updated_at"],
            "merge_status": mr["merge_status"],
            "approved": bool(approved_by),
            "approvals_required": 1,
            "approvals_left": 0 if approved_by else 1,
            "require_password_to_approve": False,
            "approved_by": approved_by,
            "suggested_approvers": [],
            "approvers": [],
            "approver_groups": [],
            "user_has_approved": False,
            "user_can_approve": True,
            "approval_rules_left": [],
            "has_approval_rules": False,
            "merge_request_approvers_available": True,
            "multiple_approval_rules_available": True,
            "invalid_approvers_rules": [],
        }

    def _diff_note(self, note_id: int, mr: Record, when: float, people: list[int]) -> Record:
        """A third of a merge request's user notes are comments on its diff: a `DiffNote`, resolvable.

        lib/api/entities/note.rb: `commit_id` and `position` (`Gitlab::Diff::Position#to_h`) for a DiffNote on
        a merge request, `resolved`, `resolved_by` and `resolved_at` for resolvable notes. A generator of its
        own, so that every other record stays as it was.
        """
        rng = random.Random(f"{self.seed}/diff-note/{note_id}")
        if rng.random() >= 1 / 3:
            return {}
        resolved = rng.random() < 0.5
        path = f"{_pick(rng, W.NOUNS)}/{_pick(rng, W.NOUNS)}.py"
        line = rng.randint(1, 400)
        return {
            "type": "DiffNote",
            "commit_id": mr["sha"],
            "position": {
                "base_sha": _sha(self.seed, "base", mr["id"]),
                "start_sha": _sha(self.seed, "base", mr["id"]),
                "head_sha": mr["sha"],
                "old_path": path,
                "new_path": path,
                "position_type": "text",
                "old_line": None,
                "new_line": line,
                "line_range": None,
            },
            "resolvable": True,
            "resolved": resolved,
            "resolved_by": self.user_basic[rng.choice(people)] if resolved else None,
            # resolved within the hour, never after the merge request's last update
            "resolved_at": db_time(max(when, min(when + 3600, parse_time(mr["updated_at"]) or when)))
            if resolved
            else None,
        }

    @_mutation
    def create_merge_request(self, project_id: int, **fields: t.Any) -> Record:
        with self.lock:
            d = self.data(project_id)
            project = self.projects[project_id]
            iid = max(d.mr_by_iid, default=0) + 1
            now = self._tick()
            epoch = parse_time(now) or NOW_EPOCH
            members = [m["id"] for m in d.members] or [1]
            mr = self._merge_request(
                self._mutation_rng,
                project_id,
                self._new_id("merge_requests"),
                iid,
                epoch,
                epoch,
                members,
                [],
                [],
                project["path_with_namespace"],
                project["web_url"],
                [b["name"] for b in d.branches],
            )
            mr.update(
                state="opened",
                merged_by=None,
                merge_user=None,
                merged_at=None,
                closed_at=None,
                closed_by=None,
                merge_commit_sha=None,
                created_at=now,
                updated_at=now,
            )
            mr.update(fields)
            d.merge_requests.append(mr)
            d.mr_by_iid[iid] = mr
            d.mr_commits[iid] = []
            d.mr_notes[iid] = []
            d.mr_approvals[iid] = self._approvals(mr, [], project["web_url"])
            return mr

    @_mutation
    def update_merge_request(self, project_id: int, iid: int, **fields: t.Any) -> Record:
        with self.lock:
            d = self.data(project_id)
            mr = self._touch(d.mr_by_iid[iid], **fields)
            d.mr_approvals[iid].update(updated_at=mr["updated_at"], state=mr["state"], title=mr["title"])
            return mr

    @_mutation
    def add_merge_request_commit(self, project_id: int, iid: int, **fields: t.Any) -> Record:
        with self.lock:
            d = self.data(project_id)
            mr = d.mr_by_iid[iid]
            commits = d.mr_commits[iid]
            now = self._tick()
            sha = _sha(self.seed, project_id, "mr", iid, "new", len(commits), self.version)
            parent = commits[0]["id"] if commits else None
            c = self._commit(
                self._mutation_rng,
                sha,
                parent,
                parse_time(now) or NOW_EPOCH,
                0,
                self.projects[project_id]["web_url"],
                None,
            )
            c.update(fields)
            commits.insert(0, c)
            mr["sha"] = sha
            mr["updated_at"] = now
            d.mr_approvals[iid]["updated_at"] = now
            return c

    @_mutation
    def approve_merge_request(self, project_id: int, iid: int, user_id: int | None = None) -> Record:
        with self.lock:
            d = self.data(project_id)
            mr = d.mr_by_iid[iid]
            now = self._tick()
            approvals = d.mr_approvals[iid]
            uid = user_id or next(
                (m["id"] for m in d.members if all(a["user"]["id"] != m["id"] for a in approvals["approved_by"])), 1
            )
            approvals["approved_by"].append({"user": self.user_basic[uid], "approved_at": now})
            approvals.update(approved=True, approvals_left=0, updated_at=now)
            mr["updated_at"] = now
            return approvals


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", _G + "/merge_requests", "group_merge_requests"),
    ("GET", _P + "/merge_requests", "project_merge_requests"),
    ("GET", _P + r"/merge_requests/(?P<iid>\d+)", "merge_request"),
    ("GET", _P + r"/merge_requests/(?P<iid>\d+)/commits", "merge_request_commits"),
    ("GET", _P + r"/merge_requests/(?P<iid>\d+)/notes", "merge_request_notes"),
    ("GET", _P + r"/merge_requests/(?P<iid>\d+)/approvals", "merge_request_approvals"),
    (
        "GET",
        _P + r"/merge_requests/(?P<iid>\d+)/resource_(?P<kind>label|state|milestone)_events",
        "merge_request_events",
    ),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {
    "project_merge_requests": "merge_requests",
    "merge_request": "merge_requests",
    "merge_request_commits": "merge_requests",
    "merge_request_notes": "merge_requests",
    "merge_request_approvals": "merge_requests",
    "merge_request_events": "merge_requests",
}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset({"group_merge_requests", "project_merge_requests"})


class MergeRequestsRoutes:
    """The group and project merge request endpoints and a merge request's commits, notes, events and approvals."""

    def h_group_merge_requests(self, req: Request) -> Listing:
        gid = self.group(req)
        mrs = [m for p in self._group_pids(req, gid, "merge_requests") for m in self.ds.data(p).merge_requests]
        listing = self._merge_requests(req, mrs)
        # `lib/api/merge_requests.rb`: `rescue_from ActiveRecord::QueryCanceled` →
        # `render_api_error!({ error: 'Request timed out' }, 408)`.
        self._statement_timeout(listing, ApiError(408, {"message": {"error": "Request timed out"}}))
        return listing

    def _merge_requests(self, req: Request, mrs: list[Record]) -> Listing:
        state = req.q.get("state") or "all"
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise invalid("state")
        if state != "all":
            mrs = [m for m in mrs if m["state"] == state]
        for name in ("source_branch", "target_branch"):
            if req.q.get(name):
                mrs = [m for m in mrs if m[name] == req.q[name]]
        wip = req.q.get("wip")
        if wip in ("yes", "no"):
            mrs = [m for m in mrs if m["draft"] == (wip == "yes")]
        mrs = self._common(req, mrs)
        by = choice(req, "order_by", ("created_at", "updated_at", "title", "merged_at"), "created_at")
        listing = Listing(order(mrs, by, sort_param(req, "desc")))
        if req.q.get("view") == "simple":
            listing.transform = lambda m: {k: m[k] for k in SIMPLE_MR_KEYS}
            listing.transform_key = "simple"
        return listing

    def h_project_merge_requests(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "project_merge_requests")
        return self._merge_requests(req, d.merge_requests)

    def _mr(self, req: Request, name: str) -> tuple[t.Any, int]:
        _pid, d = self._pfeature(req, name)
        iid = int(req.params["iid"])
        if iid not in d.mr_by_iid:
            raise not_found("Merge Request")
        return d, iid

    def h_merge_request(self, req: Request) -> Record:
        d, iid = self._mr(req, "merge_request")
        return {
            **d.mr_by_iid[iid],
            "subscribed": False,
            "changes_count": str(len(d.mr_commits[iid])),
            "latest_build_started_at": None,
            "latest_build_finished_at": None,
            "first_deployed_to_production_at": None,
            "pipeline": None,
            "head_pipeline": None,
            "diff_refs": None,
            "merge_error": None,
            "first_contribution": False,
            "user": {"can_merge": True},
        }

    def h_merge_request_commits(self, req: Request) -> Listing:
        d, iid = self._mr(req, "merge_request_commits")
        return Listing(list(d.mr_commits[iid]))

    def h_merge_request_notes(self, req: Request) -> Listing:
        d, iid = self._mr(req, "merge_request_notes")
        return self._notes(req, d.mr_notes[iid])

    def h_merge_request_events(self, req: Request) -> Listing:
        """A merge request's resource label, state or milestone events, oldest first."""
        pid, _d = self._pfeature(req, "merge_request_events")
        events = self.ds.resource_events(pid, req.params["kind"], "merge_requests", int(req.params["iid"]))
        if events is None:
            raise not_found("Merge Request")
        return Listing(events)

    def h_merge_request_approvals(self, req: Request) -> Record:
        d, iid = self._mr(req, "merge_request_approvals")
        return d.mr_approvals[iid]
