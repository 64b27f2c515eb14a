"""The shared rate governor: a budget per minute, slowed by RateLimit-* headers, paused by 429s."""

from __future__ import annotations

import threading
import time

from tap_gitlab.ratelimit import RateGovernor


def _rate(governor, n, threads=4):
    def worker():
        for _ in range(n // threads):
            governor.acquire()

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return n / (time.monotonic() - started)


def test_budget_caps_the_rate_across_threads():
    governor = RateGovernor(requests_per_minute=6000)  # 100/s, burst 20
    rate = _rate(governor, 120)
    assert rate < 130  # 120 requests need at least (120 - 20) / 100 s


def test_pause_stops_every_worker():
    governor = RateGovernor(requests_per_minute=600_000)
    governor.pause(0.3)
    started = time.monotonic()
    governor.acquire()
    assert time.monotonic() - started >= 0.28


def test_low_remaining_quota_spreads_requests_until_reset():
    governor = RateGovernor(requests_per_minute=600_000)
    governor.observe(remaining=5, reset_in=0.5)  # 5 left for the next 0.5 s: ~0.1 s apart
    started = time.monotonic()
    for _ in range(4):
        governor.acquire()
    assert time.monotonic() - started >= 0.25


def test_exhausted_quota_waits_for_reset():
    governor = RateGovernor(requests_per_minute=600_000)
    governor.observe(remaining=0, reset_in=0.3)
    started = time.monotonic()
    governor.acquire()
    assert time.monotonic() - started >= 0.28
