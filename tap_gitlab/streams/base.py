"""`GitLabStream`: every stream's behaviour, so that a stream class reads like a row of a table.

A stream declares its endpoint (`path`), what it is partitioned by (`scope`: each group, each project, or
the instance), its keys, its replication key and how GitLab filters on it (`since_param`), and, for
children without a filter of their own, the parent listing that tells which parents changed
(`parent_path`, `child_path`). The mechanism lives here:

- partitions come from the resolved scope (numeric ids), so bookmarks are per group or per project;
- the request plan runs ahead on the tap's `Prefetcher`; records come back in plan order;
- sorted streams checkpoint after every page, so a crash re-reads at most one page per partition;
- fan-out children are fetched only for parents changed since the bookmark; the bookmark is the parent's
  `updated_at` and advances after each parent's children, so a crash loses no child; a STATE follows a page
  of parents, or any parent after which another would take the records since the last STATE past a page;
- a listing that cannot advance its bookmark until its end (project jobs, newest first) keeps a resume point
  (`listing_progress`) in its partition's state after each page, so a resumed run skips what was emitted;
- a listing that hides some records unless a filter asks for them (`hidden_filter`: child pipelines) gets a
  second partition per project with that filter, with its own bookmark;
- a 403/404 on a partition skips that partition with a warning and counts it in the summary; a 403 on
  one parent's children skips those (warned and counted once per project), a 404 means the parent is gone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import typing as t
from dataclasses import dataclass, field
from importlib import resources

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_gitlab.bookmarks import Bookmark, Progress
from tap_gitlab.conform import Conformer
from tap_gitlab.context import plan_key
from tap_gitlab.errors import ResourceUnavailable
from tap_gitlab.narrowing import WindowNarrowing
from tap_gitlab.pagination import UpdatedAtSeek
from tap_gitlab.progress import install_log_filters
from tap_gitlab.sdk_adapter import AdaptedStream

if t.TYPE_CHECKING:
    from singer_sdk import Tap

    from tap_gitlab.client import GitLabClient, Page
    from tap_gitlab.context import RunContext
    from tap_gitlab.settings import Settings

logger = logging.getLogger("tap-gitlab")

Record = dict[str, t.Any]
Context = t.Mapping[str, t.Any]


@dataclass
class Batch:
    """Records a partition job hands to the main thread; `advance` moves a fan-out bookmark after them."""

    records: list[Record]
    advance: str | None = None
    checkpoint: bool = True  # the end of a page: a STATE follows this batch (else one may, see `_state_due`)
    advance_ids: tuple[t.Any, ...] = ()  # the parents whose children are now out, at the `advance` value
    progress: Progress | None = None  # the partition's resume point after this batch (None: as it was)
    clears_progress: bool = False  # the read is complete: the resume point goes


# At most this many records are emitted between two STATEs of a partition (one GitLab page), unless one
# parent's children alone are more: what a crash can make a resumed run emit again.
CHECKPOINT_RECORDS = 100


@dataclass
class PartitionPlan:
    """What one partition will request: computed on the main thread, run in a worker."""

    context: dict[str, t.Any]
    produce: t.Callable[[], t.Iterator[Batch]]
    params: dict[str, t.Any] = field(default_factory=dict)


def format_timestamp(value: dt.datetime) -> str:
    """GitLab's DB timestamp format, UTC with milliseconds: 2024-01-31T12:00:00.000Z."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> dt.datetime:
    """Parse GitLab's DB (`…Z`) and git (`…-07:00`) timestamps and dates into aware UTC datetimes."""
    text = value.strip().replace("Z", "+00:00")
    if len(text) == 10:
        text += "T00:00:00+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def normalize_timestamp(value: t.Any) -> t.Any:
    """A timestamp as sortable UTC text (bookmarks compare as strings); other values unchanged."""
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-":
        try:
            return format_timestamp(parse_timestamp(value))
        except ValueError:
            return value
    return value


def _template(path: str) -> str:
    """An API path template as GitLab's documentation writes it: `/projects/:id/pipelines/:id/jobs`."""
    path = path.replace("{project_id}", ":id").replace("{group_id}", ":id")
    return re.sub(r"\{(\w+)\}", r":\1", path)


def _at_or_after(value: t.Any, floor: str) -> bool:
    return bool(normalize_timestamp(value) >= floor)


