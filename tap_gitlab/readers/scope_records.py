"""Groups and projects: the records the scope resolution already read (no request), the shard's own."""

from __future__ import annotations

import typing as t

from tap_gitlab.spec import Batch

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Partition, StreamSpec


def read(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    projects = spec.scope == "resolved_projects"
    records = run.scope.projects if projects else run.scope.groups
    key = "project_id" if projects else "group_id"
    shard = run.settings.shard
    yield Batch([dict(record) for record_id, record in records.items() if shard.owns({key: record_id})])
