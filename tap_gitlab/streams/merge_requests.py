"""Merge requests and their children (commits, notes, approvals).

Children have no filter of their own; they are read for the merge requests that changed since the child
stream's bookmark (a push to the source branch, a note or an approval touches the merge request).
"""

from __future__ import annotations

import typing as t

from tap_gitlab.streams.base import GitLabStream
from tap_gitlab.streams.issues import RESOURCE_EVENTS_SETTING

MERGE_REQUEST_LISTING: dict[str, t.Any] = {
    "scope": "all",
    "state": "all",
    "order_by": "updated_at",
    "sort": "asc",
}
_MR_FIELDS = {"project_id": "project_id", "merge_request_iid": "iid", "merge_request_updated_at": "updated_at"}


class MergeRequestsStream(GitLabStream):
    name = "merge_requests"
    path = "/projects/{project_id}/merge_requests"
    group_listing_path = "/groups/{group_id}/merge_requests"
    archived_param = "non_archived"
    params = MERGE_REQUEST_LISTING
    replication_key = "updated_at"
    since_param = "updated_after"
    is_sorted = True


class _MergeRequestChild(GitLabStream):
    parent_path = "/projects/{project_id}/merge_requests"
    group_listing_path = "/groups/{group_id}/merge_requests"
    archived_param = "non_archived"
    parent_params = MERGE_REQUEST_LISTING
    parent_fields: t.ClassVar[dict[str, str]] = _MR_FIELDS
    replication_key = "merge_request_updated_at"
    since_param = "updated_after"
    is_sorted = True


class MergeRequestCommitsStream(_MergeRequestChild):
    name = "merge_request_commits"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "merge_request_iid", "id"]
    child_path = "/projects/{project_id}/merge_requests/{iid}/commits"


class MergeRequestNotesStream(_MergeRequestChild):
    name = "merge_request_notes"
    child_path = "/projects/{project_id}/merge_requests/{iid}/notes"
    child_params: t.ClassVar[dict[str, t.Any]] = {"sort": "asc", "order_by": "created_at"}


class MergeRequestApprovalsStream(_MergeRequestChild):
    name = "merge_request_approvals"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "merge_request_iid"]
    child_path = "/projects/{project_id}/merge_requests/{iid}/approvals"
    child_is_object = True


class MergeRequestLabelEventsStream(_MergeRequestChild):
    name = "merge_request_label_events"
    child_path = "/projects/{project_id}/merge_requests/{iid}/resource_label_events"
    opt_in_setting = RESOURCE_EVENTS_SETTING


class MergeRequestStateEventsStream(_MergeRequestChild):
    name = "merge_request_state_events"
    child_path = "/projects/{project_id}/merge_requests/{iid}/resource_state_events"
    opt_in_setting = RESOURCE_EVENTS_SETTING


class MergeRequestMilestoneEventsStream(_MergeRequestChild):
    name = "merge_request_milestone_events"
    child_path = "/projects/{project_id}/merge_requests/{iid}/resource_milestone_events"
    opt_in_setting = RESOURCE_EVENTS_SETTING
