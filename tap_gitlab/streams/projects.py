"""Project-level streams about the project itself: one partition per project in scope."""

from __future__ import annotations

from tap_gitlab.readers import events, listing, project_fields, scope_records
from tap_gitlab.spec import StreamSpec

PROJECTS = StreamSpec(
    name="projects",
    reader=scope_records.read,
    scope="resolved_projects",
    path="/groups/:id/projects?include_subgroups=true&with_shared=false, /projects/:id",
)
PROJECT_MEMBERS = StreamSpec(
    name="project_members", reader=listing.read, path="/projects/{project_id}/members", keys=("project_id", "id")
)
PROJECT_LABELS = StreamSpec(
    name="project_labels",
    reader=listing.read,
    path="/projects/{project_id}/labels",
    keys=("project_id", "id"),
    params={"include_ancestor_groups": "false"},  # the project's own; group labels are the group_labels stream
)
PROJECT_MILESTONES = StreamSpec(
    name="project_milestones",
    reader=listing.read,
    path="/projects/{project_id}/milestones",
    replication_key="updated_at",
    since_param="updated_after",
)
PROJECT_USERS = StreamSpec(
    name="users", reader=listing.read, path="/projects/{project_id}/users", keys=("project_id", "id")
)
ENVIRONMENTS = StreamSpec(
    name="environments", reader=listing.read, path="/projects/{project_id}/environments", keys=("project_id", "id")
)
LANGUAGES = StreamSpec(
    name="languages",
    reader=project_fields.languages,
    path="/projects/{project_id}/languages",
    keys=("project_id", "name"),
)
README = StreamSpec(
    name="readme",
    reader=project_fields.readme,
    path="/projects/{project_id}/repository/files/{file_path}",
    keys=("project_id",),
    licence_note="asked only of projects whose `readme_url` is set, at their default branch",
)
EVENTS = StreamSpec(
    name="events",
    reader=events.read,
    path="/projects/{project_id}/events",  # paged by its reader: windows of days, `sort=asc` (readers/events.py)
    replication_key="created_at",
    sorted=True,
    drop_before_since=True,  # `after` is by whole days; the part of the day before the bookmark is dropped
    doc_note="`after`/`before` windows of local days, narrowed where GitLab's count cap ends one early (see Events)",
)
PROJECT_VARIABLES = StreamSpec(
    name="project_variables",
    reader=listing.read,
    path="/projects/{project_id}/variables",
    keys=("project_id", "key", "environment_scope"),
    opt_in="fetch_project_variables",
)
VULNERABILITIES = StreamSpec(
    name="vulnerabilities",
    reader=listing.read,
    path="/projects/{project_id}/vulnerabilities",
    opt_in="fetch_vulnerabilities",
    licence_note="Ultimate",
)
