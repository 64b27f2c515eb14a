"""Events: a project's activity feed.

Models gitlabhq lib/api/events.rb (`GET /projects/:id/events`), lib/api/entities/event.rb, app/finders/
events_finder.rb (the `after`/`before` days, `target_type`, `action`) and app/models/event.rb
(`Event#visible_to_user?`).
"""

from __future__ import annotations

import random

from tests.gitlab_sim.api import _P, COUNT_LIMIT, ApiError, Listing, Record, Request, sort_param
from tests.gitlab_sim.model import ProjectData, ProjectGen, _mutation, _sentence, _times
from tests.gitlab_sim.util import DAY, NOW_EPOCH, db_time, parse_time


class EventsModel:
    """Generating, adding and filtering a project's events."""

    def _generate_events(self, g: ProjectGen) -> None:
        """Events."""
        pid, counts, bases, rng, d, start, people = g.pid, g.counts, g.bases, g.rng, g.d, g.start, g.people
        for k, created in enumerate(_times(rng, counts["events"], start, NOW_EPOCH - 60)):
            d.events.append(self._event(rng, bases["events"] + k + 1, pid, created, people, d))

    def _event(
        self, rng: random.Random, eid: int, pid: int, created: float, people: list[int], d: ProjectData
    ) -> Record:
        uid = rng.choice(people)
        author = self.user_basic[uid]
        kind = rng.choice(["pushed to", "opened", "closed", "commented on", "accepted"])
        target_type = target_id = target_iid = target_title = None
        extra: Record = {}
        if kind == "pushed to" or not (d.issues or d.merge_requests):
            kind = "pushed to"
            head = d.commits[rng.randrange(len(d.commits))] if d.commits else None
            extra["push_data"] = {
                "commit_count": rng.randint(1, 5),
                "action": "pushed",
                "ref_type": "branch",
                "commit_from": head["parent_ids"][0] if head and head["parent_ids"] else None,
                "commit_to": head["id"] if head else None,
                "ref": "main",
                "commit_title": head["title"] if head else "",
                "ref_count": None,
            }
        elif kind in ("opened", "closed") and d.issues:
            target = rng.choice(d.issues)
            target_type, target_id, target_iid, target_title = "Issue", target["id"], target["iid"], target["title"]
        elif kind == "accepted" and d.merge_requests:
            target = rng.choice(d.merge_requests)
            target_type, target_id = "MergeRequest", target["id"]
            target_iid, target_title = target["iid"], target["title"]
        else:
            kind = "commented on"
            target = rng.choice(d.issues or d.merge_requests)
            target_type, target_iid, target_title = "Note", target["iid"], target["title"]
            target_id = 9_000_000 + eid
            extra["note"] = {
                "id": target_id,
                "body": _sentence(rng),
                "attachment": None,
                "author": author,
                "created_at": db_time(created),
                "system": False,
                "noteable_id": target["id"],
                "noteable_type": "Issue" if "closed_by" in target and "merge_user" not in target else "MergeRequest",
                "noteable_iid": target["iid"],
                # the rest of Entities::Note (lib/api/entities/event.rb: `expose :note, using: Entities::Note`)
                "type": None,
                "updated_at": db_time(created),
                "project_id": pid,
                "resolvable": False,
                "confidential": False,
                "internal": False,
                "imported": False,
                "imported_from": "none",
                "commands_changes": {},
            }
        return {
            "id": eid,
            "title": None,
            "project_id": pid,
            "action_name": kind,
            "target_id": target_id,
            "target_iid": target_iid,
            "target_type": target_type,
            "author_id": uid,
            "target_title": target_title,
            "created_at": db_time(created),
            "author": author,
            "author_username": author["username"],
            "imported": False,
            "imported_from": "none",
            **extra,
        }

    def event_visible(self, project_id: int, event: Record) -> bool:
        """`Event#visible_to_user?` (app/models/event.rb) for the token's user, as the events finder applies it
        to each page after cutting it (app/finders/events_finder.rb `paginated_filtered_by_user_visibility`).

        The event needs every ability its target calls for, checked on the target (`permission_object`):
        `read_issue` for an issue or a comment on one, `read_merge_request` likewise, `download_code` for a
        push. A target that no longer exists is never visible (`Ability.allowed?` on nil). This instance's
        token reads the project, its code and merge requests; a confidential issue only while
        `token_reads_confidential` (Reporter or more) is true.
        """
        target_type = event.get("target_type")
        if target_type is None:
            return True  # a push (download_code) or a membership event (read_project)
        d = self.data(project_id)
        if target_type == "Note":
            note = event.get("note") or {}
            target_type, iid, target_id = note.get("noteable_type"), note.get("noteable_iid"), note.get("noteable_id")
        else:
            iid, target_id = event.get("target_iid"), event.get("target_id")
        if target_type == "Issue":
            issue = d.issue_by_iid.get(iid) if isinstance(iid, int) else None
            if issue is None or issue["id"] != target_id:
                return False
            return not issue.get("confidential") or self.token_reads_confidential
        if target_type == "MergeRequest":
            mr = d.mr_by_iid.get(iid) if isinstance(iid, int) else None
            return mr is not None and mr["id"] == target_id
        return True

    @_mutation
    def add_events(
        self,
        project_id: int,
        count: int,
        at: str | float | None = None,
        span: float = 0.0,
        confidential: bool = False,
    ) -> list[Record]:
        """Add `count` events to a project, from `at` (the clock by default) evenly over `span` seconds.

        Pushes to main, or, with `confidential`, comments on a new confidential issue (which the token sees only
        while `token_reads_confidential`). GitLab stamps an event when it writes it, so ids and `created_at`
        rise together: `at` may not precede the project's newest event. The clock moves past the last one.
        """
        with self.lock:
            d = self.data(project_id)
            start = self._clock if at is None else (parse_time(at) if isinstance(at, str) else float(at))
            if start is None:
                raise ValueError(f"invalid time {at!r}")
            newest = parse_time(d.events[-1]["created_at"]) if d.events else None
            if newest is not None and start < newest:
                raise ValueError(f"events are stamped when written: {db_time(start)} precedes {db_time(newest)}")
            issue = self.create_issue(project_id, confidential=True) if confidential else None
            members = [m["id"] for m in d.members if m["id"] in self.user_basic] or [1]
            head = d.commits[0] if d.commits else None
            step = span / count if count > 1 else 0.0
            added: list[Record] = []
            for k in range(count):
                uid = members[k % len(members)]
                author = self.user_basic[uid]
                created = db_time(max(start + k * step, start))
                eid = self._new_id("events")
                event: Record = {
                    "id": eid,
                    "title": None,
                    "project_id": project_id,
                    "action_name": "pushed to",
                    "target_id": None,
                    "target_iid": None,
                    "target_type": None,
                    "author_id": uid,
                    "target_title": None,
                    "created_at": created,
                    "author": author,
                    "author_username": author["username"],
                    "imported": False,
                    "imported_from": "none",
                }
                if issue is None:
                    event["push_data"] = {
                        "commit_count": 1,
                        "action": "pushed",
                        "ref_type": "branch",
                        "commit_from": head["parent_ids"][0] if head and head["parent_ids"] else None,
                        "commit_to": head["id"] if head else None,
                        "ref": "main",
                        "commit_title": head["title"] if head else "",
                        "ref_count": None,
                    }
                else:
                    note_id = 9_000_000 + eid
                    event.update(
                        action_name="commented on",
                        target_id=note_id,
                        target_iid=issue["iid"],
                        target_type="Note",
                        target_title=issue["title"],
                    )
                    event["note"] = {
                        "id": note_id,
                        "body": "A comment",
                        "attachment": None,
                        "author": author,
                        "created_at": created,
                        "system": False,
                        "noteable_id": issue["id"],
                        "noteable_type": "Issue",
                        "noteable_iid": issue["iid"],
                    }
                d.events.append(event)
                added.append(event)
            if added:
                self._clock = max(self._clock, (parse_time(added[-1]["created_at"]) or start) + 0.001)
            return added


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", _P + "/events", "events"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {
    "events": "events",
}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset({"events"})


