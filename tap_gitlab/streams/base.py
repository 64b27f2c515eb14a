"""`GitLabStream`: the one singer-sdk stream class; it runs any `StreamSpec` (tap_gitlab/spec.py).

The spec says what to read and names its reader (tap_gitlab/readers/); this class is the mechanism around
them, the same for every stream:

- partitions come from the resolved scope (numeric ids), so bookmarks are per group or per project;
- each partition is planned on the main thread (its bookmark read, a snapshot) and read by its reader in a
  worker of the run's scheduler, ahead of the SDK; batches come back in plan order;
- sorted streams checkpoint after every page, so a crash re-reads at most one page per partition, and between
  fan-out parents before records pile up past a page (`CHECKPOINT_RECORDS`);
- a batch's `advance` moves a fan-out bookmark (with the parents at it), and its `progress` the partition's
  resume point (`Bookmark`, tap_gitlab/bookmarks.py); other bookmarks move with each record, as the SDK's do;
- a 403/404 on a partition skips that partition with a warning and counts it in the summary;
- full-table streams end with ACTIVATE_VERSION only when every partition was read in full.

singer-sdk's private hooks are reached through `AdaptedStream` (tap_gitlab/sdk_adapter.py).
"""

from __future__ import annotations

import json
import logging
import time
import typing as t
from importlib import resources

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_gitlab import spec as specs
from tap_gitlab.bookmarks import Bookmark
from tap_gitlab.conform import Conformer
from tap_gitlab.context import plan_key
from tap_gitlab.errors import ResourceUnavailable
from tap_gitlab.progress import install_log_filters
from tap_gitlab.sdk_adapter import AdaptedStream
from tap_gitlab.spec import Batch, Partition
from tap_gitlab.timestamps import millis, normalize

if t.TYPE_CHECKING:
    from singer_sdk import Tap

    from tap_gitlab.context import RunContext
    from tap_gitlab.settings import Settings
    from tap_gitlab.spec import Context, Record, StreamSpec

logger = logging.getLogger("tap-gitlab")

# At most this many records are emitted between two STATEs of a partition (one GitLab page), unless one
# parent's children alone are more: what a crash can make a resumed run emit again.
CHECKPOINT_RECORDS = 100
RESOLVED = ("resolved_projects", "resolved_groups")


def load_schema(name: str) -> dict[str, t.Any]:
    """A stream's JSON schema (tap_gitlab/schemas/<name>.json)."""
    text = resources.files("tap_gitlab").joinpath("schemas", f"{name}.json").read_text()
    return t.cast(dict[str, t.Any], json.loads(text))


def _state_due(previous: Batch | None, unsaved: int, upcoming: Batch) -> bool:
    """Whether a STATE goes out before `upcoming`: after a page, or before records would pile up past one.

    Every batch ends at a valid resume point: a page, or a fan-out parent whose children are all out.
    """
    if previous is None:
        return False
    return previous.checkpoint or unsaved + len(upcoming.records) > CHECKPOINT_RECORDS


