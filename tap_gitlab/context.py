"""`RunContext`: what one run shares with every stream and reader, built once by the tap after scope resolution.

Streams and readers get the client, the scheduler, the resolved scope, the settings and the run's counters from
here, never from the tap (tap_gitlab/tap.py sits above them in the import graph).
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from tap_gitlab.client import GitLabClient, RunStats
    from tap_gitlab.concurrency import Key, Prefetcher
    from tap_gitlab.progress import Progress
    from tap_gitlab.scope import Scope
    from tap_gitlab.settings import Settings


@dataclass(frozen=True)
class RunContext:
    """One run's shared machinery (immutable; the objects it holds keep their own thread-safe state)."""

    client: GitLabClient
    scheduler: Prefetcher  # runs partition jobs ahead of the SDK, and fan-out children on its leaf pool
    scope: Scope
    settings: Settings
    stats: RunStats
    progress: Progress
    version: int  # the run's ACTIVATE_VERSION (milliseconds since the epoch, when the tap started)
    # What this run learnt about the GitLab it reads, per stream (a fan-out child route that answered).
    learnt_routes: dict[str, str] = field(default_factory=dict)


def plan_key(stream_name: str, context: t.Mapping[str, t.Any] | None) -> Key:
    """The scheduler's key of one (stream, partition) job."""
    return (stream_name, json.dumps(dict(context or {}), sort_keys=True))
