"""Group-level streams: one partition per group in scope (configured groups and their descendants)."""

from __future__ import annotations

from tap_gitlab.paginators import UpdatedAtSeekPaginator
from tap_gitlab.readers import fan_out, listing, scope_records
from tap_gitlab.spec import Child, Parent, StreamSpec

GROUPS = StreamSpec(
    name="groups",
    reader=scope_records.read,
    scope="resolved_groups",
    path="/groups/:id, /groups/:id/descendant_groups",
)
GROUP_MEMBERS = StreamSpec(
    name="group_members",
    reader=listing.read,
    scope="group",
    path="/groups/{group_id}/members",
    keys=("group_id", "id"),
)
GROUP_LABELS = StreamSpec(
    name="group_labels",
    reader=listing.read,
    scope="group",
    path="/groups/{group_id}/labels",
    keys=("group_id", "id"),
    # Each group's own labels only; ancestors' labels are read in the ancestors' partitions.
    params={"include_ancestor_groups": "false", "only_group_labels": "true"},
)
GROUP_MILESTONES = StreamSpec(
    name="group_milestones",
    reader=listing.read,
    scope="group",
    path="/groups/{group_id}/milestones",
    replication_key="updated_at",
    since_param="updated_after",  # GitLab 15.10+; the listing has no order_by, so it is not declared sorted
)
GROUP_ISSUE_BOARDS = StreamSpec(
    name="group_issue_boards",
    reader=listing.read,
    scope="group",
    path="/groups/{group_id}/boards",
    keys=("group_id", "id"),
)

EPIC_LISTING = {
    # One partition per group: without this, each group's listing would repeat its subgroups' epics.
    "include_descendant_groups": "false",
    "state": "all",
}
BY_UPDATED_AT = UpdatedAtSeekPaginator()
EPICS = StreamSpec(
    name="epics",
    reader=listing.read,
    scope="group",
    path="/groups/{group_id}/epics",
    params=EPIC_LISTING,
    paginator=BY_UPDATED_AT,
    replication_key="updated_at",
    since_param="updated_after",
    sorted=True,
    licence_note="Premium/Ultimate; an unlicensed group is skipped with a warning",
)
EPIC_ISSUES = StreamSpec(
    name="epic_issues",
    reader=fan_out.read,
    scope="group",
    keys=("epic_id", "id"),
    parent=Parent(
        "/groups/{group_id}/epics",
        EPIC_LISTING,
        fields={"epic_id": "id", "epic_iid": "iid", "epic_updated_at": "updated_at"},
        paginator=BY_UPDATED_AT,
    ),
    child=Child("/groups/{group_id}/epics/{iid}/issues"),
    replication_key="epic_updated_at",
    since_param="updated_after",
    sorted=True,
    licence_note="Premium/Ultimate; issues of epics changed since the bookmark",
)
GROUP_VARIABLES = StreamSpec(
    name="group_variables",
    reader=listing.read,
    scope="group",
    path="/groups/{group_id}/variables",
    keys=("group_id", "key", "environment_scope"),  # a key may be defined once per environment scope
    opt_in="fetch_group_variables",
)
