"""TapGitLab: the settings schema, the stream registry, and the run-wide machinery streams share."""

from __future__ import annotations

import functools
import logging
import time
import typing as t

from tap_gitlab.client import GitLabClient, RunStats
from tap_gitlab.concurrency import Prefetcher
from tap_gitlab.context import RunContext, plan_key
from tap_gitlab.errors import UserError
from tap_gitlab.progress import Progress, install_log_filters, progress_seconds
from tap_gitlab.scope import Scope, check_access, resolve_scope
from tap_gitlab.sdk_adapter import AdaptedTap
from tap_gitlab.settings import SETTINGS_SCHEMA, Settings, normalize, text_tolerant_schema
from tap_gitlab.streams import STREAMS, GitLabStream
from tap_gitlab.streams.base import RESOLVED

logger = logging.getLogger("tap-gitlab")

# How long a stopping run waits for its workers; only a request already on the wire can take that long.
STOP_WAIT_SECONDS = 5.0


class _OncePerRun(logging.Filter):
    """singer-sdk warns about unsorted streams once per partition; once per run says the same."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("Stream is assumed to be unsorted"):
            return True
        if message in self._seen:
            return False
        self._seen.add(message)
        return True


logging.getLogger("singer_sdk").addFilter(_OncePerRun())
install_log_filters()  # singer-sdk's routine per-partition INFO lines become DEBUG (tap_gitlab/progress.py)


class TapGitLab(AdaptedTap):
    """Singer tap for GitLab (gitlab.com and self-hosted, including instances under a sub-path)."""

    name = "tap-gitlab"
    package_name = "tap-gitlab-connector"
    # A copy: singer-sdk adds its built-in settings (stream_maps, flattening, ...) to the class's schema in
    # place, which must not leak into SETTINGS_SCHEMA (the docs, meltano.yml and the Flow spec read it).
    config_jsonschema = text_tolerant_schema(SETTINGS_SCHEMA)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._started = time.monotonic()
        self.stats = RunStats()
        super().__init__(*args, **kwargs)

    # -- settings and shared machinery -------------------------------------------------------------------

    def check_settings(self) -> None:
        # Our normaliser gives one clear line per problem; run it before the generic JSON Schema check.
        _ = self.settings

    @functools.cached_property
    def settings(self) -> Settings:
        settings = normalize(self.config)
        for warning in settings.warnings:
            logger.warning(warning)
        return settings

    @functools.cached_property
    def client(self) -> GitLabClient:
        return GitLabClient(self.settings, stats=self.stats)

    @functools.cached_property
    def scope(self) -> Scope:
        started = time.monotonic()
        scope = resolve_scope(
            self.client,
            self.settings.groups,
            self.settings.projects,
            include_subgroups=self.settings.include_subgroups,
            include_archived=self.settings.include_archived,
        )
        logger.info(
            "Scope: %d groups, %d projects (%.1f s)",
            len(scope.groups),
            len(scope.projects),
            time.monotonic() - started,
        )
        shard = self.settings.shard
        if shard.sharded:
            scope = scope.split_below_top_groups()
            logger.info(
                "Sharding: this is %s (its own groups and projects, by id; ACTIVATE_VERSION is not sent, "
                "since a target's deletion would cover every shard's rows)",
                shard.describe(),
            )
        return scope

    @functools.cached_property
    def prefetcher(self) -> Prefetcher:
        return Prefetcher(self.settings.max_concurrency)

    @functools.cached_property
    def progress(self) -> Progress:
        """Per-stream progress lines every TAP_GITLAB_PROGRESS_SECONDS (tap_gitlab/progress.py)."""
        return Progress(self.stats, progress_seconds())

    @functools.cached_property
    def run_context(self) -> RunContext:
        """The run's shared machinery, handed to every stream (resolves the scope first)."""
        return RunContext(
            client=self.client,
            scheduler=self.prefetcher,
            scope=self.scope,
            settings=self.settings,
            stats=self.stats,
            progress=self.progress,
            version=self.initialized_at,
        )

    def discover_streams(self) -> list[GitLabStream]:
        streams = [GitLabStream(self, spec, self.settings, lambda: self.run_context) for spec in STREAMS]
        for stream in streams:
            _bound_integers(stream.schema)
            # An opt-in stream whose setting is off is not selected by default (`selected-by-default: false`),
            # as Flow's discovery disables its binding.
            stream.selected_by_default = stream.enabled
        return streams

    def _deselect_disabled(self) -> None:
        """Opt-in streams whose setting is off sync nothing, not even a SCHEMA (a target would make an empty
        table), however the catalog selects them: Meltano's default `select` rule `*.*` selects every stream."""
        off = []
        for stream in self.streams.values():
            if isinstance(stream, GitLabStream) and not stream.enabled and stream.selected:
                stream.selected = False
                off.append(f"{stream.name} ({stream.spec.opt_in})")
        if off:
            logger.info("Opt-in streams whose setting is off, not extracted: %s", ", ".join(off))

    # -- the run ------------------------------------------------------------------------------------------

    def _build_plan(self) -> None:
        """Tell the prefetcher every (stream, partition) the SDK will ask for, in its order."""
        entries = []
        for stream in self.streams.values():
            if not isinstance(stream, GitLabStream) or not stream.selected or not stream.enabled:
                continue
            if stream.spec.scope in RESOLVED:
                continue
            for context in stream.partitions or [None]:  # type: ignore[list-item]
                key = plan_key(stream.name, context)
                entries.append((key, functools.partial(stream.plan, context)))
        self.prefetcher.set_plan(entries)

    def sync_all(self) -> None:  # type: ignore[misc]
        """Resolve the scope, plan the requests, sync every stream, then summarise."""
        try:
            # A failure here (bad token, unknown group) has emitted nothing: no STATE that could pass for progress.
            _ = self.progress  # a bad TAP_GITLAB_PROGRESS_SECONDS is one line before any request
            _ = self.run_context  # resolves the scope
            self._deselect_disabled()
            self._build_plan()
        except BaseException:
            self._stop_workers()
            self.log_summary(failed=True)
            raise
        try:
            super().sync_all()
        except BaseException:
            # Nobody will read what the workers fetch ahead: stop them before the last words, so that no
            # retry goes on (for minutes, in an outage) and nothing is logged after the run's error line.
            self._stop_workers()
            # Leave a STATE from which the next run resumes: sorted streams' bookmarks cover only records
            # already emitted, and unsorted partitions restart from their previous bookmark.
            self.write_state()
            self.log_summary(failed=True)
            raise
        finally:
            self._stop_workers()
        self.log_summary(failed=False)

    def _stop_workers(self) -> None:
        """Make requests still running ahead give up, and wait briefly for the workers (idempotent)."""
        if "client" in self.__dict__:
            self.client.close()
        if "prefetcher" in self.__dict__:
            self.prefetcher.shutdown(wait_seconds=STOP_WAIT_SECONDS)

    def log_summary(self, *, failed: bool) -> None:
        if "progress" in self.__dict__:
            self.progress.stop()  # no progress line after (or inside) the summary
        stats = self.stats
        elapsed = time.monotonic() - self._started
        total = sum(stats.records.values())
        logger.info(
            "Summary: %s in %.1f s: %d records, %d requests, %d retries (%d rate-limited)",
            "FAILED" if failed else "completed",
            elapsed,
            total,
            stats.requests,
            stats.retries,
            stats.rate_limited,
        )
        for name, count in sorted(stats.records.items()):
            logger.info("Summary: %-26s %9d records", name, count)
        for skipped in stats.skipped:
            logger.warning("Summary: skipped %s for %s: %s", skipped.stream, skipped.partition, skipped.reason)
        # Fields GitLab added after our schemas were written are carried, not lost; name them once per stream so
        # that the schema can catch up (tap_gitlab/conform.py).
        for name, stream in sorted(self.streams.items()):
            unknown, credentials = stream.fields_off_schema if isinstance(stream, GitLabStream) else ([], [])
            if unknown:
                logger.warning(
                    "Summary: %s: %d fields not in the schema, carried as GitLab sent them: %s",
                    name,
                    len(unknown),
                    ", ".join(unknown),
                )
            if credentials:
                logger.info("Summary: %s: credential fields never emitted: %s", name, ", ".join(credentials))


# GitLab keeps its integers in bigint columns at most (its ids were all migrated to bigint); saying so in the
# catalog lets a target pick BIGINT: target-duckdb makes an integer without a `maximum` a HUGEINT.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _bound_integers(schema: t.Any) -> None:
    """Give every integer property of `schema` (in place, at any depth) the 64-bit range, unless it has one."""
    if isinstance(schema, dict):
        kinds = schema.get("type")
        if kinds == "integer" or (isinstance(kinds, list) and "integer" in kinds):
            schema.setdefault("minimum", INT64_MIN)
            schema.setdefault("maximum", INT64_MAX)
        for value in schema.values():
            _bound_integers(value)
    elif isinstance(schema, list):
        for value in schema:
            _bound_integers(value)


def validate_access(config: dict[str, t.Any]) -> dict[str, t.Any]:
    """A cheap real API check of `config` (token, configured groups and projects); raises `UserError`."""
    settings = normalize(config)
    client = GitLabClient(settings)
    return check_access(client, settings.groups, settings.projects)


__all__ = ["TapGitLab", "UserError", "validate_access"]
