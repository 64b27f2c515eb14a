"""CI/CD streams: pipelines, pipeline detail, jobs, deployments."""

from __future__ import annotations

import typing as t

from tap_gitlab.streams.base import GitLabStream

PIPELINE_LISTING: dict[str, t.Any] = {"order_by": "updated_at", "sort": "asc"}


class PipelinesStream(GitLabStream):
    name = "pipelines"
    path = "/projects/{project_id}/pipelines"
    params = PIPELINE_LISTING
    replication_key = "updated_at"
    since_param = "updated_after"
    is_sorted = True


class PipelinesExtendedStream(GitLabStream):
    name = "pipelines_extended"
    parent_path = "/projects/{project_id}/pipelines"
    parent_params = PIPELINE_LISTING
    parent_fields: t.ClassVar[dict[str, str]] = {"pipeline_updated_at": "updated_at"}
    child_path = "/projects/{project_id}/pipelines/{id}"
    child_is_object = True
    replication_key = "pipeline_updated_at"
    since_param = "updated_after"
    is_sorted = True


class JobsStream(GitLabStream):
    name = "jobs"
    parent_path = "/projects/{project_id}/pipelines"
    parent_params = PIPELINE_LISTING
    parent_fields: t.ClassVar[dict[str, str]] = {"pipeline_id": "id", "pipeline_updated_at": "updated_at"}
    child_path = "/projects/{project_id}/pipelines/{id}/jobs"
    child_params: t.ClassVar[dict[str, t.Any]] = {"include_retried": "true"}
    replication_key = "pipeline_updated_at"
    since_param = "updated_after"
    is_sorted = True


class DeploymentsStream(GitLabStream):
    name = "deployments"
    path = "/projects/{project_id}/deployments"
    # GitLab answers 400 to updated_after without order_by=updated_at.
    params: t.ClassVar[dict[str, t.Any]] = {"order_by": "updated_at", "sort": "asc"}
    replication_key = "updated_at"
    since_param = "updated_after"
    is_sorted = True
