"""The one retry policy: a bounded budget of attempts per request, whatever fails.

Every request goes through one loop (`GitLabClient.request`) with one `RetryBudget` from `RetryPolicy.budget()`:
each failed attempt, a connection failure, a 408, 429 or 5xx, a truncated or non-JSON body, is a `Failure`
of one `Kind`, and the budget says whether it may be tried again. Before, `get_json` retried around
`request()`, which retried by itself, so one URL could be tried 8 x 8 = 64 times; now one request is at most
`max_attempts` attempts in all. Callers choose at most a policy (narrowed requests pass `reduced(...)`).

Some failures have a smaller share of the budget: a 500 is rarely fixed by waiting (GitLab's code raised),
a 408 is a database statement timeout that the caller had better answer with a narrower request
(`lib/api/merge_requests.rb` rescues `ActiveRecord::QueryCanceled` with 408), a refused connection is a
wrong port more often than a restart, and a 200 HTML page is a login page more often than a flapping proxy.

Waits: `Retry-After` when GitLab sends one (capped at `max_retry_after`), else exponential backoff with
jitter (python-gitlab's `utils.Retry` works the same way: Retry-After first, then a growing delay).
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
import typing as t
from collections import Counter
from dataclasses import dataclass, field

# The kinds of failure a budget counts. "transient": resets, timeouts, 429, 502/503/504, truncated or
# invalid bodies; the others have a smaller share (see RetryPolicy).
Kind = t.Literal["transient", "server_error", "statement_timeout", "refused", "html"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long one request is retried."""

    max_attempts: int = 8  # every failed attempt of one request counts against this, whatever failed
    max_server_errors: int = 4  # 500
    max_statement_timeouts: int = 3  # 408: then the caller narrows the request (an error with status 408)
    max_refused: int = 4  # connection refused: a restarting server comes back fast, a wrong port never does
    max_html: int = 2  # a 200 HTML page: once more in case a proxy flapped, then it is the wrong address
    base_delay: float = 0.5  # the first backoff, doubled on each attempt
    max_delay: float = 60.0  # cap of the exponential backoff
    max_retry_after: float = 900.0  # cap of a server-given wait (Retry-After can say a day for some limits)

    def reduced(self, **shares: int) -> RetryPolicy:
        """This policy with smaller shares (`max_server_errors=2`, ...): never larger than this one's."""
        return dataclasses.replace(self, **{name: min(getattr(self, name), n) for name, n in shares.items()})

    def budget(self) -> RetryBudget:
        """A fresh budget for one request."""
        return RetryBudget(self)

    def limit(self, kind: Kind) -> int:
        """How many failed attempts of `kind` one request may have."""
        shares = {
            "server_error": self.max_server_errors,
            "statement_timeout": self.max_statement_timeouts,
            "refused": self.max_refused,
            "html": self.max_html,
        }
        return min(self.max_attempts, shares.get(kind, self.max_attempts))

    def backoff(self, attempt: int, *, rng: t.Callable[[], float] = random.random) -> float:
        """Seconds before retry number `attempt` (1-based) without a server-given wait: exponential from
        `base_delay`, capped at `max_delay`, with jitter so that workers that failed together spread out
        (between half and all of the nominal delay)."""
        nominal = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return nominal * (0.5 + rng() / 2)

    def delay(self, attempt: int, retry_after: float | None, *, rng: t.Callable[[], float] = random.random) -> float:
        """Seconds before the next attempt: GitLab's `Retry-After` when given (capped), else `backoff`."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        return self.backoff(attempt, rng=rng)


def status_kind(status: int) -> Kind | None:
    """The kind of failure an HTTP status is, None when retrying cannot fix it (or it is no failure).

    408 is a database statement timeout (`lib/api/merge_requests.rb` rescues QueryCanceled with 408): a few
    retries, then the caller narrows the request. 429 here is the global limit; one endpoint's own 429 is
    told apart by the client (`EndpointGovernor`), and is transient too."""
    if status in (429, 502, 503, 504):
        return "transient"
    if status == 408:
        return "statement_timeout"
    if status >= 500:
        return "server_error"
    return None


def retry_after(headers: t.Mapping[str, str]) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date); None when absent or unreadable."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def reset_after(headers: t.Mapping[str, str]) -> float | None:
    """Seconds to wait from `Retry-After`, else from `RateLimit-Reset` (an epoch, GitLab's Rack::Attack)."""
    wait = retry_after(headers)
    if wait is not None:
        return wait
    reset = headers.get("RateLimit-Reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - time.time())
    return None


@dataclass(frozen=True)
class Failure:
    """One failed attempt: its kind (what it costs of the budget), why (for the retry's log line), how long
    the server asked to wait, and the error to raise once the budget is spent (built from the budget, whose
    counts the message gives)."""

    kind: Kind
    reason: str
    error: t.Callable[[RetryBudget], Exception]
    wait: float | None = None
    rate_limited: bool = False


@dataclass
class RetryBudget:
    """The attempts one request has left; not shared between requests or threads."""

    policy: RetryPolicy
    attempts: int = 0  # failed attempts so far, every kind together
    by_kind: Counter[str] = field(default_factory=Counter)

    def spend(self, kind: Kind) -> bool:
        """Count one failed attempt of `kind`; True when the request may be tried again, False when its
        budget (in all, or this kind's share) is spent and the caller must raise its error."""
        self.attempts += 1
        self.by_kind[kind] += 1
        return self.attempts < self.policy.max_attempts and self.by_kind[kind] < self.policy.limit(kind)

    def count(self, kind: Kind) -> int:
        """Failed attempts of `kind` so far."""
        return self.by_kind[kind]


DEFAULT_POLICY = RetryPolicy()

__all__ = [
    "DEFAULT_POLICY",
    "Failure",
    "Kind",
    "RetryBudget",
    "RetryPolicy",
    "reset_after",
    "retry_after",
    "status_kind",
]
