"""GitLab's application rate limiter on the endpoints the tap reads: per-user limits beside the global one.

Modelled on gitlabhq's code:

- `lib/gitlab/application_rate_limiter.rb`: each key has a threshold and an interval; the counter of
  `(key, scope, period)` is incremented on every request that reaches the check, throttled ones too, and the
  request is throttled when the count exceeds the threshold. Windows are fixed and aligned to Unix time
  (`period_key, elapsed = Time.now.to_i.divmod(interval)`); a threshold of 0 turns the key off.
- `lib/api/helpers/rate_limiter.rb` (`check_rate_limit!`, `check_rate_limit_by_user_or_ip!`): the scope is
  the current user (or the IP without one); the answer is `too_many_requests!({ error: ... },
  retry_after: interval)` from `lib/api/helpers.rb`: 429, JSON `{"message":{"error":"This endpoint has been
  requested too many times. Try again later."}}` and `Retry-After` = the key's whole interval. Older
  versions answered `render_api_error!(..., 429)`: the same body and no `Retry-After` (`retry_after=False`).
  Nothing here sets `RateLimit-*` headers: those come from Rack::Attack (the global limit in server.py) and
  do not describe these limits.
- Where each check is: `lib/api/ci/jobs.rb` (`GET /projects/:id/jobs`, `:jobs_index`, scope current_user),
  `lib/api/projects.rb` (`GET /projects` `:projects_api`, `GET /projects/:id` `:project_api`),
  `lib/api/groups.rb` (`GET /groups` `:groups_api`, `GET /groups/:id` `:group_api`, `GET /groups/:id/projects`
  `:group_projects_api`); the group/project ones are behind the `rate_limit_groups_and_projects_api` flag
  (`feature_flag=False` turns them off). The check is the endpoint's first statement: after authentication,
  before the project or group is looked up (so a 404 counts too).
- Default thresholds: `app/models/application_setting_implementation.rb` (`project_jobs_api_rate_limit: 600`,
  `projects_api_limit: 2000`, `project_api_limit: 400`, `groups_api_limit: 200`, `group_api_limit: 400`,
  `group_projects_api_limit: 600`); intervals from `application_rate_limiter.rb` (1 minute, `projects_api`
  10 minutes).

`GET /users/:id` (`:users_get_by_id`) and `GET /projects/:id/members/all` are limited too, but the simulator
has no such routes (the tap reads neither).
"""

from __future__ import annotations

import json
import threading
import time
import typing as t
from dataclasses import dataclass

MESSAGE = "This endpoint has been requested too many times. Try again later."


@dataclass(frozen=True)
class AppLimit:
    key: str
    routes: tuple[str, ...]  # simulator route names (the areas' ROUTES, tests/gitlab_sim/areas/)
    threshold: int
    interval: int  # seconds
    by_user_or_ip: bool  # check_rate_limit_by_user_or_ip! (else scope: current_user)
    flagged: bool  # behind the rate_limit_groups_and_projects_api feature flag


DEFAULT_LIMITS: tuple[AppLimit, ...] = (
    AppLimit("jobs_index", ("project_jobs",), 600, 60, False, False),
    AppLimit("projects_api", ("projects",), 2000, 600, True, True),
    AppLimit("project_api", ("project",), 400, 60, True, True),
    AppLimit("groups_api", ("groups",), 200, 60, True, True),
    AppLimit("group_api", ("group",), 400, 60, True, True),
    AppLimit("group_projects_api", ("group_projects",), 600, 60, True, True),
)


class ApplicationRateLimiter:
    """The limiter of one simulator. `thresholds` / `intervals` override GitLab's per key (tests use small
    ones); `retry_after=False` models older versions that send no `Retry-After`."""

    def __init__(
        self,
        thresholds: t.Mapping[str, int] | None = None,
        intervals: t.Mapping[str, int] | None = None,
        *,
        retry_after: bool = True,
        feature_flag: bool = True,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        unknown = set(thresholds or {}) | set(intervals or {})
        unknown -= {limit.key for limit in DEFAULT_LIMITS}
        if unknown:
            raise ValueError(f"unknown rate limit keys {sorted(unknown)}")
        self.limits: dict[str, AppLimit] = {}
        for limit in DEFAULT_LIMITS:
            threshold = (thresholds or {}).get(limit.key, limit.threshold)
            interval = (intervals or {}).get(limit.key, limit.interval)
            for route in limit.routes:
                self.limits[route] = AppLimit(
                    limit.key, limit.routes, threshold, interval, limit.by_user_or_ip, limit.flagged
                )
        self.retry_after = retry_after
        self.feature_flag = feature_flag
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = {}
        self.throttled: dict[str, int] = {}  # 429s sent per key

    def check(self, route: str, user_id: int | None, ip: str) -> tuple[int, bytes, list[tuple[str, str]]] | None:
        """None when the request passes; else GitLab's 429 (status, JSON body, headers)."""
        limit = self.limits.get(route)
        if limit is None or limit.threshold == 0 or limit.interval == 0:
            return None
        if limit.flagged and not self.feature_flag:
            return None
        if user_id is not None:
            scope = f"user:{user_id}"
        elif limit.by_user_or_ip:
            scope = f"ip:{ip}"
        else:
            return None  # scope nil: GitLab raises InvalidScopeError; the simulator answers only authenticated
        period = int(self._clock()) // limit.interval
        with self._lock:
            key = (limit.key, scope, period)
            # Every request reaching the check counts, throttled ones too (increment, then compare).
            value = self._counts.get(key, 0) + 1
            self._counts[key] = value
            if len(self._counts) > 10_000:  # forget past windows
                self._counts = {k: v for k, v in self._counts.items() if k[2] >= period - 1}
            if value <= limit.threshold:
                return None
            self.throttled[limit.key] = self.throttled.get(limit.key, 0) + 1
        headers = [("Retry-After", str(limit.interval))] if self.retry_after else []
        body = json.dumps({"message": {"error": MESSAGE}}, separators=(",", ":")).encode()
        return 429, body, headers


def token_user(sim: t.Any, headers: t.Any, query: t.Mapping[str, str]) -> int | None:
    """The user id of the request's credentials (a personal or OAuth access token), if any."""
    token = headers.get("PRIVATE-TOKEN") or query.get("private_token")
    auth = headers.get("Authorization") or ""
    if not token and auth[:7].lower() == "bearer ":
        token = auth[7:].strip()
    token = token or query.get("access_token")
    if not token:
        return None
    info = sim.tokens.get(token) or sim.oauth_access.get(token) or {}
    user = info.get("user_id")
    return int(user) if user is not None else 1


__all__ = ["DEFAULT_LIMITS", "MESSAGE", "AppLimit", "ApplicationRateLimiter", "token_user"]
