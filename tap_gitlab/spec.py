"""`StreamSpec`: a stream as data, and the contract between declarations (streams/*) and readers (readers/*).

A spec says what to read (the endpoint, the partition kind, keys, the replication key and GitLab's filter on it),
and names its `reader`, the strategy that turns one partition into batches of records. The parts that only
some streams have are sub-dataclasses, so that unrelated options cannot interact:

- `Parent` / `Child`: a fan-out stream's parent listing (which parents changed since the bookmark) and the
  request per parent;
- `GroupListing`: a group-level listing (with subgroups) that replaces one listing per project for the projects
  reached through a configured group;
- `Hidden`: records the listing hides unless a filter asks for them (child pipelines), read in a second
  partition per project with their own bookmark.

The functions below answer questions about a spec that the stream class, the readers and the docs share:
its partitions over a resolved scope, how one is described in logs, and the endpoint the README shows.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from tap_gitlab.paginators import LinkPaginator, Paginator

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark, Progress
    from tap_gitlab.context import RunContext
    from tap_gitlab.scope import Scope
    from tap_gitlab.settings import Settings

Record = dict[str, t.Any]
Context = t.Mapping[str, t.Any]
Scoping = t.Literal["project", "group", "instance", "resolved_projects", "resolved_groups"]


@dataclass
class Batch:
    """Records a partition job hands to the main thread, and what the stream does after emitting them."""

    records: list[Record]
    advance: str | None = None  # a fan-out bookmark moves to this value after these records
    checkpoint: bool = True  # the end of a page: a STATE follows this batch (else one may, see the stream)
    advance_ids: tuple[t.Any, ...] = ()  # the parents whose children are now out, at the `advance` value
    progress: Progress | None = None  # the partition's resume point after this batch (None: as it was)
    clears_progress: bool = False  # the read is complete: the resume point goes
    incomplete: str | None = None  # something of the read is missing (a refused parent): no deletions this run


@dataclass(frozen=True)
class Partition:
    """One partition as a reader gets it: its context, where it starts (`since`), and its name in logs."""

    context: dict[str, t.Any]
    since: str | None  # the bookmark (or start_date) as GitLab's timestamp text; None for a full read
    label: str


class Reader(t.Protocol):
    """A read strategy: one partition's records, as batches (runs in a worker)."""

    def __call__(
        self, spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark
    ) -> t.Iterator[Batch]: ...


@dataclass(frozen=True)
class Parent:
    """A fan-out stream's parent listing: filtered by the bookmark, it says which parents changed."""

    path: str
    params: t.Mapping[str, t.Any] = field(default_factory=dict)  # filters only: the paginator orders
    fields: t.Mapping[str, str] = field(default_factory=dict)  # child record field -> parent field
    paginator: Paginator = field(default_factory=LinkPaginator)


@dataclass(frozen=True)
class Child:
    """The request per changed parent, formatted with the partition and the parent record."""

    path: str
    params: t.Mapping[str, t.Any] = field(default_factory=dict)
    paginator: Paginator = field(default_factory=LinkPaginator)
    is_object: bool = False  # the endpoint returns one object, not a list
    # The same children under another name, for GitLab versions without `path`: tried when a child request
    # answers 404 before any has succeeded in this run, and kept for the rest of it if it answers.
    fallback: str | None = None


@dataclass(frozen=True)
class GroupListing:
    """A listing that covers every project below a group (with subgroups), one paged stream per top group."""

    path: str
    archived_param: str | None = None  # the listing's parameter that hides archived projects' records


@dataclass(frozen=True)
class Hidden:
    """Records the listing hides unless `param=value` asks for them (while `setting` is on, or always).

    Each partition gets a twin whose context carries the filter (so it has its own bookmark), and the default
    partition drops such records, which older GitLab versions list there too. `within`: the record field that
    holds the object the filter is about (a job's `pipeline`), checked as well as the record itself.
    """

    param: str
    value: str
    setting: str | None = None
    within: str | None = None


