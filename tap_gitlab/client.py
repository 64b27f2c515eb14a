"""The one HTTP layer: authentication, pacing, retries, the error policy, pagination and run statistics.

Every request to GitLab goes through `GitLabClient.request`. It is safe to call from many threads: each
thread has its own keep-alive connection (tap_gitlab/transport.py), all share one `RateGovernor`, and a
semaphore bounds how many requests are in flight.

Error policy (DESIGN.md "Errors"). One retry loop (`request`) and one retry budget per request
(`tap_gitlab/retry.py`): at most 8 attempts in all, whatever fails (the connection, the status or the body),
with smaller shares for some kinds:

| response | action |
|---|---|
| 429 of one endpoint's limit (JSON body) | pause and then pace that endpoint alone (`EndpointGovernor`) |
| 429 of the global limit | every worker waits for Retry-After / RateLimit-Reset; retry |
| 502, 503, 504, reset, timeout, bad body | retry with exponential backoff |
| 408 (statement timeout) | retry up to 3 attempts, then an error with status 408 (the caller narrows the request) |
| 500 | retry up to 4 attempts, then a clear error |
| 401 | OAuth: refresh once and retry; else "token invalid or expired" |
| 403 / 404 | `ResourceUnavailable`: the caller skips the partition or stops naming the configured resource |
| other 4xx | stop with GitLab's message, the method and the path |
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from tap_gitlab import __version__, jsontext, transport
from tap_gitlab.auth import Auth, build_auth
from tap_gitlab.concurrency import current_counters
from tap_gitlab.errors import AuthError, GitLabAPIError, ResourceUnavailable, RunStopped, TransientError
from tap_gitlab.paginators import PER_PAGE, Paginator, build_url, reroot
from tap_gitlab.ratelimit import EndpointGovernor, RateGovernor, route_template
from tap_gitlab.retry import (
    DEFAULT_POLICY,
    Failure,
    Kind,
    RetryBudget,
    RetryPolicy,
    reset_after,
    retry_after,
    status_kind,
)
from tap_gitlab.settings import Settings

logger = logging.getLogger("tap-gitlab")

# One budget per request (tap_gitlab/retry.py), shared by every kind of failure; some kinds have a smaller share.
MAX_TRANSIENT_ATTEMPTS = DEFAULT_POLICY.max_attempts  # in all: 429 / 502 / 503 / 504 / resets / timeouts / bodies
_REDIRECTS = {301, 302, 303, 307, 308}
_UTF8 = ("utf-8", "utf8")
_TRANSPORT_ERRORS = (transport.TransportError,)


@dataclass
class SkippedPartition:
    """A partition left out of the extraction, and why."""

    stream: str
    partition: str
    reason: str


@dataclass
class RunStats:
    """Counters for the end-of-run summary; thread-safe."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    records: Counter[str] = field(default_factory=Counter)
    skipped: list[SkippedPartition] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def count_retry(self, *, rate_limited: bool) -> None:
        with self._lock:
            self.retries += 1
            if rate_limited:
                self.rate_limited += 1

    def skip(self, stream: str, partition: str, reason: str) -> bool:
        """Count a skipped partition once; False when it was already counted."""
        with self._lock:
            if any(s.stream == stream and s.partition == partition for s in self.skipped):
                return False
            self.skipped.append(SkippedPartition(stream, partition, reason))
            return True


@dataclass
class Page:
    """One page of a listing."""

    records: list[t.Any]
    url: str


def _error_text(response: transport.Response) -> str:
    """GitLab's error text from `message`, then `error` (as python-gitlab does), else a short body excerpt."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:120]
        return text or response.reason or ""
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if value:
                return value if isinstance(value, str) else json.dumps(value)[:200]
    return json.dumps(body)[:200]


def _body(response: transport.Response) -> t.Any:
    """A 200's JSON body: `response.json()`'s value (tap_gitlab/jsontext.py: by orjson where that is the same)."""
    encoding = response.encoding
    if encoding is not None and encoding.lower() not in _UTF8:
        return response.json()  # requests decodes the text with the declared charset
    return jsontext.loads(response.content, response.json)


def _status_text(response: transport.Response) -> str:
    """`404 Project Not Found`: the status and GitLab's text, without repeating the status it often includes."""
    text = _error_text(response)
    status = str(response.status_code)
    return text if text.startswith(status) else f"{status} {text}".strip()


