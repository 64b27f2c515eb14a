"""Jobs of the pipelines that changed since the bookmark.

Jobs have no filter of their own. With a bookmark, the jobs of each pipeline updated since it are read
(`fan_out`: `/pipelines/:id/jobs?include_retried=true`; few pipelines change between runs). Without one, that
would be one request per pipeline, so the whole project is read instead from `GET /projects/:id/jobs` (keyset,
newest first, 100 jobs a request), each job matched to its pipeline's `updated_at` from the pipeline listing
read just before; jobs of pipelines that appear after that listing are left to the next run.

That read advances the bookmark only at its end (jobs come newest first, not by pipeline), so after each page
it saves a resume point instead (`JobsProgress`): the lowest job id emitted and the newest pipeline
`updated_at` of the listing. A run resumed from it skips the jobs already emitted and the pipelines changed
since (their `updated_at` is past the bookmark it ends with, so the next run reads their jobs). It stops at
the jobs created before the oldest listed pipeline: none of them can be its.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_gitlab.bookmarks import JobsProgress
from tap_gitlab.paginators import KeysetPaginator
from tap_gitlab.readers import fan_out, listing
from tap_gitlab.readers.records import shape
from tap_gitlab.spec import Batch
from tap_gitlab.timestamps import normalize, parse

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Partition, Record, StreamSpec

JOBS_PATH = "/projects/{project_id}/jobs"
NEWEST_FIRST = KeysetPaginator(order_by="id", sort="desc")
# Margin between a job's place in id order and its `created_at` (ids and timestamps are taken apart).
JOB_CLOCK_MARGIN = dt.timedelta(hours=1)


def read(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    if bookmark.value is not None:
        yield from fan_out.read(spec, run, partition, bookmark)
        return
    context = partition.context
    params = listing.params_for(spec, run, context, partition.since)
    resume = bookmark.jobs_progress or JobsProgress(through=None)
    below_id = resume.below_id  # the interrupted run emitted every listed pipeline's jobs from here up
    through = resume.through  # ... of the pipelines updated at or before this
    pipeline_updated_at: dict[int, str] = {}
    newest = None
    oldest_created: dt.datetime | None = None
    for page in listing.pages(spec, run, partition, params):
        for pipeline in page.records:
            if through is not None and normalize(pipeline["updated_at"]) > through:
                continue  # changed since the interrupted run's listing: the next run reads its jobs
            created = _created(pipeline)
            if created is not None and (oldest_created is None or created < oldest_created):
                oldest_created = created
            pipeline_updated_at[pipeline["id"]] = pipeline["updated_at"]
            newest = pipeline["updated_at"]  # sorted ascending: the last one is the newest
    if not pipeline_updated_at:
        yield Batch([], clears_progress=True)
        return
    progress = JobsProgress(through=through or normalize(newest))
    for page in run.client.pages(JOBS_PATH.format(**context), {}, NEWEST_FIRST):
        records = []
        for job in page.records:
            pipeline_id = (job.get("pipeline") or {}).get("id")
            if pipeline_id not in pipeline_updated_at:
                continue  # a pipeline older than start_date, or newer than the listing
            if below_id is not None and job["id"] >= below_id:
                continue  # emitted before the interrupted run stopped
            extras = {"pipeline_id": pipeline_id, "pipeline_updated_at": pipeline_updated_at[pipeline_id]}
            record = shape(spec, run, {**job, **extras}, context)
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


def _created(record: Record) -> dt.datetime | None:
    try:
        return parse(record["created_at"])
    except (KeyError, TypeError, ValueError):
        return None


def _created_before(jobs: list[Record], instant: dt.datetime) -> bool:
    """Whether the last (lowest id) job of a page was created before `instant`."""
    created = _created(jobs[-1]) if jobs else None
    return created is not None and created < instant