def _state_due(previous: Batch | None, unsaved: int, upcoming: Batch) -> bool:
    """Whether a STATE goes out before `upcoming`: after a page, or before records would pile up past one.

    Every batch ends at a valid resume point: a page, or a fan-out parent whose children are all out.
    """
    if previous is None:
        return False
    return previous.checkpoint or unsaved + len(upcoming.records) > CHECKPOINT_RECORDS


class GitLabStream(AdaptedStream):
    """Base of every GitLab stream. Subclasses set class attributes only."""

    # -- the table row ------------------------------------------------------------------------------------
    name: str
    path: str = ""  # API path; `{project_id}` / `{group_id}` come from the partition
    scope: t.Literal["project", "group", "instance", "resolved_projects", "resolved_groups"] = "project"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key: str | None = None
    since_param: str | None = None  # GitLab's server-side filter on the replication key
    params: t.ClassVar[dict[str, t.Any]] = {}
    is_sorted: bool = False
    opt_in_setting: str | None = None  # off unless this setting is true (secrets, instance-wide, licensed)
    licence_note: str | None = None
    # Fan-out children: the parent listing (filtered by the bookmark) and the child path per parent.
    parent_path: str | None = None
    parent_params: t.ClassVar[dict[str, t.Any]] = {}
    parent_fields: t.ClassVar[dict[str, str]] = {}  # child record field -> parent field
    child_path: str | None = None  # formatted with the partition and the parent record
    child_params: t.ClassVar[dict[str, t.Any]] = {}
    child_is_object: bool = False  # the child endpoint returns one object, not a list
    # The same children under another name, for GitLab versions without `child_path`: tried when a child
    # request answers 404 before any has succeeded in this run, and kept for the rest of it if it answers.
    child_path_fallback: str | None = None
    drop_before_since = False  # drop records older than the bookmark (for filters coarser than it)
    # A group-level listing that covers every project below a group (with subgroups) in one paged stream,
    # used instead of one listing per project for the projects reached through a configured group.
    group_listing_path: str | None = None
    archived_param: str | None = None  # the listing's parameter that hides archived projects' records
    # Records the listing hides unless a filter asks for them: (parameter, value). While `hidden_setting` is
    # on, each partition gets a twin whose context carries the filter (so it has its own bookmark), and the
    # default partition drops such records, which older GitLab versions list there too.
    hidden_filter: t.ClassVar[tuple[str, str] | None] = None
    hidden_setting: str | None = None

    def __init__(self, tap: Tap, settings: Settings) -> None:
        super().__init__(tap=tap, name=self.name, schema=self._load_schema())
        self.settings = settings
        self._run: RunContext | None = None  # the run's shared machinery, from `bind` (after scope resolution)
        self._child_route: str | None = None  # the child path this GitLab answered (None: none yet)
        install_log_filters(self.logger.name)  # singer-sdk logs per stream on `tap-gitlab.<stream>`

    @classmethod
    def _load_schema(cls) -> dict[str, t.Any]:
        text = resources.files("tap_gitlab").joinpath("schemas", f"{cls.name}.json").read_text()
        return t.cast(dict[str, t.Any], json.loads(text))

    # -- documentation ------------------------------------------------------------------------------------

    @classmethod
    def endpoint(cls) -> str:
        """The endpoint, as shown in the README's stream table."""
        return _template(cls.child_path or cls.path)

    # -- the SDK's hooks ----------------------------------------------------------------------------------

    def bind(self, run: RunContext) -> None:
        """Give the stream the run's shared machinery (the tap does, once the scope is resolved)."""
        self._run = run

    @property
    def run(self) -> RunContext:
        if self._run is None:
            raise RuntimeError(f"stream {self.name} is not bound to a run (TapGitLab.sync_all binds it)")
        return self._run

    @property
    def client(self) -> GitLabClient:
        return self.run.client

    # singer-sdk's own conformance re-derives each property's schema kind for every value of every record;
    # `Conformer` (tap_gitlab/conform.py) makes the same decisions once per schema, here in `post_process`.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        schema = self.effective_schema
        conformer = self.__dict__.get("_conformer")
        if conformer is None or conformer.schema is not schema:
            conformer = self._conformer = Conformer(schema, previous=conformer)
        return conformer.conform(self.name, row, self.logger)

    @property
    def fields_off_schema(self) -> tuple[list[str], list[str]]:
        """(fields GitLab sent that the schema does not declare, carried; credential fields dropped) so far."""
        conformer: Conformer | None = self.__dict__.get("_conformer")
        if conformer is None:
            return [], []
        return list(conformer.unknown), list(conformer.credentials)

    @property
    def enabled(self) -> bool:
        """Opt-in streams run only when their setting is on."""
        return self.opt_in_setting is None or bool(getattr(self.settings, self.opt_in_setting))

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
        return self.replication_method == "FULL_TABLE" and self.settings.emit_activate_version_messages

    def not_in_full(self, why: str) -> None:
        """Something of this run's read is missing (a skipped partition, a bookmark): no deletions this run.

        Called from the main thread while planning (the prefetcher plans ahead, before this stream's sync
        starts) and from fan-out workers; the first reason is kept.
        """
        if self.__dict__.get("_missing") is None:
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
        missing = self.__dict__.get("_missing")
        if missing is None:
            self.write_activate_version()
            logger.debug("%s: ACTIVATE_VERSION %d", self.name, self.run.version)
        else:
            logger.warning(
                "%s: no deletions signalled this run (%s); rows GitLab no longer lists stay until a complete run",
                self.name,
                missing,
            )

    @property
    def partitions(self) -> list[dict[str, t.Any]] | None:
        scope = self.run.scope
        if self.scope == "project":
            if self.group_listing_path and self.settings.include_subgroups:
                # One partition per top group (its listing covers all its projects), then the projects
                # that were configured on their own.
                groups = [{"group_id": group_id} for group_id in scope.top_groups]
                alone = [{"project_id": pid} for pid in scope.projects if pid not in scope.project_top_group]
                return self._with_hidden(groups + alone)
            return self._with_hidden([{"project_id": project_id} for project_id in scope.projects])
        if self.scope == "group":
            return [{"group_id": group_id} for group_id in scope.groups]
        return None

    @property
    def splits_hidden(self) -> bool:
        """Whether the records the listing hides are read, in partitions of their own."""
        if self.hidden_filter is None:
            return False
        return self.hidden_setting is None or bool(getattr(self.settings, self.hidden_setting))

    def _with_hidden(self, partitions: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        if not self.splits_hidden:
            return partitions
        assert self.hidden_filter
        param, value = self.hidden_filter
        return [variant for context in partitions for variant in (context, {**context, param: value})]

    def hidden_record(self, record: Record, context: Context | None) -> bool:
        """A record of the hidden partition met in the default one (GitLab versions that list it there too)."""
        if not self.splits_hidden or context is None:
            return False
        assert self.hidden_filter
        param, value = self.hidden_filter
        return param not in context and record.get(param) == value

    def describe(self, context: Context | None) -> str:
        if self.hidden_filter and context and self.hidden_filter[0] in context:
            param = self.hidden_filter[0]
            return f"{self.describe({k: v for k, v in context.items() if k != param})} ({param}={context[param]})"
        scope = self.run.scope
        if context and "project_id" in context:
            return scope.describe_project(context["project_id"])
        if context and "group_id" in context:
            return scope.describe_group(context["group_id"])
        return "instance"

    def bookmark_update(self, latest_record: Record) -> Record | None:
        if self.parent_path:
            return None  # fan-out bookmarks move only after a parent's children are all out (`Batch.advance`)
        return self._normalized(latest_record)

    def _normalized(self, latest_record: Record) -> Record:
        # Bookmarks compare as strings: store every timestamp as UTC with milliseconds and a Z, whatever
        # offset GitLab used (git dates keep the author's offset).
        if self.replication_key and latest_record.get(self.replication_key) is not None:
            return {self.replication_key: normalize_timestamp(latest_record[self.replication_key])}
        return latest_record

    def get_records(self, context: Context | None) -> t.Iterable[Record]:
        """Drain this partition's job (started ahead by the prefetcher), page by page."""
        if not self.enabled:
            if context is None or context == self._first_partition():
                logger.warning(
                    "Stream %s is selected but %s is false: skipped (%s)",
                    self.name,
                    self.opt_in_setting,
                    "opt-in",
                )
            return
        started = time.monotonic()
        label = self.describe(context)
        run = self.run
        job = run.scheduler.take(plan_key(self.name, context), produce=lambda: self.plan_partition(context).produce())
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
                if batch.advance is not None and self.replication_key:
                    self._advance(batch, context)
                if batch.progress is not None or batch.clears_progress:
                    self._set_progress(batch, context)
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

    def _advance(self, batch: Batch, context: Context | None) -> None:
        """Move a fan-out bookmark past parents whose children are all out, remembering the parents at it.

        GitLab's `updated_after` is inclusive, so the next run lists again the parents updated exactly at
        the bookmark; their ids (`boundary_ids`) let it skip re-reading their unchanged children.
        """
        assert self.replication_key and batch.advance is not None
        self.move_bookmark(self._normalized({self.replication_key: batch.advance}), context)
        state = self.get_context_state(context)
        bookmark = Bookmark.from_state(state)
        if bookmark.value is None or bookmark.value != normalize_timestamp(batch.advance):
            return
        bookmark.advance(bookmark.value, batch.advance_ids).to_state(state)

    def _set_progress(self, batch: Batch, context: Context | None) -> None:
        state = self.get_context_state(context)
        bookmark = Bookmark.from_state(state)
        if batch.progress is not None:
            bookmark.with_progress(batch.progress).to_state(state)
        else:
            bookmark.cleared_progress().to_state(state)

    def bookmark(self, context: Context | None) -> Bookmark:
        """The partition's bookmark as a read uses it: none for a full-table read, which reads everything again."""
        if self.replication_method == "FULL_TABLE":
            return Bookmark()  # (and leaves the partition's state alone: no entry for it in the STATE yet)
        return Bookmark.from_state(self.get_context_state(context))

    def _first_partition(self) -> dict[str, t.Any] | None:
        partitions = self.partitions
        return partitions[0] if partitions else None

    # -- request planning ---------------------------------------------------------------------------------

    def starting_value(self, context: Context | None) -> str | None:
        """The bookmark (or start_date) as GitLab's timestamp text; None for a full read."""
        if not self.replication_key:
            return None
        # The SDK records a partition's starting value only when it starts syncing it; a partition planned
        # ahead by the prefetcher is planned before that, so record it now (the SDK's later call is a no-op).
        self.write_starting_value(context)
        start = self.get_starting_timestamp(context)
        return format_timestamp(start) if start else None

    def request_params(self, context: Context | None, since: str | None) -> dict[str, t.Any]:
        """Query parameters of the listing (the parent listing for fan-out children)."""
        params = dict(self.parent_params if self.parent_path else self.params)
        if since and self.since_param:
            params[self.since_param] = since
        if self.hidden_filter and context is not None and self.hidden_filter[0] in context:
            params[self.hidden_filter[0]] = context[self.hidden_filter[0]]
        in_group = context is not None and "group_id" in context and self.scope == "project"
        if in_group and self.archived_param and self.settings.include_archived:
            params[self.archived_param] = "false"
        return params

    def listing_path(self, context: Context) -> str:
        """The listing for a partition: the group-level one for a group partition of a project stream."""
        if self.scope == "project" and "group_id" in context and self.group_listing_path:
            return self.group_listing_path.format(**context)
        return (self.parent_path or self.path).format(**context)

    def listing_pages(self, context: Context, path: str, params: t.Mapping[str, t.Any]) -> t.Iterator[Page]:
        """The pages of a partition's listing (the parent listing for fan-out children).

        A group-level listing sorted by `updated_at` is read through `WindowNarrowing` (tap_gitlab/
        narrowing.py): on a database statement timeout it is narrowed to `updated_at` windows, and at last to
        the group's projects' own listings.
        """
        group_id = context.get("group_id")
        if group_id is None or path != self.listing_path(context) or not UpdatedAtSeek.applies(params):
            return self.client.pages(path, params)
        if self.scope != "project" or not self.group_listing_path:
            return self.client.pages(path, params)
        scope = self.run.scope
        own = {key: value for key, value in params.items() if key != self.archived_param}
        template = self.parent_path or self.path
        projects = [
            (template.format(**{**context, "project_id": pid}), own)
            for pid, top in scope.project_top_group.items()
            if top == group_id and pid in scope.projects
        ]
        label = f"{self.name}: {self.describe(context)}"
        return WindowNarrowing(self.client, path, params, projects, label=label).pages()

    def plan_partition(self, context: Context | None) -> PartitionPlan:
        """Runs on the main thread: reads the bookmark and returns the worker's producer."""
        context = dict(context or {})
        since = self.starting_value(context)
        if since is not None or self.bookmark(context).boundary()[1]:
            self.not_in_full("read from a bookmark")
        params = self.request_params(context, since)
        if self.parent_path:
            return PartitionPlan(context, self._fan_out_producer(context, params), params)
        path = self.listing_path(context)

        rk = self.replication_key
        floor = since if self.drop_before_since else None

        def produce() -> t.Iterator[Batch]:
            for page in self.listing_pages(context, path, params):
                records = [self.transform(record, context) for record in page.records]
                yield Batch(
                    [
                        record
                        for record in records
                        if record is not None
                        and (floor is None or rk is None or record.get(rk) is None or _at_or_after(record[rk], floor))
                    ]
                )

        return PartitionPlan(context, produce, params)

    def _fan_out_producer(
        self, context: dict[str, t.Any], params: dict[str, t.Any]
    ) -> t.Callable[[], t.Iterator[Batch]]:
        assert self.parent_path and self.child_path
        parent_path = self.listing_path(context)
        client = self.client
        prefetcher = self.run.scheduler
        cursor = self.parent_fields.get(self.replication_key or "", "updated_at")
        bookmark, done = self.bookmark(context).boundary()

        def fresh(parent: Record) -> bool:
            """False for a parent at the bookmark whose children an earlier run already read."""
            return not (parent.get("id") in done and normalize_timestamp(parent.get(cursor)) == bookmark)

        def read_children(route: str, parent: Record) -> list[Record]:
            path = route.format(**{**context, **parent})
            if self.child_is_object:
                children = [client.get_object(path, self.child_params)]
            else:
                children = [record for page in client.pages(path, self.child_params) for record in page.records]
            if self._child_route is None:
                self._child_route = route
                if route != self.child_path:
                    logger.info("%s: GitLab has no %s; reading %s", self.name, self.endpoint(), _template(route))
            return children

        def fetch_children(parent: Record) -> list[Record]:
            assert self.child_path
            route = self._child_route or self.child_path
            try:
                try:
                    return read_children(route, parent)
                except ResourceUnavailable as exc:
                    retry = self._retry_route(route) if exc.status == 404 else None
                    if retry is None:
                        raise
                    return read_children(retry, parent)  # 404 again: the parent is gone
            except ResourceUnavailable as exc:
                if exc.status == 403:
                    # Refused, not gone (a feature off or unlicensed in the parent's project): the other
                    # parents go on, but say so once per project and count it, as for a skipped partition.
                    ids = {"project_id": parent["project_id"]} if "project_id" in parent else {}
                    label = self.describe({**context, **ids})
                    if self.run.stats.skip(self.name, label, str(exc)):
                        logger.warning("%s: %s: skipped: %s", self.name, label, exc)
                    self.not_in_full(f"{label} skipped")
                return []  # 404: the parent vanished between the listing and this request

        def produce() -> t.Iterator[Batch]:
            for page in self.listing_pages(context, parent_path, params):
                parents = [parent for parent in page.records if self.include_parent(parent, context)]
                results = prefetcher.map_ordered(
                    lambda parent: fetch_children(parent) if fresh(parent) else [], parents
                )
                for index, (parent, children) in enumerate(zip(parents, results, strict=True)):
                    extras = {field: parent.get(source) for field, source in self.parent_fields.items()}
                    records = []
                    for child in children:
                        record = self.transform({**child, **extras}, context)
                        if record is not None:
                            records.append(record)
                    yield Batch(
                        records,
                        advance=parent.get(cursor),
                        checkpoint=index == len(parents) - 1,  # a page of parents
                        advance_ids=(parent.get("id"),),
                    )

        return produce

    def _retry_route(self, tried: str) -> str | None:
        """After a 404 from child route `tried`: the route to ask instead, or None (the parent is gone)."""
        if self._child_route is not None:  # this GitLab answered a route (maybe another worker just learnt it)
            return self._child_route if self._child_route != tried else None
        return self.child_path_fallback if tried == self.child_path else None

    def include_parent(self, parent: Record, context: Context | None) -> bool:
        """Whether a listed parent's children are fetched."""
        return not self.hidden_record(parent, context)

    def transform(self, record: Record, context: Context | None) -> Record | None:
        """Shape one API object into a record (runs in a worker): adds `project_id` or `group_id`."""
        if self.hidden_record(record, context):
            return None  # the other partition emits it
        key = "group_id" if self.scope == "group" else "project_id"
        if context and key in context:
            record.setdefault(key, context[key])
        elif self.scope == "project" and record.get("project_id") not in self.run.scope.projects:
            return None  # a group-level listing reaching a project outside the selection (shared, excluded)
        return record


class ScopeStream(GitLabStream):
    """Groups and projects: the records the scope resolution already read (no extra requests)."""

    def get_records(self, context: Context | None) -> t.Iterable[Record]:
        scope = self.run.scope
        records = scope.projects if self.scope == "resolved_projects" else scope.groups
        count = 0
        for record in records.values():
            count += 1
            yield dict(record)
        self.run.stats.records[self.name] += count
        logger.debug("%s: %d records (from scope resolution)", self.name, count)
