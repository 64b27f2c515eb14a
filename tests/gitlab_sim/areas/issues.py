"""Issues: with their notes and resource (label, state, milestone) events; the filters issues and merge
requests share.

Models gitlabhq lib/api/issues.rb, lib/api/notes.rb, lib/api/resource_label_events.rb,
resource_state_events.rb, resource_milestone_events.rb, the entities lib/api/entities/issue*.rb, note.rb,
resource_*_event.rb, and app/finders/issuable_finder.rb / issues_finder.rb.
"""

from __future__ import annotations

import random
import typing as t

from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import (
    _G,
    _P,
    KEYSET_UNSUPPORTED,
    ApiError,
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
    ProjectGen,
    _markdown,
    _mutation,
    _sentence,
    _split,
    _times,
)
from tests.gitlab_sim.util import DAY, NOW_EPOCH, date_only, db_time, parse_time

# Resource events take their ids from here on (plus 16 x their issue's or merge request's id).
RESOURCE_EVENT_BASES = {
    (kind, resource): 1_000_000_000 * (2 * n + m + 1)
    for n, kind in enumerate(("label", "state", "milestone"))
    for m, resource in enumerate(("issues", "merge_requests"))
}


def _label_basic(label: Record) -> Record:
    """Entities::LabelBasic."""
    keys = ("id", "name", "color", "description", "description_html", "text_color")
    return {key: label.get(key) for key in keys}


