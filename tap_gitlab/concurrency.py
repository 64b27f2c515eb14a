"""Overlapping requests while output stays deterministic.

singer-sdk syncs streams one after another and partitions one after another, so on its own the tap would
issue one request at a time. The tap instead knows its whole plan up front (every selected stream and its
partitions, in the order the SDK will ask for them). The `Prefetcher` runs the partition jobs of the next
`window` plan entries on a thread pool; each job puts its pages into a small bounded queue. When the SDK
asks a stream for a partition's records, the main thread takes that job's queue and drains it in order, so
records and STATE are emitted exactly as in a sequential run. Only HTTP and JSON parsing run in workers.

Fan-out children (notes of each changed issue, commits of each changed merge request, ...) are fetched by a
second pool (`leaves`) whose tasks never wait on other tasks, so the two pools cannot deadlock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

logger = logging.getLogger("tap-gitlab")

T = t.TypeVar("T")
Key = tuple[str, str]  # (stream name, partition key)

_DONE = object()


@dataclass
class JobCounters:
    """What one partition job cost."""

    requests: int = 0
    started: float = field(default_factory=time.monotonic)


_current = threading.local()


def current_counters() -> JobCounters | None:
    """The counters of the job running on this thread, if any (the HTTP layer adds its requests to them)."""
    return getattr(_current, "counters", None)


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Job:
    """A running partition job: a producer thread filling a bounded queue."""

    def __init__(self, key: Key, produce: t.Callable[[], t.Iterator[t.Any]], queue_size: int) -> None:
        self.key = key
        self.produce = produce
        self.queue: queue.Queue[t.Any] = queue.Queue(maxsize=queue_size)
        self.counters = JobCounters()
        self.cancelled = threading.Event()

    def run(self) -> None:
        _current.counters = self.counters
        try:
            for item in self.produce():
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as exc:  # delivered to the consumer, in order
            self._put(_Failure(exc))
        finally:
            _current.counters = None

    def _put(self, item: t.Any) -> bool:
        while not self.cancelled.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def results(self) -> t.Iterator[t.Any]:
        """The job's items, in order; re-raises its failure at the point it happened."""
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item


class Prefetcher:
    """Runs plan entries ahead of the consumer, `window` at a time."""

    def __init__(self, max_workers: int, *, window: int | None = None, queue_size: int = 4) -> None:
        self.window = window or max(2, 2 * max_workers)
        self._queue_size = queue_size
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="partition")
        self.leaves = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fetch")
        self._plan: list[Key] = []
        self._factories: dict[Key, t.Callable[[], t.Callable[[], t.Iterator[t.Any]]]] = {}
        self._position: dict[Key, int] = {}
        self._jobs: dict[Key, Job] = {}
        self._taken: Job | None = None  # the job the consumer is draining
        self._submitted = 0
        self._active = 0  # tasks running on either pool
        self._idle = threading.Condition()

    def set_plan(self, entries: t.Sequence[tuple[Key, t.Callable[[], t.Callable[[], t.Iterator[t.Any]]]]]) -> None:
        """The ordered plan: each key with a factory called on the main thread when the job is submitted.

        The factory runs on the main thread (it may read state); the producer it returns runs in a worker.
        """
        self._plan = [key for key, _ in entries]
        self._factories = dict(entries)
        self._position = {key: index for index, key in enumerate(self._plan)}
        self._submitted = 0

    def _submit(self, key: Key) -> Job:
        job = Job(key, self._factories[key](), self._queue_size)
        self._jobs[key] = job
        self._pool.submit(self._tracked, job.run)
        return job

    def _tracked(self, fn: t.Callable[..., T], *args: t.Any) -> T:
        """Run `fn` counted as active, so that `shutdown` can wait for the running tasks."""
        with self._idle:
            self._active += 1
        try:
            return fn(*args)
        finally:
            with self._idle:
                self._active -= 1
                if not self._active:
                    self._idle.notify_all()

    def take(self, key: Key, produce: t.Callable[[], t.Iterator[t.Any]] | None = None) -> Job:
        """The job for `key`, with the following plan entries started; unplanned keys run on their own."""
        # The consumer is sequential: taking a new job means it is done with the previous one, even if it
        # stopped draining it early; a producer still running for it would hold a worker forever.
        if self._taken is not None:
            self._taken.cancelled.set()
            self._taken = None
        index = self._position.get(key)
        if index is None:
            if produce is None:
                raise KeyError(key)
            job = Job(key, produce, self._queue_size)
            self._pool.submit(self._tracked, job.run)
            self._taken = job
            return job
        # Jobs planned before this one that nobody took (a stream stopped early) would hold workers forever.
        for stale in [k for k in self._jobs if self._position[k] < index]:
            self._jobs.pop(stale).cancelled.set()
        while self._submitted <= min(index + self.window, len(self._plan) - 1):
            upcoming = self._plan[self._submitted]
            if upcoming not in self._jobs:
                self._submit(upcoming)
            self._submitted += 1
        self._taken = self._jobs.pop(key)
        return self._taken

    def map_ordered(self, fn: t.Callable[[T], t.Any], items: t.Sequence[T]) -> t.Iterator[t.Any]:
        """`fn` over `items` on the leaf pool, results in input order (exceptions re-raised in order)."""
        counters = current_counters()

        def call(item: T) -> t.Any:
            _current.counters = counters
            try:
                return fn(item)
            finally:
                _current.counters = None

        futures: list[Future[t.Any]] = [self.leaves.submit(self._tracked, call, item) for item in items]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def shutdown(self, wait_seconds: float = 0.0) -> None:
        """Stop all jobs (used after a failure or at the end); wait up to `wait_seconds` for running tasks.

        Tasks notice the cancellation at their next queue put or (with the client closed) their next request
        or retry; waiting for them keeps their last words from landing after the run's final message.
        """
        for job in [*self._jobs.values(), *([self._taken] if self._taken else [])]:
            job.cancelled.set()
        self._jobs.clear()
        self._taken = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.leaves.shutdown(wait=False, cancel_futures=True)
        if wait_seconds > 0:
            with self._idle:
                self._idle.wait_for(lambda: self._active == 0, timeout=wait_seconds)
