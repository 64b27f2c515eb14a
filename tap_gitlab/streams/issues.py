"""Issues and their notes.

For projects reached through a configured group, one group-level listing (`GET /groups/:id/issues`, which
covers every subgroup's projects) replaces one listing per project.

Issues are read sorted by `updated_at` ascending with GitLab's inclusive `updated_after`, so the bookmark
can be checkpointed after every page. Notes have no filter of their own: they are read for the issues that
changed since the notes bookmark (adding or editing a note touches its issue's `updated_at`). Resource
events (label, state and milestone changes; opt-in) are read the same way.
"""

from __future__ import annotations

from tap_gitlab.paginators import LinkPaginator, UpdatedAtSeekPaginator
from tap_gitlab.readers import fan_out, listing
from tap_gitlab.spec import Child, GroupListing, Parent, StreamSpec

ISSUE_LISTING = {"scope": "all"}
BY_UPDATED_AT = UpdatedAtSeekPaginator()  # GitLab breaks updated_at ties by id
ISSUES_IN_GROUPS = GroupListing("/groups/{group_id}/issues", archived_param="non_archived")
# Resource events: who added or removed a label, changed the state or the milestone, and when (the history
# behind an issue's or merge request's current fields). Each change touches its issue's `updated_at`.
RESOURCE_EVENTS_SETTING = "fetch_resource_events"

ISSUES = StreamSpec(
    name="issues",
    reader=listing.read,
    path="/projects/{project_id}/issues",
    group_listing=ISSUES_IN_GROUPS,
    params=ISSUE_LISTING,
    paginator=BY_UPDATED_AT,
    replication_key="updated_at",
    since_param="updated_after",
    sorted=True,
)


def issue_child(name: str, child: Child, opt_in: str | None = None) -> StreamSpec:
    """A stream read for the issues changed since its own bookmark."""
    return StreamSpec(
        name=name,
        reader=fan_out.read,
        parent=Parent(
            "/projects/{project_id}/issues",
            ISSUE_LISTING,
            fields={"project_id": "project_id", "issue_iid": "iid", "issue_updated_at": "updated_at"},
            paginator=BY_UPDATED_AT,
        ),
        child=child,
        group_listing=ISSUES_IN_GROUPS,
        replication_key="issue_updated_at",
        since_param="updated_after",
        sorted=True,
        opt_in=opt_in,
    )


ISSUE_NOTES = issue_child(
    "issue_notes",
    Child("/projects/{project_id}/issues/{iid}/notes", paginator=LinkPaginator(order_by="created_at", sort="asc")),
)
ISSUE_LABEL_EVENTS = issue_child(
    "issue_label_events", Child("/projects/{project_id}/issues/{iid}/resource_label_events"), RESOURCE_EVENTS_SETTING
)
ISSUE_STATE_EVENTS = issue_child(
    "issue_state_events", Child("/projects/{project_id}/issues/{iid}/resource_state_events"), RESOURCE_EVENTS_SETTING
)
ISSUE_MILESTONE_EVENTS = issue_child(
    "issue_milestone_events",
    Child("/projects/{project_id}/issues/{iid}/resource_milestone_events"),
    RESOURCE_EVENTS_SETTING,
)
