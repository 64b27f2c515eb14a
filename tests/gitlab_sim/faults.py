"""Fault injection: rules that replace a matching request's answer with a failure.

`sim.faults.add(kind, path=<regex searched in the path below the prefix>, times=N, every=K, after=M,
probability=p, seed=s, delay_s=..., retry_after=..., location=...)`. A rule sees only requests whose method
and path match; of those it skips the first `after`, then fires on every `every`-th one (1 = each), with
`probability`, at most `times` times (None = no limit). Kind "redirect" answers 302 to `location`.
"""

from __future__ import annotations

import random
import re
import threading
import typing as t
from dataclasses import dataclass, field

KINDS = (
    "429_retry_after",
    "429_reset_only",
    "429_plain",
    "500",
    "502",
    "503",
    "504",
    "reset",
    "timeout",
    "truncated",
    "html",
    "403",
    "404",
    "redirect",
)


@dataclass
class FaultRule:
    kind: str
    path: str | None = None
    method: str | None = None
    times: int | None = None
    every: int = 1
    after: int = 0
    probability: float = 1.0
    seed: int = 0
    delay_s: float = 5.0  # "timeout": how long to stall before answering
    retry_after: int = 1  # seconds in Retry-After / RateLimit-Reset for the 429 kinds
    location: str = ""  # "redirect": the Location of a 302 (any URL, e.g. on another host)
    mode: str = "short"  # "truncated": "short" (Content-Length larger than the body sent) or "invalid_json"
    seen: int = 0
    fired: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        self._regex = re.compile(self.path) if self.path else None
        self._rng = random.Random(self.seed)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return self._regex is None or self._regex.search(path) is not None

    def should_fire(self) -> bool:
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.seen <= self.after:
            return False
        if (self.seen - self.after - 1) % max(1, self.every):
            return False
        if self.probability < 1.0 and self._rng.random() >= self.probability:
            return False
        self.fired += 1
        return True


class Faults:
    """The fault rules and the latency knob of one simulator (thread-safe)."""

    def __init__(self, latency_ms: float = 0) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.latency_ms = latency_ms

    def add(self, kind: str, **options: t.Any) -> FaultRule:
        rule = FaultRule(kind, **options)
        with self._lock:
            self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def set_latency(self, ms: float) -> None:
        self.latency_ms = ms

    def pick(self, method: str, path: str) -> FaultRule | None:
        if not self.rules:
            return None
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path) and rule.should_fire():
                    return rule
        return None
