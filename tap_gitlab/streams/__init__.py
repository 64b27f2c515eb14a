"""The stream registry, in the order streams are synced and documented."""

from __future__ import annotations

from tap_gitlab.streams.base import GitLabStream
from tap_gitlab.streams.ci import (
    DeploymentsStream,
    JobsStream,
    PipelinesExtendedStream,
    PipelinesStream,
    TriggerJobsStream,
)
from tap_gitlab.streams.groups import (
    EpicIssuesStream,
    EpicsStream,
    GroupIssueBoardsStream,
    GroupLabelsStream,
    GroupMembersStream,
    GroupMilestonesStream,
    GroupsStream,
    GroupVariablesStream,
)
from tap_gitlab.streams.issues import (
    IssueLabelEventsStream,
    IssueMilestoneEventsStream,
    IssueNotesStream,
    IssuesStream,
    IssueStateEventsStream,
)
from tap_gitlab.streams.merge_requests import (
    MergeRequestApprovalsStream,
    MergeRequestCommitsStream,
    MergeRequestLabelEventsStream,
    MergeRequestMilestoneEventsStream,
    MergeRequestNotesStream,
    MergeRequestsStream,
    MergeRequestStateEventsStream,
)
from tap_gitlab.streams.projects import (
    EnvironmentsStream,
    EventsStream,
    LanguagesStream,
    ProjectLabelsStream,
    ProjectMembersStream,
    ProjectMilestonesStream,
    ProjectsStream,
    ProjectUsersStream,
    ProjectVariablesStream,
    ReadmeStream,
    VulnerabilitiesStream,
)
from tap_gitlab.streams.repository import BranchesStream, CommitsStream, ReleasesStream, TagsStream
from tap_gitlab.streams.users import SiteUsersStream

STREAM_TYPES: list[type[GitLabStream]] = [
    GroupsStream,
    GroupMembersStream,
    GroupLabelsStream,
    GroupMilestonesStream,
    GroupIssueBoardsStream,
    EpicsStream,
    EpicIssuesStream,
    GroupVariablesStream,
    ProjectsStream,
    ProjectMembersStream,
    ProjectLabelsStream,
    ProjectMilestonesStream,
    ProjectUsersStream,
    ReleasesStream,
    TagsStream,
    BranchesStream,
    CommitsStream,
    DeploymentsStream,
    EnvironmentsStream,
    LanguagesStream,
    ReadmeStream,
    EventsStream,
    IssuesStream,
    IssueNotesStream,
    IssueLabelEventsStream,
    IssueStateEventsStream,
    IssueMilestoneEventsStream,
    MergeRequestsStream,
    MergeRequestCommitsStream,
    MergeRequestNotesStream,
    MergeRequestApprovalsStream,
    MergeRequestLabelEventsStream,
    MergeRequestStateEventsStream,
    MergeRequestMilestoneEventsStream,
    PipelinesStream,
    PipelinesExtendedStream,
    JobsStream,
    TriggerJobsStream,
    ProjectVariablesStream,
    VulnerabilitiesStream,
    SiteUsersStream,
]

__all__ = ["STREAM_TYPES", "GitLabStream"]
