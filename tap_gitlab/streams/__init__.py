"""The stream registry, in the order streams are synced and documented: one `StreamSpec` each, declared in
the area modules, and run by the one stream class, `GitLabStream` (streams/base.py)."""

from __future__ import annotations

from tap_gitlab.spec import StreamSpec
from tap_gitlab.streams import ci, groups, issues, merge_requests, projects, repository, users
from tap_gitlab.streams.base import GitLabStream

STREAMS: list[StreamSpec] = [
    groups.GROUPS,
    groups.GROUP_MEMBERS,
    groups.GROUP_LABELS,
    groups.GROUP_MILESTONES,
    groups.GROUP_ISSUE_BOARDS,
    groups.EPICS,
    groups.EPIC_ISSUES,
    groups.GROUP_VARIABLES,
    projects.PROJECTS,
    projects.PROJECT_MEMBERS,
    projects.PROJECT_LABELS,
    projects.PROJECT_MILESTONES,
    projects.PROJECT_USERS,
    repository.RELEASES,
    repository.TAGS,
    repository.BRANCHES,
    repository.COMMITS,
    ci.DEPLOYMENTS,
    projects.ENVIRONMENTS,
    projects.LANGUAGES,
    projects.README,
    projects.EVENTS,
    issues.ISSUES,
    issues.ISSUE_NOTES,
    issues.ISSUE_LABEL_EVENTS,
    issues.ISSUE_STATE_EVENTS,
    issues.ISSUE_MILESTONE_EVENTS,
    merge_requests.MERGE_REQUESTS,
    merge_requests.MERGE_REQUEST_COMMITS,
    merge_requests.MERGE_REQUEST_NOTES,
    merge_requests.MERGE_REQUEST_APPROVALS,
    merge_requests.MERGE_REQUEST_LABEL_EVENTS,
    merge_requests.MERGE_REQUEST_STATE_EVENTS,
    merge_requests.MERGE_REQUEST_MILESTONE_EVENTS,
    ci.PIPELINES,
    ci.PIPELINES_EXTENDED,
    ci.JOBS,
    ci.TRIGGER_JOBS,
    projects.PROJECT_VARIABLES,
    projects.VULNERABILITIES,
    users.SITE_USERS,
]
SPECS: dict[str, StreamSpec] = {spec.name: spec for spec in STREAMS}

__all__ = ["SPECS", "STREAMS", "GitLabStream", "StreamSpec"]
