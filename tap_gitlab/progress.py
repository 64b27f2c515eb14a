"""Logs a person can follow: one progress line per stream every few seconds, routine lines at DEBUG.

singer-sdk logs at INFO, per partition, lines that say nothing to someone watching a run ("Starting
incremental sync of 'jobs' with bookmark value: None", a METRIC line per partition and metric, "Beginning
sync of ..."). The tap's own per-partition lines are DEBUG too. What stays at INFO:

- while a stream syncs, every `TAP_GITLAB_PROGRESS_SECONDS` (default 5): its records, partitions done out of
  all, its requests, the run's request rate and 429 answers, and the time left when it can be estimated;
- one line when a stream is done, the scope line, warnings, and the end-of-run summary.

A ticker thread writes the progress lines, so that they keep coming while the main thread waits (on a slow
page, a rate limit); it only reads counters the main thread and the HTTP layer update.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import singer_sdk

from tap_gitlab.errors import ConfigError

if t.TYPE_CHECKING:
    from tap_gitlab.client import RunStats
    from tap_gitlab.concurrency import JobCounters

logger = logging.getLogger("tap-gitlab")

PROGRESS_ENV = "TAP_GITLAB_PROGRESS_SECONDS"
DEFAULT_PROGRESS_SECONDS = 5.0
# Where singer-sdk's code is, as its log records name it (the path it was imported from, and the real one).
_SDK_DIRS = tuple({os.path.dirname(singer_sdk.__file__), str(Path(singer_sdk.__file__).resolve().parent)})
# singer-sdk's INFO lines that stay INFO: the version banner, once per run.
_SDK_KEPT = ("Meltano SDK v",)


def progress_seconds(environ: t.Mapping[str, str] = os.environ) -> float:
    """The progress interval from `TAP_GITLAB_PROGRESS_SECONDS`; `ConfigError` when it is not a positive number."""
    text = (environ.get(PROGRESS_ENV) or "").strip()
    if not text:
        return DEFAULT_PROGRESS_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 < value < math.inf):  # also rejects nan
        raise ConfigError(f"{PROGRESS_ENV} must be a number of seconds above 0, got {text!r}")
    return value


class RoutineToDebug(logging.Filter):
    """singer-sdk's routine INFO lines become DEBUG (shown only when the log level is DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.pathname.startswith(_SDK_DIRS):
            return True
        if any(kept in record.getMessage() for kept in _SDK_KEPT):
            return True
        record.levelno = logging.DEBUG
        record.levelname = "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def install_log_filters(*names: str) -> None:
    """Demote singer-sdk's routine lines on the loggers it writes them to: the tap's, the metrics one, and
    each stream's (`names`). A logger's filters see only the records logged on that very logger."""
    for name in names or ("tap-gitlab", "singer_sdk.metrics"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RoutineToDebug) for f in target.filters):
            target.addFilter(RoutineToDebug())


def _count(value: int) -> str:
    return f"{value:,}"


@dataclass
class _StreamProgress:
    name: str
    partitions: int
    started: float = field(default_factory=time.monotonic)
    records: int = 0
    done: int = 0
    skipped: int = 0
    requests_done: int = 0  # of the partitions already done
    current: JobCounters | None = None

    @property
    def requests(self) -> int:
        current = self.current
        return self.requests_done + (current.requests if current is not None else 0)


class Progress:
    """Per-stream progress of one run, logged by a ticker thread every `interval` seconds."""

    def __init__(self, stats: RunStats, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self._stream: _StreamProgress | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_requests = 0
        self._last_time = time.monotonic()

    # -- the main thread ----------------------------------------------------------------------------------

    def stream_started(self, name: str, partitions: int) -> None:
        with self._lock:
            self._stream = _StreamProgress(name, max(1, partitions))
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._thread.start()

    def record(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.records += 1

    def partition_started(self, counters: JobCounters) -> None:
        stream = self._stream
        if stream is not None:
            stream.current = counters

    def partition_done(self, *, skipped: bool = False) -> None:
        stream = self._stream
        if stream is None:
            return
        with self._lock:
            current = stream.current
            stream.requests_done += current.requests if current is not None else 0
            stream.current = None
            stream.done += 1
            stream.skipped += int(skipped)

    def stream_done(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.done = stream.partitions if stream.done == 0 else stream.done
        skipped = f", {stream.skipped} skipped" if stream.skipped else ""
        logger.info(
            "%s: done in %.1f s: %s records, %d/%d partitions%s, %s requests",
            stream.name,
            time.monotonic() - stream.started,
            _count(stream.records),
            stream.done,
            stream.partitions,
            skipped,
            _count(stream.requests),
        )

    def stop(self) -> None:
        """No more progress lines (before the summary); idempotent."""
        self._stop.set()
        with self._lock:
            self._stream = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    # -- the ticker ---------------------------------------------------------------------------------------

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.log_line()

    def log_line(self) -> None:
        """One progress line for the stream syncing now (none between streams)."""
        now = time.monotonic()
        requests = self.stats.requests
        elapsed = max(now - self._last_time, 1e-6)
        rate = (requests - self._last_requests) / elapsed
        self._last_requests, self._last_time = requests, now
        with self._lock:
            stream = self._stream
            if stream is None or self._stop.is_set():
                return
            running = now - stream.started
            estimate = ""
            if 0 < stream.done < stream.partitions:
                left = running / stream.done * (stream.partitions - stream.done)
                estimate = f"; about {left:.0f} s left" if left >= 1 else "; less than 1 s left"
            logger.info(
                "%s: %s records, %d/%d partitions, %s requests in %.0f s; run: %s requests, %.1f/s, %d retries, "
                "%d answered 429%s",
                stream.name,
                _count(stream.records),
                stream.done,
                stream.partitions,
                _count(stream.requests),
                running,
                _count(requests),
                rate,
                self.stats.retries,
                self.stats.rate_limited,
                estimate,
            )
