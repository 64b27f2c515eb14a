"""Issues and their notes.

For projects reached through a configured group, one group-level listing (`GET /groups/:id/issues`, which
covers every subgroup's projects) replaces one listing per project.

Issues are read sorted by `updated_at` ascending with GitLab's inclusive `updated_after`, so the bookmark
can be checkpointed after every page. Notes have no filter of their own: they are read for the issues that
changed since the notes bookmark (adding or editing a note touches its issue's `updated_at`).
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


class IssueNotesStream(GitLabStream):
    name = "issue_notes"
    parent_path = "/projects/{project_id}/issues"
    group_listing_path = "/groups/{group_id}/issues"
    archived_param = "non_archived"
    parent_params = ISSUE_LISTING
    parent_fields: t.ClassVar[dict[str, str]] = {
        "project_id": "project_id",
        "issue_iid": "iid",
        "issue_updated_at": "updated_at",
    }
    child_path = "/projects/{project_id}/issues/{iid}/notes"
    child_params: t.ClassVar[dict[str, t.Any]] = {"sort": "asc", "order_by": "created_at"}
    replication_key = "issue_updated_at"
    since_param = "updated_after"
    is_sorted = True
