"""Project-level streams about the project itself: one partition per project in scope."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_gitlab.streams.base import Context, GitLabStream, PartitionPlan, Record, ScopeStream, parse_timestamp


class ProjectsStream(ScopeStream):
    name = "projects"
    scope = "resolved_projects"
    path = "/groups/:id/projects?include_subgroups=true&with_shared=false, /projects/:id"


class ProjectMembersStream(GitLabStream):
    name = "project_members"
    path = "/projects/{project_id}/members"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "id"]


class ProjectLabelsStream(GitLabStream):
    name = "project_labels"
    path = "/projects/{project_id}/labels"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "id"]
    # The project's own labels; group labels are the group_labels stream.
    params: t.ClassVar[dict[str, t.Any]] = {"include_ancestor_groups": "false"}


class ProjectMilestonesStream(GitLabStream):
    name = "project_milestones"
    path = "/projects/{project_id}/milestones"
    replication_key = "updated_at"
    since_param = "updated_after"


class ProjectUsersStream(GitLabStream):
    name = "users"
    path = "/projects/{project_id}/users"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "id"]


class EnvironmentsStream(GitLabStream):
    name = "environments"
    path = "/projects/{project_id}/environments"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "id"]


class LanguagesStream(GitLabStream):
    name = "languages"
    path = "/projects/{project_id}/languages"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "name"]

    def plan_partition(self, context: Context | None) -> PartitionPlan:
        plan = super().plan_partition(context)
        inner = plan.produce

        def produce() -> t.Iterator[t.Any]:
            for batch in inner():
                # GitLab answers one {language: percent} object; a row per language is what tables want.
                rows: list[Record] = []
                for record in batch.records:
                    rows.extend(
                        {"project_id": record["project_id"], "name": name, "percent": float(percent)}
                        for name, percent in record.items()
                        if name != "project_id"
                    )
                batch.records = rows
                yield batch

        plan.produce = produce
        return plan


class EventsStream(GitLabStream):
    name = "events"
    path = "/projects/{project_id}/events"
    params: t.ClassVar[dict[str, t.Any]] = {"sort": "asc"}
    replication_key = "created_at"
    is_sorted = True

    drop_before_since = True  # `after` is by whole days; the part of the day before the bookmark is dropped

    def request_params(self, context: Context | None, since: str | None) -> dict[str, t.Any]:
        params = dict(self.params)
        if since:
            # `after` takes a date and excludes that whole day: ask from the day before the bookmark.
            params["after"] = (parse_timestamp(since).date() - dt.timedelta(days=1)).isoformat()
        return params


class ProjectVariablesStream(GitLabStream):
    name = "project_variables"
    path = "/projects/{project_id}/variables"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "key", "environment_scope"]
    opt_in_setting = "fetch_project_variables"


class VulnerabilitiesStream(GitLabStream):
    name = "vulnerabilities"
    path = "/projects/{project_id}/vulnerabilities"
    opt_in_setting = "fetch_vulnerabilities"
    licence_note = "Ultimate"
