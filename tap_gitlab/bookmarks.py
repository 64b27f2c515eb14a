"""`Bookmark`: one partition's state, typed, with the transitions a read makes, in today's STATE JSON.

A partition's entry in a Singer STATE (singer-sdk keeps one per partition context, under the stream's
`partitions`) holds the SDK's keys (`context`, `replication_key`, `replication_key_value`, `starting_replication_value`,
`progress_markers`, ...) and the tap's own, all read and written here:

- `replication_key_value` (`Bookmark.value`): where the next run starts (the SDK moves it; the tap normalises it);
- `boundary_value` / `boundary_ids`: the fan-out parents listed at exactly `boundary_value` whose children are
  out. GitLab's `updated_after` is inclusive, so the next run lists those parents again; when `boundary_value`
  is still the bookmark, their children are not read again (`Bookmark.boundary`);
- `listing_progress` (`JobsProgress`): a listing that can move its bookmark only at its end (project jobs,
  newest first) says after each page how far it got: the lowest job id emitted (`below_id`) of the pipelines
  updated at or before `through`;
- `branch_heads` (`BranchHeads`): commits' head of every branch whose history is out (`HEAD`: the default branch).

`from_state` / `to_state` keep these keys exactly, so states written before this module resume unchanged.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field, replace

VALUE_KEY = "replication_key_value"
BOUNDARY_VALUE_KEY = "boundary_value"
BOUNDARY_IDS_KEY = "boundary_ids"
PROGRESS_KEY = "listing_progress"
HEADS_KEY = "branch_heads"
PARTITIONS_KEY = "partitions"  # a stream state's partition entries (singer-sdk's)
CONTEXT_KEY = "context"  # a partition entry's context (singer-sdk's)
DEFAULT_HEAD = "HEAD"  # the default branch's head in `branch_heads`, whatever its name


@dataclass(frozen=True)
class JobsProgress:
    """How far an interrupted project-wide jobs read got (`listing_progress`)."""

    through: str | None  # the newest pipeline `updated_at` of its pipeline listing
    below_id: int | None = None  # every listed pipeline's jobs from this id up are out

    def to_json(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"through": self.through}
        if self.below_id is not None:
            out["below_id"] = self.below_id
        return out

    @classmethod
    def from_json(cls, value: t.Mapping[str, t.Any]) -> JobsProgress:
        return cls(through=value.get("through"), below_id=value.get("below_id"))


@dataclass(frozen=True)
class BranchHeads:
    """The head of every branch whose commits are out (`branch_heads`)."""

    heads: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, heads: t.Mapping[t.Any, t.Any]) -> BranchHeads:
        return cls(tuple((str(name), str(sha)) for name, sha in heads.items()))

    def as_dict(self) -> dict[str, str]:
        return dict(self.heads)

    def to_json(self) -> dict[str, str]:
        return self.as_dict()


Progress = JobsProgress | BranchHeads


@dataclass(frozen=True)
class Bookmark:
    """One partition's bookmark: immutable; a transition returns a new one."""

    value: str | None = None
    boundary_value: str | None = None
    boundary_ids: tuple[t.Any, ...] = field(default=())
    progress: Progress | None = None

    # -- reading -------------------------------------------------------------------------------------------------

    def boundary(self) -> tuple[str | None, frozenset[t.Any]]:
        """The bookmark, and the parents at exactly that value whose children are out (none if it moved since)."""
        if self.value is None or self.boundary_value != self.value:
            return self.value, frozenset()
        return self.value, frozenset(self.boundary_ids)

    @property
    def jobs_progress(self) -> JobsProgress | None:
        return self.progress if isinstance(self.progress, JobsProgress) else None

    @property
    def branch_heads(self) -> dict[str, str]:
        return self.progress.as_dict() if isinstance(self.progress, BranchHeads) else {}

    # -- transitions ---------------------------------------------------------------------------------------------

    def advance(self, value: str, ids: t.Iterable[t.Any] = ()) -> Bookmark:
        """The bookmark is `value`, and the children of parents `ids` (listed at exactly `value`) are out."""
        known = self.boundary_ids if self.boundary_value == value else ()
        added = tuple(dict.fromkeys(parent for parent in ids if parent not in known))
        return replace(self, value=value, boundary_value=value, boundary_ids=(*known, *added))

    def with_progress(self, progress: Progress) -> Bookmark:
        return replace(self, progress=progress)

    def cleared_progress(self) -> Bookmark:
        return replace(self, progress=None)

    # -- today's STATE JSON --------------------------------------------------------------------------------------

    @classmethod
    def from_state(cls, state: t.Mapping[str, t.Any] | None) -> Bookmark:
        state = state or {}
        progress: Progress | None = None
        if isinstance(state.get(HEADS_KEY), dict):
            progress = BranchHeads.of(state[HEADS_KEY])
        elif state.get(PROGRESS_KEY):
            progress = JobsProgress.from_json(state[PROGRESS_KEY])
        return cls(
            value=state.get(VALUE_KEY),
            boundary_value=state.get(BOUNDARY_VALUE_KEY),
            boundary_ids=tuple(state.get(BOUNDARY_IDS_KEY) or ()),
            progress=progress,
        )

    def to_state(self, state: dict[str, t.Any]) -> None:
        """Write this bookmark into a partition's state entry, in place (the SDK's own keys stay as they are)."""
        if self.value is not None:
            state[VALUE_KEY] = self.value
        if self.boundary_value is not None:
            state[BOUNDARY_VALUE_KEY] = self.boundary_value
            state[BOUNDARY_IDS_KEY] = list(self.boundary_ids)
        if isinstance(self.progress, BranchHeads):
            state[HEADS_KEY] = self.progress.to_json()
        elif isinstance(self.progress, JobsProgress):
            state[PROGRESS_KEY] = self.progress.to_json()
        else:
            state.pop(PROGRESS_KEY, None)


# -- a stream's state (what cli.py checks and flow/capture.py stores) ---------------------------------------------


def partition_entries(stream_state: t.Mapping[str, t.Any]) -> t.Any:
    """A stream state's partition entries (a list, in a well-formed state)."""
    return stream_state.get(PARTITIONS_KEY, [])


def context_key(context: t.Any) -> str:
    """A partition's context as one canonical string."""
    return json.dumps(context, sort_keys=True, separators=(",", ":"))


def keyed_partitions(stream_state: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A stream state with its partitions list as an object keyed by each partition's context."""
    keyed = dict(stream_state)
    partitions = keyed.get(PARTITIONS_KEY)
    if isinstance(partitions, list):
        keyed[PARTITIONS_KEY] = {
            context_key(p.get(CONTEXT_KEY) if isinstance(p, dict) else p): p for p in partitions if p is not None
        }
    return keyed


def listed_partitions(keyed: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """`keyed_partitions` undone: the partitions object back to singer-sdk's list."""
    stream_state = dict(keyed)
    partitions = stream_state.get(PARTITIONS_KEY)
    if isinstance(partitions, dict):
        stream_state[PARTITIONS_KEY] = [p for p in partitions.values() if isinstance(p, dict)]
    return stream_state