class EventsRoutes:
    """`/projects/:id/events`."""

    def h_events(self, req: Request) -> Listing:
        """`GET /projects/:id/events` (lib/api/project_events.rb, lib/api/helpers/events_helpers.rb, finder
        app/finders/events_finder.rb).

        `after`/`before` are Grape `Date`s and the finder compares `created_at > after.end_of_day` and
        `created_at < before.beginning_of_day`: ActiveSupport's Date#end_of_day is the end of that day in
        `Time.zone`, the instance's configured zone (gitlab.yml `time_zone`, default UTC), here
        `Dataset.time_zone_offset_minutes`. The order is by id (`order_id_asc` / `order_id_desc`, default desc
        from `sort_params`). Counting, paging and the visibility filter: `Routes._paginate_filtered`.
        """
        pid, d = self._pfeature(req, "events")
        events = d.events
        if req.q.get("action"):
            wanted = req.q["action"].lower()
            # `action` is an Event.actions key; the entity shows Event#action_name (app/models/event.rb).
            names = {
                "pushed": ("pushed to", "pushed new", "deleted"),
                "commented": ("commented on",),
                "merged": ("accepted",),
                "created": ("opened", "created", "imported"),
            }
            accepted = names.get(wanted, (wanted,))
            events = [e for e in events if e["action_name"] in accepted]
        if req.q.get("target_type"):
            tt = req.q["target_type"].lower()
            events = [
                e for e in events if (e["target_type"] or "").lower().replace("mergerequest", "merge_request") == tt
            ]
        # Dates, exclusive whole days of the instance's zone: created_at > after.end_of_day (the next local
        # midnight, at the DB's precision) and < before.beginning_of_day (§6.20).
        zone = self.ds.time_zone_offset_minutes * 60
        for name in ("after", "before"):
            value = req.q.get(name)
            if value:
                epoch = parse_time(value[:10])
                if epoch is None:
                    raise ApiError(400, {"error": f"{name} is invalid"})
                if name == "after":
                    bound = db_time(epoch + DAY - zone)
                    events = [e for e in events if e["created_at"] >= bound]
                else:
                    bound = db_time(epoch - zone)
                    events = [e for e in events if e["created_at"] < bound]
        sort = sort_param(req, "desc")
        ordered = sorted(events, key=lambda e: e["id"], reverse=sort == "desc")
        return Listing(ordered, sort=sort, count_cap=COUNT_LIMIT + 1, visible=lambda e: self.ds.event_visible(pid, e))
