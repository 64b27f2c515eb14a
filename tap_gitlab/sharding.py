"""Deterministic sharding: N independent tap processes, each with its own state, split one run's partitions.

A partition is the unit of a bookmark: one group or one project of one stream (and its hidden twin, such as a
project's child pipelines, which goes with it). Shard `index` of `count` takes the partitions whose owner (the
group or project id) hashes to it, so:

- disjoint and complete: every partition has exactly one shard, whatever the stream;
- stable: a partition's shard depends only on its own id and `count`, not on what else the instance holds, so
  projects added (or removed) between runs never move another project's partition, and each shard's state keeps
  holding the bookmarks of the partitions it reads;
- instance-wide streams (`site_users`) have no owner: they belong to shard 0 only.

The hash is SHA-256 of `group:<id>` or `project:<id>`: ids are dense and sequential, and a hash of them spreads
neighbouring projects (often one team's, of similar size) over the shards. Groups and projects hash in separate
namespaces, so a group's own streams (members, epics) need not run where its projects do.
"""

from __future__ import annotations

import hashlib
import json
import typing as t
from dataclasses import dataclass

from tap_gitlab.errors import ConfigError

_OWNERS = (("project_id", "project"), ("group_id", "group"))


@dataclass(frozen=True)
class Shard:
    """Shard `index` (from 0) of `count` processes; `Shard(0, 1)` is an unsharded run."""

    index: int = 0
    count: int = 1

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def owns_id(self, kind: t.Literal["group", "project"], owner_id: int) -> bool:
        """Whether this shard reads the partitions of group or project `owner_id`."""
        if not self.sharded:
            return True
        digest = hashlib.sha256(f"{kind}:{int(owner_id)}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def owns(self, context: t.Mapping[str, t.Any] | None) -> bool:
        """Whether this shard reads the partition with this context (None or no owner: an instance-wide one)."""
        for key, kind in _OWNERS:
            if context is not None and context.get(key) is not None:
                return self.owns_id(kind, context[key])  # type: ignore[arg-type]
        return self.index == 0

    def describe(self) -> str:
        return f"shard {self.index + 1} of {self.count}" if self.sharded else "unsharded"


UNSHARDED = Shard()


def parse_shard(value: t.Any) -> Shard:
    """`{index, count}` (an object, or its JSON text), or text like `2/4` (index 2 of 4); empty: unsharded."""
    if value is None or value in ("", {}):
        return UNSHARDED
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigError(_usage(f"{text!r} is not valid JSON")) from None
        elif "/" in text:
            index_text, _, count_text = text.partition("/")
            value = {"index": index_text.strip(), "count": count_text.strip()}
        else:
            raise ConfigError(_usage(f"got {text!r}"))
    if not isinstance(value, t.Mapping):
        raise ConfigError(_usage(f"got {type(value).__name__}"))
    unknown = sorted(set(value) - {"index", "count"})
    if unknown:
        raise ConfigError(_usage(f"unknown key {unknown[0]!r}"))
    index, count = _whole(value.get("index"), "index"), _whole(value.get("count"), "count")
    if count < 1:
        raise ConfigError(_usage(f"count must be at least 1, got {count}"))
    if not 0 <= index < count:
        raise ConfigError(_usage(f"index must be from 0 to {count - 1} for count {count}, got {index}"))
    return Shard(index, count)


def _whole(value: t.Any, name: str) -> int:
    if isinstance(value, bool) or value is None:
        raise ConfigError(_usage(f"{name} is missing" if value is None else f"{name} must be a whole number"))
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(_usage(f"{name} must be a whole number, got {value!r}")) from None
    return number


def _usage(problem: str) -> str:
    return f'setting \'shard\' is not valid ({problem}); use {{"index": 0, "count": 4}} or the text 0/4'