def _endpoint_limited(response: transport.Response) -> bool:
    """Whether a 429 comes from GitLab's application rate limiter (one endpoint's limit) rather than from the
    global Rack::Attack throttles. The limiter answers JSON `{"message":{"error":...}}`
    (`lib/api/helpers/rate_limiter.rb` via `render_api_error!` / `too_many_requests!`); Rack::Attack answers
    plain text (`Retry later`, admin-configurable) with `RateLimit-*` headers (`lib/gitlab/rack_attack.rb`)."""
    try:
        body = response.json()
    except ValueError:
        # The Rails controllers' version (`app/controllers/concerns/check_rate_limit.rb`) renders the text.
        return "requested too many times" in response.text and "RateLimit-Name" not in response.headers
    return isinstance(body, dict) and "message" in body


def _chain(exc: BaseException) -> t.Iterator[BaseException]:
    """`exc` and every exception it wraps (causes, contexts, exceptions among its args, urllib3's `reason`)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(
            [current.__cause__, current.__context__, *(a for a in current.args if isinstance(a, BaseException))]
        )
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)


def _connection_failure(exc: BaseException) -> str:
    """'unresolvable' (DNS), 'refused', 'certificate' (TLS verification failed), or 'other' (resets, timeouts:
    worth the full retry budget)."""
    for current in _chain(exc):
        if type(current).__name__ == "NameResolutionError" or isinstance(current, socket.gaierror):
            return "unresolvable"
        if isinstance(current, ConnectionRefusedError):
            return "refused"
        if isinstance(current, ssl.SSLCertVerificationError):
            return "certificate"
    return "other"


def _verify_message(exc: BaseException) -> str:
    """OpenSSL's reason for rejecting a certificate, e.g. 'self-signed certificate in certificate chain'."""
    for current in _chain(exc):
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current.reason or "certificate not trusted")
    return "certificate not trusted"


