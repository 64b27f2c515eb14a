"""One request budget shared by every worker.

A token bucket caps the request rate at `requests_per_minute`. GitLab's `RateLimit-Remaining` and
`RateLimit-Reset` headers slow it further before a 429 would come (the remaining quota is spread over the
time left in the window), and a 429 pauses every worker together until `Retry-After` / `RateLimit-Reset`.
"""

from __future__ import annotations

import threading
import time
import typing as t


class RateGovernor:
    """Thread-safe pacing of requests."""

    def __init__(self, requests_per_minute: int, *, clock: t.Callable[[], float] = time.monotonic) -> None:
        self._interval = 60.0 / requests_per_minute
        self._burst = max(1.0, min(requests_per_minute / 60.0, 20.0))  # at most ~1 s of requests at once
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self._burst
        self._last = clock()
        self._paused_until = 0.0
        self._spacing_until = 0.0  # while GitLab says the quota is low, requests are spaced at least this
        self._spacing = 0.0
        self.waited_seconds = 0.0

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """Block until one request may be sent (True), or until `cancel` is set (False)."""
        while True:
            if cancel is not None and cancel.is_set():
                return False
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    delay = self._paused_until - now
                else:
                    self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
                    self._last = now
                    interval = self._interval
                    if now < self._spacing_until and self._spacing > interval:
                        interval = self._spacing
                        self._tokens = min(self._tokens, 1.0)
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        if interval > self._interval:
                            # low quota: push the next request one spacing interval away
                            self._tokens -= (interval - self._interval) / self._interval
                        return True
                    delay = (1.0 - self._tokens) * self._interval
                self.waited_seconds += delay
            if cancel is not None:
                cancel.wait(min(delay, 5.0))
            else:
                time.sleep(min(delay, 5.0))

    def pause(self, seconds: float) -> None:
        """Pause every worker for `seconds` (after a 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
            self._tokens = 0.0

    def observe(self, remaining: int | None, reset_in: float | None) -> None:
        """Feed GitLab's RateLimit-Remaining and seconds until RateLimit-Reset from a response."""
        if remaining is None or reset_in is None or reset_in <= 0:
            return
        with self._lock:
            if remaining <= 0:
                self._paused_until = max(self._paused_until, self._clock() + reset_in)
                return
            # Spread what is left evenly over the rest of the window once under 20% of a minute's budget.
            budget_per_minute = 60.0 / self._interval
            if remaining < 0.2 * budget_per_minute:
                self._spacing = reset_in / remaining
                self._spacing_until = self._clock() + reset_in
            else:
                self._spacing_until = 0.0
