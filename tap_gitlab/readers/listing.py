"""A partition's listing, page by page: the stream's own, the parent listing of a fan-out stream, or a
group-level listing (with subgroups) for a top group's partition.

Each listing is read with its declared paginator (`StreamSpec.paginator`, `Parent.paginator`). A group-level
listing read by `UpdatedAtSeekPaginator` goes through `WindowNarrowing` (tap_gitlab/narrowing.py): on a database
statement timeout it is narrowed to `updated_at` windows, and at last to the group's projects' own listings.
"""

from __future__ import annotations

import typing as t

from tap_gitlab.narrowing import WindowNarrowing
from tap_gitlab.paginators import UpdatedAtSeekPaginator
from tap_gitlab.readers.records import shape
from tap_gitlab.spec import Batch
from tap_gitlab.timestamps import normalize

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.client import Page
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Context, Partition, Record, StreamSpec


def path_for(spec: StreamSpec, context: Context) -> str:
    """The listing of a partition: the group-level one for a group partition of a project stream."""
    if spec.scope == "project" and "group_id" in context and spec.group_listing:
        return spec.group_listing.path.format(**context)
    return spec.listing[0].format(**context)


def params_for(spec: StreamSpec, run: RunContext, context: Context, since: str | None) -> dict[str, t.Any]:
    """The listing's query parameters: its filters, the bookmark filter, the hidden filter, archived projects."""
    params = dict(spec.listing[1])
    if since and spec.since_param:
        params[spec.since_param] = since
    if spec.hidden and spec.hidden.param in context:
        params[spec.hidden.param] = context[spec.hidden.param]
    archived = spec.group_listing.archived_param if spec.group_listing else None
    if archived and "group_id" in context and spec.scope == "project" and run.settings.include_archived:
        params[archived] = "false"
    return params


def pages(spec: StreamSpec, run: RunContext, partition: Partition, params: t.Mapping[str, t.Any]) -> t.Iterator[Page]:
    """The pages of a partition's listing (narrowed on statement timeouts for a group-level one)."""
    context = partition.context
    path = path_for(spec, context)
    paginator = spec.listing[2]
    group_id = context.get("group_id")
    seeking = isinstance(paginator, UpdatedAtSeekPaginator)
    if group_id is None or spec.scope != "project" or not spec.group_listing or not seeking:
        return run.client.pages(path, params, paginator)
    scope = run.scope
    own = {key: value for key, value in params.items() if key != spec.group_listing.archived_param}
    template = spec.listing[0]
    projects = [
        (template.format(**{**context, "project_id": pid}), own)
        for pid, top in scope.project_top_group.items()
        if top == group_id and pid in scope.projects
    ]
    label = f"{spec.name}: {partition.label}"
    return WindowNarrowing(run.client, path, params, projects, paginator=paginator, label=label).pages()


def read(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    """A plain listing: a batch per page (records older than the bookmark dropped if the filter is coarser)."""
    context = partition.context
    params = params_for(spec, run, context, partition.since)
    rk = spec.replication_key
    floor = partition.since if spec.drop_before_since else None
    for page in pages(spec, run, partition, params):
        records = [shape(spec, run, record, context) for record in page.records]
        yield Batch([record for record in records if record is not None and _kept(record, rk, floor)])


def _kept(record: Record, rk: str | None, floor: str | None) -> bool:
    """Whether a record is at or after the bookmark (always, unless the listing drops older ones)."""
    if floor is None or rk is None or record.get(rk) is None:
        return True
    return bool(normalize(record[rk]) >= floor)
