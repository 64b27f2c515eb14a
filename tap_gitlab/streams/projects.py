"""Project-level streams about the project itself: one partition per project in scope."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import typing as t
from urllib.parse import quote, unquote

from tap_gitlab.errors import ResourceUnavailable
from tap_gitlab.streams.base import Batch, Context, GitLabStream, PartitionPlan, Record, ScopeStream, parse_timestamp


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


class ReadmeStream(GitLabStream):
    """Each project's README: the file GitLab shows on the project page, at the default branch.

    The project record already says whether there is one and which file it is (`readme_url`), so a project
    without a README costs no request, and README.rst or readme.txt are found as well as README.md.
    `content` is the file's text: GitLab sends it base64-encoded, and `encoding` then says "text". A README
    that is not UTF-8 keeps GitLab's base64 `content` and `encoding`.
    """

    name = "readme"
    path = "/projects/{project_id}/repository/files/{file_path}"
    primary_keys: t.ClassVar[list[str]] = ["project_id"]
    licence_note = "asked only of projects whose `readme_url` is set, at their default branch"

    def plan_partition(self, context: Context | None) -> PartitionPlan:
        context = dict(context or {})
        project = self._gitlab_tap.scope.projects.get(int(context["project_id"]), {})
        file_path = readme_path(project)
        client = self.client

        def produce() -> t.Iterator[Batch]:
            if file_path is None:
                yield Batch([])  # no README (or an empty repository): nothing to ask
                return
            path = f"/projects/{context['project_id']}/repository/files/{quote(file_path, safe='')}"
            try:
                found = client.get_object(path, {"ref": project["default_branch"]})
            except ResourceUnavailable as exc:
                if exc.status != 404:
                    raise
                yield Batch([])  # removed since the project was read
                return
            record = self.transform(readme_as_text(found), context) if isinstance(found, dict) else None
            yield Batch([record] if record is not None else [])

        return PartitionPlan(context, produce, {})


def readme_path(project: Record) -> str | None:
    """The README's path in the repository, from `readme_url` (`<web_url>/-/blob/<default branch>/<path>`)."""
    url, web, branch = project.get("readme_url"), project.get("web_url"), project.get("default_branch")
    if not (isinstance(url, str) and isinstance(web, str) and isinstance(branch, str)):
        return None
    prefix = f"{web}/-/blob/{branch}/"
    if url.startswith(prefix):
        return unquote(url[len(prefix) :]) or None
    return None


def readme_as_text(file: Record) -> Record:
    """GitLab's file object with its base64 `content` decoded, when it is UTF-8 text."""
    if file.get("encoding") != "base64" or not isinstance(file.get("content"), str):
        return file
    try:
        text = base64.b64decode(file["content"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return file
    return {**file, "content": text, "encoding": "text"}


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
