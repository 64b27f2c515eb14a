"""CI/CD streams: pipelines, pipeline detail, jobs, deployments."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_gitlab.bookmarks import Bookmark, JobsProgress
from tap_gitlab.streams.base import (
    Batch,
    Context,
    GitLabStream,
    PartitionPlan,
    Record,
    normalize_timestamp,
    parse_timestamp,
)

PIPELINE_LISTING: dict[str, t.Any] = {"order_by": "updated_at", "sort": "asc"}
# Child pipelines (trigger: include) are hidden from the pipeline listing unless asked for with
# `source=parent_pipeline` since GitLab 17.0 (gotcha 17); before, the default listing includes them too.
CHILD_PIPELINES = ("source", "parent_pipeline")
# Margin between a job's place in id order and its `created_at` (ids and timestamps are taken apart).
JOB_CLOCK_MARGIN = dt.timedelta(hours=1)


class PipelinesStream(GitLabStream):
    name = "pipelines"
    path = "/projects/{project_id}/pipelines"
    params = PIPELINE_LISTING
    hidden_filter = CHILD_PIPELINES
    hidden_setting = "include_child_pipelines"
    replication_key = "updated_at"
    since_param = "updated_after"
    is_sorted = True


class PipelinesExtendedStream(GitLabStream):
    name = "pipelines_extended"
    parent_path = "/projects/{project_id}/pipelines"
    parent_params = PIPELINE_LISTING
    hidden_filter = CHILD_PIPELINES
    hidden_setting = "include_child_pipelines"
    parent_fields: t.ClassVar[dict[str, str]] = {"pipeline_updated_at": "updated_at"}
    child_path = "/projects/{project_id}/pipelines/{id}"
    child_is_object = True
    replication_key = "pipeline_updated_at"
    since_param = "updated_after"
    is_sorted = True


class JobsStream(GitLabStream):
    """Jobs of the pipelines that changed since the bookmark.

    Jobs have no filter of their own. With a bookmark, the jobs of each pipeline updated since it are read
    (`/pipelines/:id/jobs?include_retried=true`: few pipelines change between runs). Without one, that would
    be one request per pipeline, so the whole project is read instead from `GET /projects/:id/jobs` (keyset,
    newest first, 100 jobs a request), each job matched to its pipeline's `updated_at` from the pipeline
    listing read just before; jobs of pipelines that appear after that listing are left to the next run.

    That read advances the bookmark only at its end (jobs come newest first, not by pipeline), so after each
    page it saves a resume point instead: the lowest job id emitted and the newest pipeline `updated_at` of
    the listing. A run resumed from it skips the jobs already emitted and the pipelines changed since (their
    `updated_at` is past the bookmark it ends with, so the next run reads their jobs). It stops at the jobs
    created before the oldest listed pipeline: none of them can be its.

    Child pipelines have partitions of their own (`source=parent_pipeline`), read the same way.
    """

    name = "jobs"
    parent_path = "/projects/{project_id}/pipelines"
    parent_params = PIPELINE_LISTING
    hidden_filter = CHILD_PIPELINES
    hidden_setting = "include_child_pipelines"
    parent_fields: t.ClassVar[dict[str, str]] = {"pipeline_id": "id", "pipeline_updated_at": "updated_at"}
    child_path = "/projects/{project_id}/pipelines/{id}/jobs"
    child_params: t.ClassVar[dict[str, t.Any]] = {"include_retried": "true"}
    replication_key = "pipeline_updated_at"
    since_param = "updated_after"
    is_sorted = True

    def plan_partition(self, context: Context | None) -> PartitionPlan:
        context = dict(context or {})
        if Bookmark.from_state(self.get_context_state(context)).value is not None:
            return super().plan_partition(context)
        params = self.request_params(context, self.starting_value(context))
        pipelines_path = self.listing_path(context)
        jobs_path = "/projects/{project_id}/jobs".format(**context)
        client = self.client
        resume = self.bookmark(context).jobs_progress or JobsProgress(through=None)
        below_id = resume.below_id  # the interrupted run emitted every listed pipeline's jobs from here up
        through = resume.through  # ... of the pipelines updated at or before this

        def produce() -> t.Iterator[Batch]:
            pipeline_updated_at: dict[int, str] = {}
            newest = None
            oldest_created: dt.datetime | None = None
            for page in client.pages(pipelines_path, params):
                for pipeline in page.records:
                    if through is not None and normalize_timestamp(pipeline["updated_at"]) > through:
                        continue  # changed since the interrupted run's listing: the next run reads its jobs
                    created = _created(pipeline)
                    if created is not None and (oldest_created is None or created < oldest_created):
                        oldest_created = created
                    pipeline_updated_at[pipeline["id"]] = pipeline["updated_at"]
                    newest = pipeline["updated_at"]  # sorted ascending: the last one is the newest
            if not pipeline_updated_at:
                yield Batch([], clears_progress=True)
                return
            progress = JobsProgress(through=through or normalize_timestamp(newest))
            for page in client.pages(jobs_path, {"pagination": "keyset", "order_by": "id", "sort": "desc"}):
                records = []
                for job in page.records:
                    pipeline_id = (job.get("pipeline") or {}).get("id")
                    if pipeline_id not in pipeline_updated_at:
                        continue  # a pipeline older than start_date, or newer than the listing
                    if below_id is not None and job["id"] >= below_id:
                        continue  # emitted before the interrupted run stopped
                    extras = {"pipeline_id": pipeline_id, "pipeline_updated_at": pipeline_updated_at[pipeline_id]}
                    record = self.transform({**job, **extras}, context)
                    if record is not None:
                        records.append(record)
                if page.records:
                    lowest = min(job["id"] for job in page.records)
                    progress = JobsProgress(progress.through, lowest if below_id is None else min(lowest, below_id))
                yield Batch(records, progress=progress)
                if oldest_created is not None and _created_before(page.records, oldest_created - JOB_CLOCK_MARGIN):
                    break  # ids are taken in creation order: the rest are older than every listed pipeline
            at_newest = tuple(pid for pid, updated in pipeline_updated_at.items() if updated == newest)
            yield Batch([], advance=newest, advance_ids=at_newest, clears_progress=True)

        return PartitionPlan(context, produce, params)

    def transform(self, record: Record, context: Context | None) -> Record | None:
        if self.hidden_record(record.get("pipeline") or {}, context):
            return None  # a child pipeline's job, met in the project's jobs: its own partition emits it
        return super().transform(record, context)


def _created(record: Record) -> dt.datetime | None:
    try:
        return parse_timestamp(record["created_at"])
    except (KeyError, TypeError, ValueError):
        return None


def _created_before(jobs: list[Record], instant: dt.datetime) -> bool:
    """Whether the last (lowest id) job of a page was created before `instant`."""
    created = _created(jobs[-1]) if jobs else None
    return created is not None and created < instant


class TriggerJobsStream(GitLabStream):
    """Trigger jobs (bridges): the jobs that start child and multi-project pipelines, each with the pipeline it
    started (`downstream_pipeline`). GitLab leaves them out of every job listing.

    There is no project-wide listing: one request per pipeline (each pipeline changed since the bookmark, every
    pipeline on the first run), hence opt-in. `/bridges` works on every GitLab version; GitLab 19.2 deprecated
    it for `/trigger_jobs`, which is read instead when `/bridges` answers 404 before it has answered anything.
    `downstream_pipeline` is the child as of its parent's last change; the child's current state is a record
    of `pipelines`.
    """

    name = "trigger_jobs"
    parent_path = "/projects/{project_id}/pipelines"
    parent_params = PIPELINE_LISTING
    hidden_filter = CHILD_PIPELINES  # a child pipeline may trigger pipelines of its own
    hidden_setting = "include_child_pipelines"
    parent_fields: t.ClassVar[dict[str, str]] = {"pipeline_id": "id", "pipeline_updated_at": "updated_at"}
    child_path = "/projects/{project_id}/pipelines/{id}/bridges"
    child_path_fallback = "/projects/{project_id}/pipelines/{id}/trigger_jobs"
    replication_key = "pipeline_updated_at"
    since_param = "updated_after"
    is_sorted = True
    opt_in_setting = "fetch_trigger_jobs"


class DeploymentsStream(GitLabStream):
    name = "deployments"
    path = "/projects/{project_id}/deployments"
    # GitLab answers 400 to updated_after without order_by=updated_at.
    params: t.ClassVar[dict[str, t.Any]] = {"order_by": "updated_at", "sort": "asc"}
    replication_key = "updated_at"
    since_param = "updated_after"
    is_sorted = True
