"""Groups and projects: the records the scope resolution already read (no request)."""

from __future__ import annotations

import typing as t

from tap_gitlab.spec import Batch

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Partition, StreamSpec


def read(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    records = run.scope.projects if spec.scope == "resolved_projects" else run.scope.groups
    yield Batch([dict(record) for record in records.values()])
