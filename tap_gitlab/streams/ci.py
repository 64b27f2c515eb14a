"""CI/CD streams: pipelines, pipeline detail, jobs, trigger jobs, deployments."""

from __future__ import annotations

from dataclasses import replace

from tap_gitlab.paginators import TIE_BY_ID, UpdatedAtSeekPaginator
from tap_gitlab.readers import fan_out, listing, project_jobs
from tap_gitlab.spec import Child, Hidden, Parent, StreamSpec

PIPELINES_PATH = "/projects/{project_id}/pipelines"
# GitLab breaks no updated_at ties in the pipeline listing (`app/finders/ci/pipelines_finder.rb`): a block of
# pipelines at one timestamp is read in id order.
PIPELINE_LISTING = UpdatedAtSeekPaginator(tie_order=TIE_BY_ID)
# Child pipelines (trigger: include) are hidden from the pipeline listing unless asked for with
# `source=parent_pipeline` since GitLab 17.0 (gotcha 17); before, the default listing includes them too.
CHILD_PIPELINES = Hidden("source", "parent_pipeline", setting="include_child_pipelines")
PIPELINE_FIELDS = {"pipeline_id": "id", "pipeline_updated_at": "updated_at"}

PIPELINES = StreamSpec(
    name="pipelines",
    reader=listing.read,
    path=PIPELINES_PATH,
    paginator=PIPELINE_LISTING,
    hidden=CHILD_PIPELINES,
    replication_key="updated_at",
    since_param="updated_after",
    sorted=True,
)

PIPELINES_EXTENDED = StreamSpec(
    name="pipelines_extended",
    reader=fan_out.read,
    parent=Parent(PIPELINES_PATH, fields={"pipeline_updated_at": "updated_at"}, paginator=PIPELINE_LISTING),
    child=Child("/projects/{project_id}/pipelines/{id}", is_object=True),
    hidden=CHILD_PIPELINES,
    replication_key="pipeline_updated_at",
    since_param="updated_after",
    sorted=True,
)

# Jobs of the pipelines changed since the bookmark; the first read is project-wide (readers/project_jobs.py).
# Child pipelines have partitions of their own (`source=parent_pipeline`), read the same way; a child
# pipeline's job met in the project's jobs is its partition's (`within="pipeline"`).
JOBS = StreamSpec(
    name="jobs",
    reader=project_jobs.read,
    parent=Parent(PIPELINES_PATH, fields=PIPELINE_FIELDS, paginator=PIPELINE_LISTING),
    child=Child("/projects/{project_id}/pipelines/{id}/jobs", {"include_retried": "true"}),
    hidden=replace(CHILD_PIPELINES, within="pipeline"),
    replication_key="pipeline_updated_at",
    since_param="updated_after",
    sorted=True,
)

# Trigger jobs (bridges): the jobs that start child and multi-project pipelines, each with the pipeline it
# started (`downstream_pipeline`). GitLab leaves them out of every job listing. There is no project-wide
# listing: one request per pipeline (each pipeline changed since the bookmark, every pipeline on the first
# run), hence opt-in. `/bridges` works on every GitLab version; GitLab 19.2 deprecated it for `/trigger_jobs`,
# which is read instead when `/bridges` answers 404 before it has answered anything. `downstream_pipeline` is
# the child as of its parent's last change; the child's current state is a record of `pipelines`.
TRIGGER_JOBS = StreamSpec(
    name="trigger_jobs",
    reader=fan_out.read,
    parent=Parent(PIPELINES_PATH, fields=PIPELINE_FIELDS, paginator=PIPELINE_LISTING),
    child=Child(
        "/projects/{project_id}/pipelines/{id}/bridges",
        fallback="/projects/{project_id}/pipelines/{id}/trigger_jobs",
    ),
    hidden=CHILD_PIPELINES,  # a child pipeline may trigger pipelines of its own
    replication_key="pipeline_updated_at",
    since_param="updated_after",
    sorted=True,
    opt_in="fetch_trigger_jobs",
)

DEPLOYMENTS = StreamSpec(
    name="deployments",
    reader=listing.read,
    path="/projects/{project_id}/deployments",
    # GitLab answers 400 to updated_after without order_by=updated_at.
    paginator=UpdatedAtSeekPaginator(),
    replication_key="updated_at",
    since_param="updated_after",
    sorted=True,
)