class IssuesModel:
    """Generating and changing a project's issues and notes; resource events of issues and merge requests."""

    def _generate_issues(self, g: ProjectGen) -> None:
        """Issues and their notes."""
        pid, counts, bases, rng, d, start, full, web, updated_from, people, label_names, ms_short = (
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
        )
        note_id = bases["notes"]
        for k, created in enumerate(_times(rng, counts["issues"], start, NOW_EPOCH - 2 * DAY)):
            iid = k + 1
            issue = self._issue(
                rng,
                pid,
                bases["issues"] + k + 1,
                iid,
                created,
                updated_from(created),
                people,
                label_names,
                ms_short,
                full,
                web,
            )
            d.issues.append(issue)
            d.issue_by_iid[iid] = issue
            d.issue_notes[iid] = []
        for release in d.releases:
            # A release's milestones are Entities::MilestoneWithStats (lib/api/entities/release.rb), whose
            # issue_stats count the milestone's issues (lib/api/entities/milestone_with_stats.rb); counted here,
            # as generated.
            release["milestones"] = [
                {
                    **milestone,
                    "issue_stats": {
                        "total": sum(1 for i in d.issues if (i["milestone"] or {}).get("id") == milestone["id"]),
                        "closed": sum(
                            1
                            for i in d.issues
                            if (i["milestone"] or {}).get("id") == milestone["id"] and i["state"] == "closed"
                        ),
                    },
                }
                for milestone in release["milestones"]
            ]
        if d.issues:
            per_issue = _split(rng, counts["issue_notes"], len(d.issues))
            for issue, n_notes in zip(d.issues, per_issue, strict=True):
                created0 = parse_time(issue["created_at"]) or start
                updated0 = parse_time(issue["updated_at"]) or created0
                for when in _times(rng, n_notes, created0, updated0):
                    note_id += 1
                    note = self._note(rng, note_id, issue, "Issue", when, people)
                    d.issue_notes[issue["iid"]].append(note)
                issue["user_notes_count"] = sum(1 for n in d.issue_notes[issue["iid"]] if not n["system"])
        g.note_id = note_id

    def _issue(
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
    ) -> Record:
        ub = self.user_basic
        title = _sentence(rng)
        closed = rng.random() < 0.4
        assignees = [ub[u] for u in rng.sample(people, min(len(people), rng.choice([0, 1, 1, 2])))]
        epic = self.issue_epic.get((pid, iid))
        estimate = rng.choice([0, 0, 3600, 7200])
        return {
            "id": id_,
            "iid": iid,
            "project_id": pid,
            "title": title,
            "description": _markdown(rng, title),
            "state": "closed" if closed else "opened",
            "created_at": db_time(created),
            "updated_at": db_time(updated),
            "closed_at": db_time(updated) if closed else None,
            "closed_by": ub[rng.choice(people)] if closed else None,
            "labels": sorted(rng.sample(label_names, min(len(label_names), rng.randint(0, 3)))),
            "milestone": rng.choice(milestones) if milestones and rng.random() < 0.5 else None,
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "author": ub[rng.choice(people)],
            "type": "ISSUE",
            "upvotes": rng.randrange(4),
            "downvotes": 0,
            "merge_requests_count": rng.randrange(2),
            "user_notes_count": 0,
            "due_date": date_only(created + 30 * DAY) if rng.random() < 0.3 else None,
            "imported": False,
            "imported_from": "none",
            "web_url": f"{web}/-/issues/{iid}",
            "references": {"short": f"#{iid}", "relative": f"#{iid}", "full": f"{full}#{iid}"},
            "time_stats": {
                "time_estimate": estimate,
                "total_time_spent": 0,
                "human_time_estimate": f"{estimate // 3600}h" if estimate else None,
                "human_total_time_spent": None,
            },
            "has_tasks": True,
            "task_status": "1 of 3 checklist items completed",
            "confidential": rng.random() < 0.05,
            "discussion_locked": None,
            "issue_type": "issue",
            "severity": "UNKNOWN",
            "_links": {
                "self": f"{API}/projects/{pid}/issues/{iid}",
                "notes": f"{API}/projects/{pid}/issues/{iid}/notes",
                "award_emoji": f"{API}/projects/{pid}/issues/{iid}/award_emoji",
                "project": f"{API}/projects/{pid}",
                "closed_as_duplicate_of": None,
            },
            "task_completion_status": {"count": 3, "completed_count": 1},
            "weight": rng.choice([None, 1, 2, 3, 5]),
            "epic_iid": epic["iid"] if epic else None,
            "epic": {
                "id": epic["id"],
                "iid": epic["iid"],
                "title": epic["title"],
                "url": epic["web_url"],
                "group_id": epic["group_id"],
                "human_readable_end_date": None,
                "human_readable_timestamp": None,
            }
            if epic
            else None,
            "iteration": None,
            "health_status": None,
            # Entities::Issue exposes these always (lib/api/entities/issue.rb); `subscribed` is left out of
            # listings, which render with `include_subscribed: false`.
            "moved_to_id": None,
            "service_desk_reply_to": None,
        }

    def _note(
        self, rng: random.Random, note_id: int, parent: Record, kind: str, when: float, people: list[int]
    ) -> Record:
        system = rng.random() < 0.2
        body = (
            rng.choice(["changed the description", "added ~bug label", "assigned to @root", "mentioned in !3"])
            if system
            else f"{_sentence(rng)}. Could you check `{rng.choice(W.NOUNS)}`?"
        )
        edited = when + (rng.random() * 3600 if rng.random() < 0.1 else 0)
        return {
            "id": note_id,
            "type": None if system or rng.random() < 0.7 else "DiscussionNote",
            "body": body,
            "attachment": None,
            "author": self.user_basic[rng.choice(people)],
            "created_at": db_time(when),
            "updated_at": db_time(min(edited, parse_time(parent["updated_at"]) or edited)),
            "system": system,
            "noteable_id": parent["id"],
            "noteable_type": kind,
            "project_id": parent["project_id"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "imported": False,
            "imported_from": "none",
            "noteable_iid": parent["iid"],
            "commands_changes": {},
            **(self._diff_note(note_id, parent, when, people) if kind == "MergeRequest" and not system else {}),
        }

    @_mutation
    def create_issue(self, project_id: int, **fields: t.Any) -> Record:
        with self.lock:
            d = self.data(project_id)
            project = self.projects[project_id]
            iid = max(d.issue_by_iid, default=0) + 1
            rng = self._mutation_rng
            now = self._tick()
            members = [m["id"] for m in d.members] or [1]
            issue = self._issue(
                rng,
                project_id,
                self._new_id("issues"),
                iid,
                parse_time(now) or NOW_EPOCH,
                parse_time(now) or NOW_EPOCH,
                members,
                [],
                [],
                project["path_with_namespace"],
                project["web_url"],
            )
            issue.update(state="opened", closed_at=None, closed_by=None, created_at=now, updated_at=now)
            issue.update(fields)
            d.issues.append(issue)
            d.issue_by_iid[iid] = issue
            d.issue_notes[iid] = []
            return issue

    @_mutation
    def update_issue(self, project_id: int, iid: int, **fields: t.Any) -> Record:
        with self.lock:
            return self._touch(self.data(project_id).issue_by_iid[iid], **fields)

    @_mutation
    def add_issue_note(self, project_id: int, iid: int, **fields: t.Any) -> Record:
        with self.lock:
            d = self.data(project_id)
            issue = d.issue_by_iid[iid]
            now = self._tick()
            note = self._note(
                self._mutation_rng,
                self._new_id("notes"),
                issue,
                "Issue",
                parse_time(now) or 0,
                [m["id"] for m in d.members] or [1],
            )
            note.update(system=False, created_at=now, updated_at=now, **fields)
            d.issue_notes[iid].append(note)
            issue["user_notes_count"] += 1
            issue["updated_at"] = now
            return note

    @_mutation
    def delete_issue(self, project_id: int, iid: int) -> None:
        """`DELETE /projects/:id/issues/:issue_iid` (lib/api/issues.rb): Issuable::DestroyService destroys the
        issue and its notes and creates no event (app/services/issuable/destroy_service.rb), so no listing,
        filter or event shows that it is gone."""
        with self.lock:
            d = self.data(project_id)
            issue = d.issue_by_iid.pop(iid)
            d.issues[:] = [i for i in d.issues if i is not issue]
            d.issue_notes.pop(iid, None)

    def resource_events(self, project_id: int, kind: str, resource: str, iid: int) -> list[Record] | None:
        """`/projects/:id/{issues,merge_requests}/:iid/resource_{label,state,milestone}_events`, oldest first.

        Drawn from the issuable as it is now (so they agree with it after a mutation too): an `add` for each
        label and for the milestone, at its creation; a state event when it was closed or merged. None when
        there is no such issue or merge request.
        """
        d = self.data(project_id)
        issuable = (d.issue_by_iid if resource == "issues" else d.mr_by_iid).get(iid)
        if issuable is None:
            return None
        rid = issuable["id"]
        base = RESOURCE_EVENT_BASES[(kind, resource)]
        common = {"resource_type": "Issue" if resource == "issues" else "MergeRequest", "resource_id": rid}
        author = issuable["author"]
        if kind == "label":
            project = self.projects[project_id]
            known = {lab["name"]: lab for lab in d.labels}
            for gid in self.ancestors(project["namespace"]["id"]):
                for lab in self.group_data[gid].labels:
                    known.setdefault(lab["name"], lab)
            return [
                {
                    "id": base + rid * 16 + k,
                    "user": author,
                    "created_at": issuable["created_at"],
                    **common,
                    "label": _label_basic(known[name]) if name in known else None,
                    "action": "add",
                }
                for k, name in enumerate(issuable["labels"][:8])
            ]
        if kind == "milestone":
            milestone = issuable.get("milestone")
            if not milestone:
                return []
            event = {"id": base + rid * 16, "user": author, "created_at": issuable["created_at"], **common}
            return [{**event, "milestone": milestone, "action": "add", "state": "opened"}]
        events = []
        for state, at, by in (
            ("closed", issuable.get("closed_at"), issuable.get("closed_by")),
            ("merged", issuable.get("merged_at"), issuable.get("merged_by")),
        ):
            if issuable["state"] == state and at:
                events.append(
                    {
                        "id": base + rid * 16 + len(events),
                        "user": by or author,
                        "created_at": at,
                        **common,
                        "source_commit": None,
                        "source_merge_request_id": None,
                        "state": state,
                    }
                )
        return events


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", _G + "/issues", "group_issues"),
    ("GET", _P + "/issues", "project_issues"),
    ("GET", _P + r"/issues/(?P<iid>\d+)", "project_issue"),
    ("GET", _P + r"/issues/(?P<iid>\d+)/notes", "issue_notes"),
    ("GET", _P + r"/issues/(?P<iid>\d+)/resource_(?P<kind>label|state|milestone)_events", "issue_events"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {
    "project_issues": "issues",
    "project_issue": "issues",
    "issue_notes": "issues",
    "issue_events": "issues",
}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset({"group_issues", "project_issues", "issue_notes"})


class IssuesRoutes:
    """The group and project issue endpoints, notes, resource events, and the filters issuables share."""

    def _group_pids(self, req: Request, gid: int, feature: str) -> list[int]:
        pids = self.ds.group_project_ids(gid, include_subgroups=True, with_shared=False)
        if req.flag("non_archived", True):
            pids = [p for p in pids if not self.ds.projects[p]["archived"]]  # §6.5 non_archived default true
        return [p for p in pids if (p, feature) not in self.ds.forbidden]

    def h_group_issues(self, req: Request) -> Listing:
        gid = self.group(req)
        issues = [i for p in self._group_pids(req, gid, "issues") for i in self.ds.data(p).issues]
        listing = self._issues(req, issues, keyset=False)
        # `lib/api/issues.rb` has no handler for a cancelled statement: `lib/api/api.rb`'s `rescue_from :all`
        # answers it with `handle_api_exception` (`lib/api/helpers.rb`), a plain 500.
        self._statement_timeout(listing, ApiError(500, {"message": "500 Internal Server Error"}))
        return listing

    def _statement_timeout(self, listing: Listing, answer: ApiError) -> None:
        """Cancel a group listing whose filters match more rows than the database answers in time.

        PostgreSQL's `statement_timeout` cancels the page query (and the count offset pagination runs
        beside it) alike on every page: its cost grows with the rows the filters match across all the
        group's projects, not with `per_page`. Off unless `Dataset.statement_timeout_rows` is set.
        """
        limit = self.ds.statement_timeout_rows
        if limit is not None and len(listing.records) > limit:
            raise answer

    def _common(self, req: Request, items: list[Record]) -> list[Record]:
        iids = {int(v) for v in req.arr("iids") if v.isdigit()}
        if iids:
            items = [i for i in items if i["iid"] in iids]
        labels = req.q.get("labels")
        if labels:
            if labels.lower() == "none":
                items = [i for i in items if not i["labels"]]
            elif labels.lower() == "any":
                items = [i for i in items if i["labels"]]
            else:
                wanted = set(labels.split(","))
                items = [i for i in items if wanted <= set(i["labels"])]
        milestone = req.q.get("milestone")
        if milestone:
            if milestone.lower() == "none":
                items = [i for i in items if i["milestone"] is None]
            elif milestone.lower() == "any":
                items = [i for i in items if i["milestone"] is not None]
            else:
                items = [i for i in items if i["milestone"] and i["milestone"]["title"] == milestone]
        if req.q.get("author_id", "").isdigit():
            items = [i for i in items if i["author"]["id"] == int(req.q["author_id"])]
        if req.q.get("author_username"):
            items = [i for i in items if i["author"]["username"] == req.q["author_username"]]
        if req.q.get("assignee_id", "").isdigit():
            uid = int(req.q["assignee_id"])
            items = [i for i in items if any(a["id"] == uid for a in i["assignees"])]
        if req.q.get("search"):
            s = req.q["search"].lower()
            items = [i for i in items if s in i["title"].lower() or s in (i["description"] or "").lower()]
        scope = req.q.get("scope") or "all"
        if scope in ("created_by_me", "created-by-me"):
            items = [i for i in items if i["author"]["id"] == 1]
        elif scope in ("assigned_to_me", "assigned-to-me"):
            items = [i for i in items if any(a["id"] == 1 for a in i["assignees"])]
        elif scope != "all":
            raise invalid("scope")
        items = window(items, req, "updated_at", "updated_after", "updated_before")
        return window(items, req, "created_at", "created_after", "created_before")

    def _issues(self, req: Request, issues: list[Record], *, keyset: bool) -> Listing:
        state = req.q.get("state")
        if state and state != "all":
            if state not in ("opened", "closed"):
                raise invalid("state")
            issues = [i for i in issues if i["state"] == state]
        confidential = req.flag("confidential")
        if confidential is not None:
            issues = [i for i in issues if i["confidential"] == confidential]
        issues = self._common(req, issues)
        allowed = (
            "created_at",
            "updated_at",
            "priority",
            "due_date",
            "relative_position",
            "label_priority",
            "milestone_due",
            "popularity",
            "title",
            "weight",
            "id",
        )
        by = choice(req, "order_by", allowed, "created_at")
        sort = sort_param(req, "desc")
        field_name = {
            "priority": "created_at",
            "label_priority": "created_at",
            "milestone_due": "due_date",
            "popularity": "upvotes",
            "relative_position": "id",
        }.get(by, by)
        listing = Listing(order(issues, field_name, sort), order_field=field_name, sort=sort)
        if req.q.get("pagination") == "keyset":
            # Project issues take keyset (18.3+) for these orderings only (§3.2).
            if not keyset or by not in (
                "created_at",
                "updated_at",
                "title",
                "id",
                "weight",
                "due_date",
                "relative_position",
            ):
                raise KEYSET_UNSUPPORTED
            listing.keyset = "cursor"
        return listing

    def h_project_issues(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "project_issues")
        return self._issues(req, d.issues, keyset=True)

    def h_project_issue(self, req: Request) -> Record:
        _pid, d = self._pfeature(req, "project_issue")
        issue = d.issue_by_iid.get(int(req.params["iid"]))
        if issue is None:
            raise not_found("Issue")
        return {**issue, "subscribed": False, "moved_to_id": None, "service_desk_reply_to": None}

    def _notes(self, req: Request, notes: list[Record]) -> Listing:
        by = choice(req, "order_by", ("created_at", "updated_at"), "created_at")
        return Listing(order(notes, by, sort_param(req, "desc")))

    def h_issue_notes(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "issue_notes")
        notes = d.issue_notes.get(int(req.params["iid"]))
        if notes is None:
            raise not_found("Issue")
        return self._notes(req, notes)

    def h_issue_events(self, req: Request) -> Listing:
        """An issue's resource label, state or milestone events, oldest first."""
        pid, _d = self._pfeature(req, "issue_events")
        events = self.ds.resource_events(pid, req.params["kind"], "issues", int(req.params["iid"]))
        if events is None:
            raise not_found("Issue")
        return Listing(events)
