"""The prefetcher: jobs run ahead in parallel, results come back in plan order, failures surface in order."""

from __future__ import annotations

import threading
import time

import pytest

from tap_gitlab.concurrency import Prefetcher, current_counters


def _plan(prefetcher, jobs):
    prefetcher.set_plan([(key, (lambda fn=fn: fn)) for key, fn in jobs])


def test_jobs_overlap_but_results_come_in_plan_order():
    prefetcher = Prefetcher(max_workers=4)
    active = []
    peak = [0]
    lock = threading.Lock()

    def job(n):
        def produce():
            with lock:
                active.append(n)
                peak[0] = max(peak[0], len(active))
            time.sleep(0.05)
            with lock:
                active.remove(n)
            yield from (f"{n}-{i}" for i in range(3))

        return produce

    keys = [("s", str(n)) for n in range(8)]
    _plan(prefetcher, [(key, job(n)) for n, key in enumerate(keys)])
    out = [item for key in keys for item in prefetcher.take(key).results()]
    prefetcher.shutdown()
    assert out == [f"{n}-{i}" for n in range(8) for i in range(3)]
    assert peak[0] > 1  # overlapped, not one after another (a wall-clock bound would be flaky on a busy machine)


def test_failure_is_raised_where_it_happened():
    prefetcher = Prefetcher(max_workers=2)

    def failing():
        yield 1
        raise RuntimeError("boom")

    _plan(prefetcher, [(("s", "a"), lambda: iter([0])), (("s", "b"), failing)])
    assert list(prefetcher.take(("s", "a")).results()) == [0]
    got = []
    with pytest.raises(RuntimeError, match="boom"):
        for item in prefetcher.take(("s", "b")).results():
            got.append(item)
    assert got == [1]
    prefetcher.shutdown()


def test_skipped_plan_entries_release_their_workers():
    # One worker, and the first planned job is never taken: it must not block the others forever.
    prefetcher = Prefetcher(max_workers=1, window=1, queue_size=1)

    def endless():
        while True:
            yield "x"

    _plan(prefetcher, [(("s", "a"), endless), (("s", "b"), lambda: iter([1, 2]))])
    prefetcher.take(("s", "a"))  # started, then abandoned
    assert list(prefetcher.take(("s", "b")).results()) == [1, 2]
    prefetcher.shutdown()


def test_unplanned_keys_still_run():
    prefetcher = Prefetcher(max_workers=2)
    prefetcher.set_plan([])
    assert list(prefetcher.take(("s", "x"), produce=lambda: iter("ab")).results()) == ["a", "b"]
    prefetcher.shutdown()


def test_leaf_tasks_inherit_the_job_counters_and_keep_order():
    prefetcher = Prefetcher(max_workers=3)

    def produce():
        def leaf(n):
            time.sleep(0.01 * (5 - n))
            counters = current_counters()
            assert counters is not None
            counters.requests += 1
            return n * n

        yield list(prefetcher.map_ordered(leaf, range(5)))

    _plan(prefetcher, [(("s", "a"), produce)])
    job = prefetcher.take(("s", "a"))
    assert list(job.results()) == [[0, 1, 4, 9, 16]]
    assert job.counters.requests == 5
    prefetcher.shutdown()