@dataclass(frozen=True)
class StreamSpec:
    """One stream, as data. `path` templates take `{project_id}` / `{group_id}` from the partition."""

    name: str
    reader: Reader
    path: str = ""
    scope: Scoping = "project"
    keys: tuple[str, ...] = ("id",)
    replication_key: str | None = None
    since_param: str | None = None  # GitLab's server-side filter on the replication key
    params: t.Mapping[str, t.Any] = field(default_factory=dict)  # the listing's filters (the paginator orders)
    paginator: Paginator = field(default_factory=LinkPaginator)  # tap_gitlab/paginators.py
    sorted: bool = False  # records come in replication-key order: a STATE after every page
    parent: Parent | None = None
    child: Child | None = None
    group_listing: GroupListing | None = None
    hidden: Hidden | None = None
    opt_in: str | None = None  # off unless this setting is true (secrets, instance-wide, licensed)
    licence_note: str | None = None
    doc_note: str | None = None
    drop_before_since: bool = False  # drop records older than the bookmark (for filters coarser than it)

    @property
    def listing(self) -> tuple[str, t.Mapping[str, t.Any], Paginator]:
        """The listing a partition pages through, its filters and its paginator: the parent's for a fan-out stream."""
        if self.parent:
            return self.parent.path, self.parent.params, self.parent.paginator
        return self.path, self.params, self.paginator


def enabled(spec: StreamSpec, settings: Settings) -> bool:
    """Opt-in streams run only when their setting is on."""
    return spec.opt_in is None or bool(getattr(settings, spec.opt_in))


def splits_hidden(spec: StreamSpec, settings: Settings) -> bool:
    """Whether the records the listing hides are read, in partitions of their own."""
    if spec.hidden is None:
        return False
    return spec.hidden.setting is None or bool(getattr(settings, spec.hidden.setting))


def partitions(spec: StreamSpec, settings: Settings, scope: Scope) -> list[dict[str, t.Any]] | None:
    """The stream's partitions over a resolved scope that this shard reads (None: one, unpartitioned)."""
    contexts = _all_partitions(spec, settings, scope)
    if contexts is None or not settings.shard.sharded:
        return contexts
    return [context for context in contexts if settings.shard.owns(context)]


def owned(spec: StreamSpec, settings: Settings) -> bool:
    """Whether this shard reads an unpartitioned (instance-wide) stream: shard 0 does, no other."""
    return spec.scope != "instance" or settings.shard.owns(None)


def _all_partitions(spec: StreamSpec, settings: Settings, scope: Scope) -> list[dict[str, t.Any]] | None:
    if spec.scope == "project":
        if spec.group_listing and settings.include_subgroups:
            # One partition per top group (its listing covers all its projects), then the projects that were
            # configured on their own.
            groups = [{"group_id": group_id} for group_id in scope.top_groups]
            alone = [{"project_id": pid} for pid in scope.projects if pid not in scope.project_top_group]
            contexts = groups + alone
        else:
            contexts = [{"project_id": project_id} for project_id in scope.projects]
        if not splits_hidden(spec, settings):
            return contexts
        assert spec.hidden
        twin = {spec.hidden.param: spec.hidden.value}
        return [variant for context in contexts for variant in (context, {**context, **twin})]
    if spec.scope == "group":
        return [{"group_id": group_id} for group_id in scope.groups]
    return None


def describe(spec: StreamSpec, scope: Scope, context: Context | None) -> str:
    """A partition as logs name it: the project's or group's path (and the hidden filter, if any)."""
    if spec.hidden and context and spec.hidden.param in context:
        param = spec.hidden.param
        return f"{describe(spec, scope, {k: v for k, v in context.items() if k != param})} ({param}={context[param]})"
    if context and "project_id" in context:
        return scope.describe_project(context["project_id"])
    if context and "group_id" in context:
        return scope.describe_group(context["group_id"])
    return "instance"


def template(path: str) -> str:
    """An API path template as GitLab's documentation writes it: `/projects/:id/pipelines/:id/jobs`."""
    path = path.replace("{project_id}", ":id").replace("{group_id}", ":id")
    return re.sub(r"\{(\w+)\}", r":\1", path)


def endpoint(spec: StreamSpec) -> str:
    """The endpoint, as the README's stream table shows it (the child's for a fan-out stream)."""
    return template(spec.child.path if spec.child else spec.path)
