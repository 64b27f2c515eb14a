"""Repository streams: branches, tags, commits, releases."""

from __future__ import annotations

import typing as t

from tap_gitlab.streams.base import Context, GitLabStream


class BranchesStream(GitLabStream):
    name = "branches"
    path = "/projects/{project_id}/repository/branches"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "name"]


class TagsStream(GitLabStream):
    name = "tags"
    path = "/projects/{project_id}/repository/tags"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "name"]


class ReleasesStream(GitLabStream):
    name = "releases"
    path = "/projects/{project_id}/releases"
    primary_keys: t.ClassVar[list[str]] = ["project_id", "tag_name"]  # releases have no id


class CommitsStream(GitLabStream):
    name = "commits"
    path = "/projects/{project_id}/repository/commits"
    # The same commit can be in several projects (forks): the key includes the project.
    primary_keys: t.ClassVar[list[str]] = ["project_id", "id"]
    params: t.ClassVar[dict[str, t.Any]] = {"with_stats": "true"}
    replication_key = "committed_date"
    since_param = "since"  # inclusive; git lists newest first, so the stream is not sorted

    def request_params(self, context: Context | None, since: str | None) -> dict[str, t.Any]:
        params = super().request_params(context, since)
        if self._gitlab_tap.settings.commits_all_branches:
            params["all"] = "true"
        return params
