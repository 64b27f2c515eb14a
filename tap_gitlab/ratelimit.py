"""One request budget shared by every worker.

A token bucket caps the request rate at `requests_per_minute`. GitLab's `RateLimit-Remaining` and
`RateLimit-Reset` headers slow it further before a 429 would come (the remaining quota is spread over the
time left in the window), and a 429 from that global limit (Rack::Attack: `lib/gitlab/rack_attack.rb`, a
plain-text body and `RateLimit-*` headers) pauses every worker together until `Retry-After` /
`RateLimit-Reset`.

Beside it, GitLab limits some endpoints per user (or IP) with its application rate limiter
(`lib/gitlab/application_rate_limiter.rb`, called by `check_rate_limit!` in `lib/api/helpers/rate_limiter.rb`):
`GET /projects/:id/jobs` (`:jobs_index`), `GET /projects`, `GET /projects/:id`, `GET /groups`, `GET /groups/:id`,
`GET /groups/:id/projects`, `GET /users/:id`. Their 429 has a JSON body `{"message":{"error":...}}`, no
`RateLimit-*` headers describing it, and `Retry-After` = the key's whole interval in current versions (none
in older ones). `EndpointGovernor` learns each such limit from its first 429 and then paces that endpoint
alone, so that it is sent no more than the limit allows per interval; other endpoints go on at full speed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import typing as t
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import unquote

logger = logging.getLogger("tap-gitlab")


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


# -- endpoint limits (GitLab's application rate limiter) -------------------------------------------------------


@dataclass(frozen=True)
class KnownLimit:
    """One `check_rate_limit!` on an endpoint the tap reads, as GitLab's code defines it.

    The interval is fixed in `application_rate_limiter.rb`; the threshold is an application setting an
    administrator may change (0 turns the limit off), so only its default is known here.
    """

    key: str  # the ApplicationRateLimiter key
    interval: float  # seconds of one counting window
    default_threshold: int  # requests per window allowed by default (`application_setting_implementation.rb`)
    setting: str  # the application setting holding the threshold
    scope: str  # what the counter is kept per
    source: str  # the endpoint file calling check_rate_limit!


# Route template -> GitLab's limit. Read from gitlabhq `lib/gitlab/application_rate_limiter.rb` (key, interval),
# `app/models/application_setting_implementation.rb` (default thresholds) and the endpoint files named. The
# group/project ones are behind the `rate_limit_groups_and_projects_api` feature flag in those files.
KNOWN_LIMITS: dict[str, KnownLimit] = {
    "GET /projects/:id/jobs": KnownLimit(
        "jobs_index", 60, 600, "project_jobs_api_rate_limit", "user", "lib/api/ci/jobs.rb"
    ),
    "GET /projects": KnownLimit("projects_api", 600, 2000, "projects_api_limit", "user or IP", "lib/api/projects.rb"),
    "GET /projects/:id": KnownLimit("project_api", 60, 400, "project_api_limit", "user or IP", "lib/api/projects.rb"),
    "GET /groups": KnownLimit("groups_api", 60, 200, "groups_api_limit", "user or IP", "lib/api/groups.rb"),
    "GET /groups/:id": KnownLimit("group_api", 60, 400, "group_api_limit", "user or IP", "lib/api/groups.rb"),
    "GET /groups/:id/projects": KnownLimit(
        "group_projects_api", 60, 600, "group_projects_api_limit", "user or IP", "lib/api/groups.rb"
    ),
    "GET /users/:id": KnownLimit("users_get_by_id", 600, 300, "users_get_by_id_limit", "user", "lib/api/users.rb"),
}

DEFAULT_WINDOW = 60.0  # most of GitLab's limiter keys count per minute
_TOP_LEVEL = {"projects", "groups", "users", "namespaces", "runners"}


def route_template(method: str, api_path: str) -> str:
    """`GET /projects/:id/pipelines/:pipeline_id/jobs` for `GET /projects/12/pipelines/7/jobs`: the endpoint a
    limit belongs to. GitLab counts per user across every project, so every project shares one template."""
    segments = [s for s in api_path.split("?", maxsplit=1)[0].split("/") if s]
    out: list[str] = []
    for i, segment in enumerate(segments):
        previous = segments[i - 1] if i else ""
        if i == 1 and previous in _TOP_LEVEL:
            out.append(":id")
        elif previous == "files" and i >= 3:
            out.append(":file_path")
        elif unquote(segment).isdigit():
            out.append(f":{previous.removesuffix('s')}_id" if previous else ":id")
        else:
            out.append(segment)
    return f"{method.upper()} /" + "/".join(out)


@dataclass
class _Endpoint:
    known: KnownLimit | None
    interval: float | None  # seconds per window: GitLab's for a known key, else learned
    limit: int | None = None  # requests per interval, learned from a 429
    sent: deque[float] = field(default_factory=deque)  # send times within the horizon
    answered: deque[float] = field(default_factory=deque)  # send times of requests answered without a 429
    paused_until: float = 0.0
    learned_at: float = 0.0  # when the last 429 taught something: 429s of requests sent earlier do not
    throttled: int = 0  # endpoint 429s received
    backoffs: int = 0  # consecutive 429s while the window is unknown
    run_start: float | None = None  # send time of the first answer of the current run without 429s
    run_count: int = 0  # answers in that run
    closed_since: float | None = None  # unknown window: the run that ended in a 429 began here ...
    closed_passed: int = 0  # ... and let this many through; the window's length is learned on reopening
    probe: bool = False  # unknown window: one request is testing whether it reopened
    lesson_start: float = 0.0  # start of GitLab's window the last lesson counted in
    lesson_cap: int | None = None  # the most the last lesson may set the limit to (below the limit paced before)
    logged: bool = True  # whether the last lesson was logged (once its late answers are in)

    @property
    def window(self) -> float:
        return self.interval or DEFAULT_WINDOW


class EndpointGovernor:
    """Per-endpoint pacing learned from GitLab's application-limiter 429s (thread-safe).

    Until an endpoint's first 429 it is not slowed at all. On that 429 the limit is taken as the requests
    GitLab let through in the current window: GitLab's windows are fixed and aligned to the epoch
    (`period_key, elapsed = Time.now.to_i.divmod(interval)` in `application_rate_limiter.rb`), so that is the
    count of our requests to the endpoint answered without a 429 since the start of the window. From then on
    the endpoint is sent at most `limit` requests in any `interval` (a sliding window, which also keeps every
    fixed window within the limit, whatever the phase or a small clock difference). A 429 while paced lowers
    the limit again.

    The window: `Retry-After` where GitLab sends it (current versions send the key's whole interval), else
    GitLab's interval for a known key (`KNOWN_LIMITS`; the wait then ends where GitLab's window does). For
    an unknown key without `Retry-After` the endpoint alone backs off exponentially, one probe at a time, and
    the window is learned as the time from the first request of the run that ended in the 429 to the first
    request let through again.
    """

    def __init__(
        self,
        known: t.Mapping[str, KnownLimit] | None = None,
        *,
        clock: t.Callable[[], float] = time.time,
        margin: float = 0.25,
        learn: bool = True,
        max_wait: float = 900.0,
    ) -> None:
        self._known = dict(KNOWN_LIMITS if known is None else known)
        self._clock = clock  # wall clock: GitLab's windows are aligned to Unix time
        self._margin = margin  # seconds added to the sliding window (latency between our send and GitLab's count)
        self._learn = learn  # False: only wait after each 429, never pace (to measure what learning saves)
        self._max_wait = max_wait  # the retry policy's cap on a server-given wait
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self.waited_seconds = 0.0

    def _state(self, endpoint: str) -> _Endpoint:
        state = self._endpoints.get(endpoint)
        if state is None:
            known = self._known.get(endpoint)
            state = _Endpoint(known, known.interval if known else None)
            self._endpoints[endpoint] = state
        return state

    def acquire(self, endpoint: str, cancel: threading.Event | None = None) -> float | None:
        """Block until `endpoint` may be sent one request; return its send time (None when cancelled)."""
        while True:
            if cancel is not None and cancel.is_set():
                return None
            with self._lock:
                state = self._state(endpoint)
                now = self._clock()
                horizon = now - state.window - self._margin
                while state.sent and state.sent[0] < horizon:
                    state.sent.popleft()
                while state.answered and state.answered[0] < horizon:
                    state.answered.popleft()
                if now < state.paused_until:
                    delay = state.paused_until - now
                elif state.closed_since is not None and state.probe:
                    delay = 0.05  # the probe's answer says whether the window reopened
                elif state.limit is not None and len(state.sent) >= state.limit:
                    delay = state.sent[-state.limit] + state.window + self._margin - now
                else:
                    if state.closed_since is not None:
                        state.probe = True
                    if not state.logged and state.limit is not None:
                        state.logged = True
                        self._log(endpoint, state)
                    state.sent.append(now)
                    return now
                delay = max(delay, 0.01)
                self.waited_seconds += delay
            if cancel is not None:
                cancel.wait(min(delay, 1.0))
            else:
                time.sleep(min(delay, 1.0))

    def answered(self, endpoint: str, sent_at: float) -> None:
        """The request sent at `sent_at` was answered without an endpoint 429."""
        with self._lock:
            state = self._state(endpoint)
            state.answered.append(sent_at)
            state.probe = False
            if sent_at < state.learned_at:
                # Sent before the lesson's 429 came back but answered after it (a 429 is rendered faster than
                # a page): GitLab let it through in that window too.
                if state.closed_since is not None and sent_at >= state.closed_since:
                    state.closed_passed += 1
                elif state.limit is not None and sent_at >= state.lesson_start:
                    state.limit = min(state.limit + 1, state.lesson_cap or state.limit + 1)
                return
            if state.closed_since is not None:
                # An unknown window reopened: it lasted at most from the run's start to now.
                state.interval = max(1.0, round(sent_at - state.closed_since))
                state.limit = self._lowered(state.limit, state.closed_passed)
                state.logged = False
                state.closed_since = None
                state.backoffs = 0
            if state.run_start is None:
                state.run_start, state.run_count = sent_at, 0
            state.run_count += 1

    def failed(self, endpoint: str) -> None:
        """The request got no answer (a reset, a timeout): it cannot tell whether the window reopened."""
        with self._lock:
            self._state(endpoint).probe = False

    def throttled(self, endpoint: str, sent_at: float, retry_after: float | None) -> float:
        """The request sent at `sent_at` got the application limiter's 429; learn, pause the endpoint and
        return the seconds until it may be sent again."""
        with self._lock:
            state = self._state(endpoint)
            now = self._clock()
            state.throttled += 1
            state.probe = False
            if retry_after is not None and retry_after >= 1:
                state.interval = retry_after  # current GitLab sends the key's whole interval
            lesson = sent_at >= state.learned_at  # the first 429 since the last lesson
            if lesson:
                state.learned_at = now
                if not self._learn:
                    pass
                elif state.interval is None:
                    if state.closed_since is None:  # the window's length is learned when it reopens
                        state.closed_since = state.run_start if state.run_start is not None else sent_at
                        state.closed_passed = state.run_count
                else:
                    start = math.floor(sent_at / state.interval) * state.interval
                    passed = sum(1 for sent in state.answered if sent >= start)
                    before = state.limit
                    state.limit = self._lowered(before, passed)
                    state.lesson_start = start
                    state.lesson_cap = None if before is None else self._lowered(before, before)
                    state.logged = False
            state.run_start, state.run_count = None, 0
            if retry_after is not None:
                wait = retry_after
            elif state.interval is not None:
                # GitLab's counter is keyed by the window number: it starts again at the next multiple.
                wait = (math.floor(now / state.interval) + 1) * state.interval - now + 1.0
            else:
                state.backoffs += 1 if lesson else 0  # 429s of requests already in flight do not double it
                wait = min(60.0, 2.0 ** max(1, state.backoffs))
            wait = min(wait, self._max_wait)
            state.paused_until = max(state.paused_until, now + wait)
            return wait

    @staticmethod
    def _lowered(limit: int | None, passed: int) -> int:
        """The limit after a 429: what GitLab let through, and below the old limit if it was paced already."""
        estimate = max(1, passed)
        if limit is None:
            return estimate
        return max(1, min(estimate, limit - max(1, limit // 10)))

    @staticmethod
    def _log(endpoint: str, state: _Endpoint) -> None:
        logger.info(
            "GitLab limits %s to about %d requests per %g s%s; pacing that endpoint",
            endpoint,
            state.limit,
            state.window,
            f" ({state.known.key})" if state.known else "",
        )

    def limit(self, endpoint: str) -> int | None:
        """The learned limit of `endpoint` per interval (None: not limited so far)."""
        with self._lock:
            state = self._endpoints.get(endpoint)
            return state.limit if state else None

    def report(self) -> dict[str, dict[str, t.Any]]:
        """Per limited endpoint: its GitLab key, interval, learned limit and the 429s received."""
        with self._lock:
            return {
                name: {
                    "key": state.known.key if state.known else None,
                    "interval": state.interval,
                    "limit": state.limit,
                    "throttled": state.throttled,
                }
                for name, state in self._endpoints.items()
                if state.throttled
            }
