"""Fan-out children: for each parent listed since the bookmark, its children (notes of each changed issue, ...).

Children have no filter of their own; their parents' `updated_at` moves when they change. So the parent listing
is read from the bookmark, and each parent's children are fetched (on the scheduler's leaf pool, in order).

- The bookmark is the parent's `updated_at` (`Parent.fields` names it in the child record) and moves only
  after a parent's children are all out (`Batch.advance`), so a crash loses no child. GitLab's `updated_after`
  is inclusive: the parents at exactly the bookmark are listed again, and the ones whose children are already
  out (`Bookmark.boundary`) are not read again.
- A STATE follows a page of parents (`checkpoint`), or any parent after which the records since the last
  STATE would pile up past a page (the stream decides).
- `Child.fallback`: a child route under another name for GitLab versions without `Child.path`, tried on a 404
  before any child request of this run succeeded, and kept for the run once it answers (`RunContext.learnt_routes`).
- A 403 on one parent's children skips them (warned and counted once per project, and the run's deletions
  are held back); a 404 means the parent went away between the listing and the request.
"""

from __future__ import annotations

import logging
import typing as t

from tap_gitlab.errors import ResourceUnavailable
from tap_gitlab.readers import listing
from tap_gitlab.readers.records import is_hidden, shape
from tap_gitlab.spec import Batch, describe, endpoint, template
from tap_gitlab.timestamps import normalize

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Child, Parent, Partition, Record, StreamSpec

logger = logging.getLogger("tap-gitlab")


def read(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    return FanOut(spec, run, partition, bookmark).batches()


class FanOut:
    """One partition's fan-out read."""

    def __init__(self, spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> None:
        assert spec.parent and spec.child
        self.spec, self.run, self.partition = spec, run, partition
        self.parent: Parent = spec.parent
        self.child: Child = spec.child
        self.cursor = spec.parent.fields.get(spec.replication_key or "", "updated_at")
        self.bookmark, self.done = bookmark.boundary()

    def batches(self) -> t.Iterator[Batch]:
        """A batch per parent (its children), a STATE due after the last parent of each page."""
        context = self.partition.context
        params = listing.params_for(self.spec, self.run, context, self.partition.since)
        for page in listing.pages(self.spec, self.run, self.partition, params):
            parents = [parent for parent in page.records if not is_hidden(self.spec, self.run, parent, context)]
            results = self.run.scheduler.map_ordered(self.children_of, parents)
            for index, (parent, (children, incomplete)) in enumerate(zip(parents, results, strict=True)):
                extras = {name: parent.get(source) for name, source in self.parent.fields.items()}
                records = []
                for child in children:
                    record = shape(self.spec, self.run, {**child, **extras}, context)
                    if record is not None:
                        records.append(record)
                yield Batch(
                    records,
                    advance=parent.get(self.cursor),
                    checkpoint=index == len(parents) - 1,  # a page of parents
                    advance_ids=(parent.get("id"),),
                    incomplete=incomplete,
                )

    def fresh(self, parent: Record) -> bool:
        """False for a parent at the bookmark whose children an earlier run already read."""
        return not (parent.get("id") in self.done and normalize(parent.get(self.cursor)) == self.bookmark)

    def children_of(self, parent: Record) -> tuple[list[Record], str | None]:
        """A parent's children (runs on the leaf pool), and why the read is not complete, if it is not."""
        if not self.fresh(parent):
            return [], None
        route = self.run.learnt_routes.get(self.spec.name) or self.child.path
        try:
            try:
                return self._read(route, parent), None
            except ResourceUnavailable as exc:
                retry = self._retry_route(route) if exc.status == 404 else None
                if retry is None:
                    raise
                return self._read(retry, parent), None  # 404 again: the parent is gone
        except ResourceUnavailable as exc:
            if exc.status != 403:
                return [], None  # 404: the parent vanished between the listing and this request
            # Refused, not gone (a feature off or unlicensed in the parent's project): the other parents go on,
            # but say so once per project and count it, as for a skipped partition.
            ids = {"project_id": parent["project_id"]} if "project_id" in parent else {}
            label = describe(self.spec, self.run.scope, {**self.partition.context, **ids})
            if self.run.stats.skip(self.spec.name, label, str(exc)):
                logger.warning("%s: %s: skipped: %s", self.spec.name, label, exc)
            return [], f"{label} skipped"

    def _read(self, route: str, parent: Record) -> list[Record]:
        client = self.run.client
        path = route.format(**{**self.partition.context, **parent})
        if self.child.is_object:
            children = [client.get_object(path, self.child.params)]
        else:
            pages = client.pages(path, self.child.params, self.child.paginator)
            children = [record for page in pages for record in page.records]
        if self.spec.name not in self.run.learnt_routes:
            self.run.learnt_routes[self.spec.name] = route
            if route != self.child.path:
                logger.info("%s: GitLab has no %s; reading %s", self.spec.name, endpoint(self.spec), template(route))
        return children

    def _retry_route(self, tried: str) -> str | None:
        """After a 404 from child route `tried`: the route to ask instead, or None (the parent is gone)."""
        learnt = self.run.learnt_routes.get(self.spec.name)
        if learnt is not None:  # this GitLab answered a route (maybe another worker just learnt it)
            return learnt if learnt != tried else None
        return self.child.fallback if tried == self.child.path else None