class GitLabClient:
    """A thread-safe GitLab REST client bound to one instance and one set of credentials."""

    def __init__(
        self, settings: Settings, *, stats: RunStats | None = None, retry_policy: RetryPolicy | None = None
    ) -> None:
        self.settings = settings
        self.api_root = settings.api_root
        root = urlsplit(self.api_root)
        self._origin = (root.scheme, root.hostname, root.port)
        # URLs the client builds, and next links re-rooted on api_url, start with this: no parsing needed.
        self._root_prefix = self.api_root.rstrip("/") + "/"
        self._root_path = root.path
        self.stats = stats or RunStats()
        self.retry_policy = retry_policy or DEFAULT_POLICY
        self.governor = RateGovernor(settings.requests_per_minute)
        # Limits of single endpoints, learned from their 429s.
        self.endpoints = EndpointGovernor(max_wait=self.retry_policy.max_retry_after)
        self._in_flight = threading.BoundedSemaphore(settings.max_concurrency)
        self._closed = threading.Event()
        self._local = threading.local()
        # Every GET goes through the transport; `session()` is only for the OAuth token refresh (a POST).
        self.transport = transport.Transport(timeout=settings.request_timeout, ca_bundle=settings.ca_bundle)
        self.auth: Auth = build_auth(settings, self.session)
        self._user_agent = settings.user_agent or f"tap-gitlab/{__version__}"

    # -- sessions -----------------------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """This thread's requests session, for the OAuth token refresh (tap_gitlab/auth.py)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies or netrc credentials from the environment
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.verify = self.settings.ca_bundle or True
            self._local.session = session
        return session

    def scrub(self, text: str) -> str:
        """`text` with every secret replaced by `***`."""
        for secret in self.auth.secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        """Stop: requests waiting to be sent or to be retried in other threads raise `RunStopped` at once.

        Once the run has failed (or finished), nobody reads what the workers still fetch; without this they
        would go on retrying, for minutes during an outage, keeping the process alive and logging retries
        after the run's one error line.
        """
        self._closed.set()

    # -- requests -----------------------------------------------------------------------------------------

    def url(self, path: str, params: t.Mapping[str, t.Any] | None = None) -> str:
        """Absolute URL of an API path (`/projects/1/issues`) with a query string."""
        return build_url(self.api_root, path, params)

    def _same_origin(self, url: str) -> bool:
        if url.startswith(self._root_prefix):
            return True
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname, parts.port) == self._origin

    def request(
        self, url: str, *, method: str = "GET", retry_policy: RetryPolicy | None = None, decode: bool = True
    ) -> tuple[t.Any, transport.Response]:
        """Send one request to `url` (on `api_root`) with retries; return its JSON body and the response.

        One loop and one budget (`retry_policy`, else the client's) for every failed attempt: connection
        failures, 408, 429, 5xx and (with `decode`) truncated or non-JSON bodies. Redirects are followed on
        `api_root`, a 401 is answered by one OAuth refresh. Raises `ResourceUnavailable` on 403/404,
        `AuthError` on rejected credentials, `GitLabAPIError` on other client errors or when the budget is
        spent (with `status` 408 after statement timeouts, so that a caller can narrow the request).
        """
        if not self._same_origin(url):
            raise GitLabAPIError(f"refusing to send the token to another host ({urlsplit(url).hostname})")
        budget = (retry_policy or self.retry_policy).budget()
        refreshed = False
        redirects = 0
        while True:
            endpoint = self._endpoint(method, url)
            sent_at = self.endpoints.acquire(endpoint, self._closed)
            if sent_at is None or not self.governor.acquire(self._closed):
                raise RunStopped(f"{method} {self._display(url)} not sent: the run is stopping")
            headers = {"User-Agent": self._user_agent, "Accept": "application/json", **self.auth.headers()}
            try:
                response = self._send(method, url, headers)
            except _TRANSPORT_ERRORS as exc:
                self.endpoints.failed(endpoint)
                failure = self._transport_failure(exc, method, url)
            else:
                status = response.status_code
                if status == 429 and _endpoint_limited(response):
                    # One endpoint's own limit: pause and pace that endpoint alone; the others go on.
                    wait = self.endpoints.throttled(endpoint, sent_at, retry_after(response.headers))
                    failure = self._status_failure(response, "transient", method, url, wait=wait, rate_limited=True)
                elif status in (200, 201):
                    self.endpoints.answered(endpoint, sent_at)
                    try:
                        return (_body(response) if decode else None), response
                    except ValueError:
                        failure = self._body_failure(response, method, url)
                elif status in _REDIRECTS:
                    self.endpoints.answered(endpoint, sent_at)
                    redirects += 1
                    url = self._follow_redirect(response, url, redirects)
                    continue
                elif status == 401 and self.auth.can_refresh and not refreshed:
                    self.endpoints.answered(endpoint, sent_at)
                    refreshed = self.auth.refresh(headers)
                    continue
                else:
                    self.endpoints.answered(endpoint, sent_at)
                    failure = self._error_failure(response, method, url, budget)
            if not budget.spend(failure.kind):
                raise failure.error(budget) from None
            self._backoff(budget, failure, url)

    def get_json(self, url: str, *, retry_policy: RetryPolicy | None = None) -> tuple[t.Any, transport.Response]:
        """GET `url`: its decoded JSON body and the response (`request`, one retry budget for everything)."""
        return self.request(url, retry_policy=retry_policy)

    def pages(
        self,
        path: str,
        params: t.Mapping[str, t.Any] | None,
        paginator: Paginator,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> t.Iterator[Page]:
        """Every page of a listing, paged by the listing's declared `paginator` (a fresh copy of it, whose
        ordering parameters win over `params`). `retry_policy` replaces the client's for these requests (the
        narrowing's smaller shares, tap_gitlab/narrowing.py)."""
        params = params or {}
        cursor = paginator.fresh()
        url: str | None = self.url(path, cursor.first(params, path=path, api_root=self.api_root))
        while url is not None:
            body, response = self.get_json(url, retry_policy=retry_policy)
            if isinstance(body, dict):  # a single object where a list was expected: one page of one record
                yield Page([body], url)
                return
            if not isinstance(body, list):
                raise GitLabAPIError(f"GitLab's answer to GET {self._display(url)} is not a list")
            records = cursor.select(response, body)
            if records is not None:
                yield Page(records, url)
            url = cursor.advance(response, body)

    def get_object(
        self, path: str, params: t.Mapping[str, t.Any] | None = None, *, retry_policy: RetryPolicy | None = None
    ) -> t.Any:
        """GET one object."""
        body, _ = self.get_json(self.url(path, params), retry_policy=retry_policy)
        return body

    # -- helpers ------------------------------------------------------------------------------------------

    def _gitlab_text(self, response: transport.Response) -> str:
        """The status and GitLab's error text, scrubbed of secrets (an error body may echo the request)."""
        return self.scrub(_status_text(response))

    def _display(self, url: str) -> str:
        """The part of a URL worth showing a person: the API path and query, scrubbed of secrets."""
        parts = urlsplit(url)
        path = parts.path
        root_path = urlsplit(self.api_root).path
        if path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        return self.scrub(path + (f"?{parts.query}" if parts.query else ""))

    def _follow_redirect(self, response: transport.Response, url: str, redirects: int) -> str:
        location = response.headers.get("Location")
        if not location or redirects > 5:
            raise GitLabAPIError(f"GitLab redirected {self._display(url)} without a usable Location")
        if location.startswith("/"):
            location = f"{self._origin[0]}://{urlsplit(url).netloc}{location}"
        target = location if self._same_origin(location) else reroot(location, self.api_root)
        if target is None or not self._same_origin(target):
            raise GitLabAPIError(
                f"GitLab redirected {self._display(url)} to another host; not following with the token"
            )
        logger.info("Following redirect from %s to %s", self._display(url), self._display(target))
        return target

    def _observe_rate_limit(self, response: transport.Response) -> None:
        remaining = response.headers.get("RateLimit-Remaining")
        reset = response.headers.get("RateLimit-Reset")
        if remaining is None or reset is None:
            return
        try:
            self.governor.observe(int(remaining), float(reset) - time.time())
        except ValueError:
            return

    def _endpoint(self, method: str, url: str) -> str:
        """The route template of `url` (`GET /projects/:id/jobs`): what GitLab's endpoint limits count per."""
        if url.startswith(self._root_prefix):
            path = url[len(self._root_prefix) - 1 :].partition("?")[0]
        else:
            path = urlsplit(url).path
            if path.startswith(self._root_path):
                path = path[len(self._root_path) :]
        return route_template(method, path)

    # -- one attempt: sending it, and what a failed one is ----------------------------------------------------

    def _send(self, method: str, url: str, headers: dict[str, str]) -> transport.Response:
        """One attempt, within the bound of requests in flight (a 200's body is read inside it too: a reset
        while reading is a failed attempt like any other)."""
        with self._in_flight:
            self.stats.count_request()
            counters = current_counters()
            if counters is not None:
                counters.requests += 1
            # The body is read inside (a reset while reading it is a failed attempt like any other).
            response = self.transport.send(method, url, headers)
            self._observe_rate_limit(response)
            return response

    def _transport_failure(self, exc: BaseException, method: str, url: str) -> Failure:
        """A connection failure: retried (a refused connection with a smaller share), except an unresolvable
        host or an untrusted certificate, which no retry can fix (raised at once)."""
        cause = _connection_failure(exc)
        if cause == "unresolvable":
            raise GitLabAPIError(
                f"cannot resolve the host of api_url ({urlsplit(url).hostname}); check api_url for typos"
            ) from None
        if cause == "certificate":
            raise GitLabAPIError(
                f"TLS certificate verification failed for {self._origin[1]} ({_verify_message(exc)}); "
                "if the instance uses a private or self-signed CA, set ca_bundle to its PEM file"
            ) from None
        reason = getattr(exc, "reason", None) or type(exc).__name__

        def error(budget: RetryBudget) -> Exception:
            refused = budget.count("refused")
            if cause == "refused" and refused >= budget.policy.max_refused:
                return GitLabAPIError(
                    f"nothing is listening at {self._origin[1]}:{urlsplit(url).port or ''} (connection "
                    f"refused {refused} times); check api_url and that GitLab is up"
                )
            return GitLabAPIError(
                f"GitLab did not answer {method} {self._display(url)} after "
                f"{budget.attempts} attempts ({reason}); check api_url and the network"
            )

        return Failure("refused" if cause == "refused" else "transient", reason, error)

    def _body_failure(self, response: transport.Response, method: str, url: str) -> Failure:
        """A successful answer whose body is not JSON: truncated (retried), or a web page (an HTML login or
        landing page: retried once, in case a proxy flapped)."""
        kind = response.headers.get("Content-Type", "unknown type").split(";")[0].strip()
        html = kind == "text/html"

        def error(budget: RetryBudget) -> Exception:
            if html and budget.count("html") >= budget.policy.max_html:
                return GitLabAPIError(
                    f"{method} {self._display(url)} answered an HTML page, not GitLab's JSON API; check that "
                    "api_url is the GitLab instance's address (not a proxy, login or landing page)"
                )
            return GitLabAPIError(
                f"GitLab's answer to {method} {self._display(url)} is not valid JSON ({kind}) after "
                f"{budget.attempts} attempts; is api_url the GitLab instance and not a proxy or login page?"
            )

        return Failure("html" if html else "transient", f"invalid JSON body ({kind})", error)

    def _error_failure(self, response: transport.Response, method: str, url: str, budget: RetryBudget) -> Failure:
        """An error status: a `Failure` to retry (`status_kind`), or the error raised at once."""
        status = response.status_code
        where = f"{method} {self._display(url)}"
        if status == 401:
            if self.auth.can_refresh:
                raise AuthError(
                    f"GitLab rejected the OAuth access token even after a refresh (401 on {where}); "
                    "re-authorize the connector"
                )
            raise AuthError(
                f"GitLab rejected the token (401 on {where}): it is invalid, expired "
                "or revoked; create a new token with the read_api scope"
            )
        if status == 403 and "insufficient_scope" in response.text:
            raise AuthError("the token lacks the read_api scope (403 insufficient_scope); create a token with read_api")
        if status in (403, 404):
            raise ResourceUnavailable(f"{self._gitlab_text(response)} on {where}", status=status)
        kind = status_kind(status)
        if kind is None:
            raise GitLabAPIError(f"GitLab answered {self._gitlab_text(response)} to {where}", status=status)
        if status == 429:
            # The global limit (Rack::Attack): every worker waits until its window resets.
            wait = reset_after(response.headers)
            pause = wait if wait is not None else min(2.0 ** (budget.attempts + 1), 60.0)
            self.governor.pause(min(pause, budget.policy.max_retry_after))
            return self._status_failure(response, kind, method, url, wait=wait, rate_limited=True)
        return self._status_failure(response, kind, method, url)

    def _status_failure(
        self,
        response: transport.Response,
        kind: Kind,
        method: str,
        url: str,
        *,
        wait: float | None = None,
        rate_limited: bool = False,
    ) -> Failure:
        """A retryable status, and its error once the budget (or the kind's share) is spent."""
        status = response.status_code

        def error(budget: RetryBudget) -> Exception:
            if kind == "transient":
                return GitLabAPIError(
                    f"GitLab kept answering {status} to {method} {self._display(url)} after "
                    f"{budget.attempts} attempts; try again later",
                    status=status,
                )
            times = budget.count(kind)
            in_all = f" ({budget.attempts} failed attempts in all)" if budget.attempts != times else ""
            advice = (
                "the database query timed out; narrow the request or try again later"
                if kind == "statement_timeout"
                else "try again later or check the instance's health"
            )
            return GitLabAPIError(
                f"GitLab answered {self._gitlab_text(response)} to {method} {self._display(url)} {times} times"
                f"{in_all}; {advice}",
                status=status,
            )

        return Failure(kind, f"HTTP {status}", error, wait=wait, rate_limited=rate_limited)

    def _backoff(self, budget: RetryBudget, failure: Failure, url: str) -> None:
        """Wait before the next attempt (`Retry-After` or the policy's backoff); `RunStopped` once closed."""
        if self._closed.is_set():
            raise RunStopped(f"GET {self._display(url)} not retried: the run is stopping")
        self.stats.count_retry(rate_limited=failure.rate_limited)
        attempt = budget.attempts
        wait = budget.policy.delay(attempt, failure.wait)
        logger.warning(
            "Retrying GET %s in %.1f s after %s (attempt %d)", self._display(url), wait, failure.reason, attempt
        )
        if self._closed.wait(wait):
            raise RunStopped(f"GET {self._display(url)} not retried: the run is stopping")


__all__ = ["PER_PAGE", "GitLabClient", "Page", "RunStats", "RunStopped", "SkippedPartition", "TransientError"]
