"""Merge requests and their children (commits, notes, approvals).

Children have no filter of their own; they are read for the merge requests that changed since the child
stream's bookmark (a push to the source branch, a note or an approval touches the merge request).
"""

from __future__ import annotations

from tap_gitlab.paginators import LinkPaginator, UpdatedAtSeekPaginator
from tap_gitlab.readers import fan_out, listing
from tap_gitlab.spec import Child, GroupListing, Parent, StreamSpec
from tap_gitlab.streams.issues import RESOURCE_EVENTS_SETTING

MERGE_REQUEST_LISTING = {"scope": "all", "state": "all"}
BY_UPDATED_AT = UpdatedAtSeekPaginator()  # GitLab breaks updated_at ties by id
MERGE_REQUESTS_IN_GROUPS = GroupListing("/groups/{group_id}/merge_requests", archived_param="non_archived")

MERGE_REQUESTS = StreamSpec(
    name="merge_requests",
    reader=listing.read,
    path="/projects/{project_id}/merge_requests",
    group_listing=MERGE_REQUESTS_IN_GROUPS,
    params=MERGE_REQUEST_LISTING,
    paginator=BY_UPDATED_AT,
    replication_key="updated_at",
    since_param="updated_after",
    sorted=True,
)


def merge_request_child(
    name: str, child: Child, *, keys: tuple[str, ...] = ("id",), opt_in: str | None = None
) -> StreamSpec:
    """A stream read for the merge requests changed since its own bookmark."""
    fields = {"project_id": "project_id", "merge_request_iid": "iid", "merge_request_updated_at": "updated_at"}
    return StreamSpec(
        name=name,
        reader=fan_out.read,
        keys=keys,
        parent=Parent("/projects/{project_id}/merge_requests", MERGE_REQUEST_LISTING, fields, BY_UPDATED_AT),
        child=child,
        group_listing=MERGE_REQUESTS_IN_GROUPS,
        replication_key="merge_request_updated_at",
        since_param="updated_after",
        sorted=True,
        opt_in=opt_in,
    )


MR = "/projects/{project_id}/merge_requests/{iid}"
MERGE_REQUEST_COMMITS = merge_request_child(
    "merge_request_commits", Child(f"{MR}/commits"), keys=("project_id", "merge_request_iid", "id")
)
MERGE_REQUEST_NOTES = merge_request_child(
    "merge_request_notes", Child(f"{MR}/notes", paginator=LinkPaginator(order_by="created_at", sort="asc"))
)
MERGE_REQUEST_APPROVALS = merge_request_child(
    "merge_request_approvals", Child(f"{MR}/approvals", is_object=True), keys=("project_id", "merge_request_iid")
)
MERGE_REQUEST_LABEL_EVENTS = merge_request_child(
    "merge_request_label_events", Child(f"{MR}/resource_label_events"), opt_in=RESOURCE_EVENTS_SETTING
)
MERGE_REQUEST_STATE_EVENTS = merge_request_child(
    "merge_request_state_events", Child(f"{MR}/resource_state_events"), opt_in=RESOURCE_EVENTS_SETTING
)
MERGE_REQUEST_MILESTONE_EVENTS = merge_request_child(
    "merge_request_milestone_events", Child(f"{MR}/resource_milestone_events"), opt_in=RESOURCE_EVENTS_SETTING
)
