"""Issues and their notes.

For projects reached through a configured group, one group-level listing (`GET /groups/:id/issues`, which
covers every subgroup's projects) replaces one listing per project.

Issues are read sorted by `updated_at` ascending with GitLab's inclusive `updated_after`, so the bookmark
can be checkpointed after every page. Notes have no filter of their own: they are read for the issues that
changed since the notes bookmark (adding or editing a note touches its issue's `updated_at`). Resource
events (label, state and milestone changes; opt-in) are read the same way.
"""

from __future__ import annotations

import typing as t

from tap_gitlab.streams.base import GitLabStream

ISSUE_LISTING: dict[str, t.Any] = {"scope": "all", "order_by": "updated_at", "sort": "asc"}


class IssuesStream(GitLabStream):
    name = "issues"
    path = "/projects/{project_id}/issues"
    group_listing_path = "/groups/{group_id}/issues"
    archived_param = "non_archived"
    params = ISSUE_LISTING
    replication_key = "updated_at"
    since_param = "updated_after"
    is_sorted = True


class _IssueChild(GitLabStream):
    """Read for the issues changed since the child stream's bookmark."""

    parent_path = "/projects/{project_id}/issues"
    group_listing_path = "/groups/{group_id}/issues"
    archived_param = "non_archived"
    parent_params = ISSUE_LISTING
    parent_fields: t.ClassVar[dict[str, str]] = {
        "project_id": "project_id",
        "issue_iid": "iid",
        "issue_updated_at": "updated_at",
    }
    replication_key = "issue_updated_at"
    since_param = "updated_after"
    is_sorted = True


class IssueNotesStream(_IssueChild):
    name = "issue_notes"
    child_path = "/projects/{project_id}/issues/{iid}/notes"
    child_params: t.ClassVar[dict[str, t.Any]] = {"sort": "asc", "order_by": "created_at"}


# Resource events: who added or removed a label, changed the state or the milestone, and when (the history
# behind an issue's or merge request's current fields). Each change touches its issue's `updated_at`.
RESOURCE_EVENTS_SETTING = "fetch_resource_events"


class IssueLabelEventsStream(_IssueChild):
    name = "issue_label_events"
    child_path = "/projects/{project_id}/issues/{iid}/resource_label_events"
    opt_in_setting = RESOURCE_EVENTS_SETTING


class IssueStateEventsStream(_IssueChild):
    name = "issue_state_events"
    child_path = "/projects/{project_id}/issues/{iid}/resource_state_events"
    opt_in_setting = RESOURCE_EVENTS_SETTING


class IssueMilestoneEventsStream(_IssueChild):
    name = "issue_milestone_events"
    child_path = "/projects/{project_id}/issues/{iid}/resource_milestone_events"
    opt_in_setting = RESOURCE_EVENTS_SETTING
