"""Group-level streams: one partition per group in scope (configured groups and their descendants)."""

from __future__ import annotations

import typing as t

from tap_gitlab.streams.base import GitLabStream, ScopeStream


class GroupsStream(ScopeStream):
    name = "groups"
    scope = "resolved_groups"
    path = "/groups/:id, /groups/:id/descendant_groups"


class GroupMembersStream(GitLabStream):
    name = "group_members"
    scope = "group"
    path = "/groups/{group_id}/members"
    primary_keys: t.ClassVar[list[str]] = ["group_id", "id"]


class GroupLabelsStream(GitLabStream):
    name = "group_labels"
    scope = "group"
    path = "/groups/{group_id}/labels"
    primary_keys: t.ClassVar[list[str]] = ["group_id", "id"]
    # Each group's own labels only; ancestors' labels are read in the ancestors' partitions.
    params: t.ClassVar[dict[str, t.Any]] = {"include_ancestor_groups": "false", "only_group_labels": "true"}


class GroupMilestonesStream(GitLabStream):
    name = "group_milestones"
    scope = "group"
    path = "/groups/{group_id}/milestones"
    replication_key = "updated_at"
    since_param = "updated_after"  # GitLab 15.10+; the listing has no order_by, so it is not declared sorted


class GroupIssueBoardsStream(GitLabStream):
    name = "group_issue_boards"
    scope = "group"
    path = "/groups/{group_id}/boards"
    primary_keys: t.ClassVar[list[str]] = ["group_id", "id"]


_EPIC_LISTING: dict[str, t.Any] = {
    # One partition per group: without this, each group's listing would repeat its subgroups' epics.
    "include_descendant_groups": "false",
    "order_by": "updated_at",
    "sort": "asc",
    "state": "all",
}


class EpicsStream(GitLabStream):
    name = "epics"
    scope = "group"
    path = "/groups/{group_id}/epics"
    params = _EPIC_LISTING
    replication_key = "updated_at"
    since_param = "updated_after"
    is_sorted = True
    licence_note = "Premium/Ultimate; an unlicensed group is skipped with a warning"


class EpicIssuesStream(GitLabStream):
    name = "epic_issues"
    scope = "group"
    primary_keys: t.ClassVar[list[str]] = ["epic_id", "id"]
    parent_path = "/groups/{group_id}/epics"
    parent_params = _EPIC_LISTING
    parent_fields: t.ClassVar[dict[str, str]] = {
        "epic_id": "id",
        "epic_iid": "iid",
        "epic_updated_at": "updated_at",
    }
    child_path = "/groups/{group_id}/epics/{iid}/issues"
    replication_key = "epic_updated_at"
    since_param = "updated_after"
    is_sorted = True
    licence_note = "Premium/Ultimate; issues of epics changed since the bookmark"


class GroupVariablesStream(GitLabStream):
    name = "group_variables"
    scope = "group"
    path = "/groups/{group_id}/variables"
    # A key may be defined once per environment scope.
    primary_keys: t.ClassVar[list[str]] = ["group_id", "key", "environment_scope"]
    opt_in_setting = "fetch_group_variables"