class GitLabStream(AdaptedStream):
    """A stream of the tap: `spec` says what it reads; `run_context` gives the run's machinery when first needed."""

    # singer-sdk's own conformance re-derives each property's schema kind for every value of every record;
    # `Conformer` (tap_gitlab/conform.py) makes the same decisions once per schema, in `post_process`.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap, spec: StreamSpec, settings: Settings, run_context: t.Callable[[], RunContext]) -> None:
        super().__init__(tap=tap, name=spec.name, schema=load_schema(spec.name))
        self.spec = spec
        self.settings = settings
        self.primary_keys = list(spec.keys)
        self.replication_key = spec.replication_key
        self._run_context = run_context  # builds the run's machinery once (it resolves the scope)
        self._missing: str | None = None  # why this run's read is not complete (no deletions then)
        self._conformer: Conformer | None = None
        install_log_filters(self.logger.name)  # singer-sdk logs per stream on `tap-gitlab.<stream>`

    @property
    def run(self) -> RunContext:
        """The run's client, scheduler, scope, settings and counters (tap_gitlab/context.py)."""
        return self._run_context()

    @property
    def is_sorted(self) -> bool:
        return self.spec.sorted

    @property
    def enabled(self) -> bool:
        """Opt-in streams run only when their setting is on."""
        return specs.enabled(self.spec, self.settings)

    @property
    def partitions(self) -> list[dict[str, t.Any]] | None:
        return specs.partitions(self.spec, self.settings, self.run.scope)

    def describe(self, context: Context | None) -> str:
        return specs.describe(self.spec, self.run.scope, context)

    # -- records ------------------------------------------------------------------------------------------

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        schema = self.effective_schema
        conformer = self._conformer
        if conformer is None or conformer.schema is not schema:
            conformer = self._conformer = Conformer(schema, previous=conformer)
        return conformer.conform(self.name, row, self.logger)

    @property
    def fields_off_schema(self) -> tuple[list[str], list[str]]:
        """(fields GitLab sent that the schema does not declare, carried; credential fields dropped) so far."""
        if self._conformer is None:
            return [], []
        return list(self._conformer.unknown), list(self._conformer.credentials)

    # -- deletions: ACTIVATE_VERSION ----------------------------------------------------------------------
    #
    # singer-sdk sends a stream's ACTIVATE_VERSION before its first record, and a target deletes (hard or soft)
    # every row of an older `_sdc_table_version` when it gets one (MeltanoLabs target-postgres, sinks.py
    # `activate_version`: `_sdc_table_version < version OR IS NULL`, table-wide). Sent first, that empties the
    # table while the run loads it, and keeps nothing of a partition the run then skips (a 403 on one project)
    # or never reaches (a crash). The version is one per stream and run, so it cannot spare one partition's
    # rows: it goes out after the stream's last record, and only when every partition was read in full.

    @property
    def emit_activate_version_messages(self) -> bool:
        return False  # singer-sdk's own (up-front) ACTIVATE_VERSION: see `sync_around`

    @property
    def signals_deletions(self) -> bool:
        """Whether this stream ends with ACTIVATE_VERSION when it read everything (full-table streams)."""
        # A sharded run reads some partitions only, and a target's deletion is table-wide (see above).
        full_table = self.replication_method == "FULL_TABLE" and not self.settings.shard.sharded
        return full_table and self.settings.emit_activate_version_messages

    def not_in_full(self, why: str) -> None:
        """Something of this run's read is missing (a skipped partition, a bookmark): no deletions this run.

        Called on the main thread while planning (the scheduler plans ahead, before this stream's sync
        starts) and while draining batches; the first reason is kept.
        """
        if self._missing is None:
            self._missing = why

    def sync_around(
        self, context: Context | None, *, write_messages: bool, sync: t.Callable[[], t.Iterator[Record]]
    ) -> t.Iterator[Record]:
        versioned = write_messages and context is None and self.selected and self.enabled and self.signals_deletions
        if versioned:
            # Milliseconds (the Singer convention), not singer-sdk's seconds: two runs within one second would
            # share a version, and the second could not delete what the first loaded.
            self.set_stream_version(self.run.version)
        tracked = write_messages and context is None and self.selected and self.enabled
        if not tracked:
            yield from sync()
            return
        progress = self.run.progress
        progress.stream_started(self.name, len(self.partitions or ()) or 1)
        for record in sync():
            progress.record()
            yield record
        progress.stream_done()
        if not versioned:
            return
        if self._missing is None:
            self.write_activate_version()
            logger.debug("%s: ACTIVATE_VERSION %d", self.name, self.run.version)
        else:
            logger.warning(
                "%s: no deletions signalled this run (%s); rows GitLab no longer lists stay until a complete run",
                self.name,
                self._missing,
            )

    # -- bookmarks ----------------------------------------------------------------------------------------

    def bookmark_update(self, latest_record: Record) -> Record | None:
        if self.spec.parent:
            return None  # fan-out bookmarks move only after a parent's children are all out (`Batch.advance`)
        return self._normalized(latest_record)

    def _normalized(self, latest_record: Record) -> Record:
        # Bookmarks compare as strings: store every timestamp as UTC with milliseconds and a Z, whatever
        # offset GitLab used (git dates keep the author's offset).
        rk = self.replication_key
        if rk and latest_record.get(rk) is not None:
            return {rk: normalize(latest_record[rk])}
        return latest_record

    def _apply(self, batch: Batch, context: Context | None) -> None:
        """After a batch's records: move a fan-out bookmark past its parent, and the partition's resume point.

        GitLab's `updated_after` is inclusive, so the next run lists again the parents updated exactly at
        the bookmark; their ids (`boundary_ids`) let it skip re-reading their unchanged children.
        """
        if batch.incomplete is not None:
            self.not_in_full(batch.incomplete)
        if batch.advance is not None and self.replication_key:
            self.move_bookmark(self._normalized({self.replication_key: batch.advance}), context)
            state = self.get_context_state(context)
            bookmark = Bookmark.from_state(state)
            if bookmark.value is not None and bookmark.value == normalize(batch.advance):
                bookmark.advance(bookmark.value, batch.advance_ids).to_state(state)
        if batch.progress is not None or batch.clears_progress:
            state = self.get_context_state(context)
            bookmark = Bookmark.from_state(state)
            progress = batch.progress
            bookmark = bookmark.with_progress(progress) if progress is not None else bookmark.cleared_progress()
            bookmark.to_state(state)

    def bookmark(self, context: Context | None) -> Bookmark:
        """The partition's bookmark as a read uses it: none for a full-table read, which reads everything again."""
        if self.replication_method == "FULL_TABLE":
            return Bookmark()  # (and leaves the partition's state alone: no entry for it in the STATE yet)
        return Bookmark.from_state(self.get_context_state(context))

    def starting_value(self, context: Context | None) -> str | None:
        """The bookmark (or start_date) as GitLab's timestamp text; None for a full read."""
        if not self.replication_key:
            return None
        # The SDK records a partition's starting value only when it starts syncing it; a partition planned
        # ahead by the scheduler is planned before that, so record it now (the SDK's later call is a no-op).
        self.write_starting_value(context)
        start = self.get_starting_timestamp(context)
        return millis(start) if start else None

    # -- the read -----------------------------------------------------------------------------------------

    def plan(self, context: Context | None) -> t.Callable[[], t.Iterator[Batch]]:
        """Runs on the main thread: reads the bookmark and returns the worker's producer."""
        context = dict(context or {})
        if self.spec.scope in ("project", "group") and not context:
            return lambda: iter(())  # no group (or project) in the selection: the SDK still asks once, with {}
        if not specs.owned(self.spec, self.settings):
            return lambda: iter(())  # an instance-wide stream of a shard other than the first
        since = self.starting_value(context)
        bookmark = self.bookmark(context)
        if since is not None or bookmark.boundary()[1]:
            self.not_in_full("read from a bookmark")
        partition = Partition(context, since, self.describe(context))
        spec, run = self.spec, self.run
        return lambda: spec.reader(spec, run, partition, bookmark)

    def get_records(self, context: Context | None) -> t.Iterable[Record]:
        """Drain this partition's job (started ahead by the scheduler), batch by batch."""
        if not self.enabled:
            partitions = self.partitions
            if context is None or context == (partitions[0] if partitions else None):
                logger.warning(
                    "Stream %s is selected but %s is false: skipped (%s)", self.name, self.spec.opt_in, "opt-in"
                )
            return
        if self.spec.scope in RESOLVED:
            yield from self._scope_records()
            return
        started = time.monotonic()
        label = self.describe(context)
        run = self.run
        # Planned here only if the scheduler has no job for it (`plan` reads the bookmark: not before it is needed).
        job = run.scheduler.take(plan_key(self.name, context), produce=lambda: self.plan(context)())  # noqa: PLW0108
        logger.debug("%s: %s: started", self.name, label)
        run.progress.partition_started(job.counters)
        skipped = False
        count = 0
        unsaved = 0  # records emitted since this partition's last STATE
        previous: Batch | None = None
        try:
            for batch in job.results():
                # Checkpoint between pages, and between fan-out parents before records pile up past a page:
                # a crash re-reads one page at most (or one parent's children when they alone exceed it).
                if self.is_sorted and _state_due(previous, unsaved, batch):
                    self.write_state_message()
                    unsaved = 0
                for record in batch.records:
                    count += 1
                    unsaved += 1
                    yield record
                self._apply(batch, context)
                previous = batch
        except ResourceUnavailable as exc:
            reason = str(exc)
            logger.warning("%s: %s: skipped: %s", self.name, label, reason)
            run.stats.skip(self.name, label, reason)
            self.not_in_full(f"{label} skipped")
            skipped = True
        finally:
            job.cancelled.set()  # if the SDK stopped early, free the worker filling this queue
        run.stats.records[self.name] += count
        run.progress.partition_done(skipped=skipped)
        logger.debug(
            "%s: %s: %d records, %d requests, %.1f s",
            self.name,
            label,
            count,
            job.counters.requests,
            time.monotonic() - started,
        )

    def _scope_records(self) -> t.Iterator[Record]:
        """Groups and projects, as the scope resolution read them (no request, on the main thread)."""
        count = 0
        for batch in self.spec.reader(self.spec, self.run, Partition({}, None, "scope"), Bookmark()):
            for record in batch.records:
                count += 1
                yield record
        self.run.stats.records[self.name] += count
        logger.debug("%s: %d records (from scope resolution)", self.name, count)
