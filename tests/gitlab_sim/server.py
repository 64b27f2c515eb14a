"""The HTTP side of the simulator: a threaded HTTP/1.1 server on 127.0.0.1 speaking GitLab REST API v4.

Behaviour follows ../shared/reference/gitlab-api-v4.md (cited as §n). Every response is written with one
`wfile.write` (status line, headers and body) on a keep-alive connection with Nagle off, so a benchmark can push
many thousands of requests a second through it.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import json
import math
import secrets
import socket
import ssl
import sys
import threading
import time
import typing as t
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlencode

from tests.gitlab_sim.app_limits import ApplicationRateLimiter, token_user
from tests.gitlab_sim.dataset import Dataset
from tests.gitlab_sim.faults import FaultRule, Faults
from tests.gitlab_sim.graphql import PATH as GRAPHQL_PATH
from tests.gitlab_sim.graphql import GraphQLEndpoint
from tests.gitlab_sim.routes import ROUTES, ApiError, Listing, Raw, Request, Routes

API_PREFIX = "/api/v4"
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the "
    "authorization request, or was issued to another client."
)
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, or unsupported "
    "authentication method."
)
EXPIRED = "Token is expired. You can either do re-authorization or token refresh."
REVOKED = "Token was revoked. You have to re-authorize from the user."
BAD_TOKEN = "Bad Access Token."


@dataclass
class RequestLogEntry:
    method: str
    path: str  # below the prefix, e.g. /api/v4/projects/3/issues (percent-encoding kept)
    query: dict[str, str]
    status: int  # 0 when the connection was reset without an answer
    authenticated: bool  # whether credentials were sent (valid or not)
    time: float
    fault: str | None = None

    @property
    def auth(self) -> bool:
        return self.authenticated


@dataclass
class OAuthClient:
    client_id: str
    secret: str
    access_token_ttl: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        # A client that went away mid-request (a tap killed by a crash test) is not an error of the server.
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)


class GitLabSimulator:
    """A running simulator. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        dataset: Dataset,
        token: str = "glpat-test-token-0123456789",
        path_prefix: str = "",
        latency_ms: float = 0,
        external_url: str | None = None,
        tls: tuple[str, str] | None = None,
        rate_limit_per_minute: int | None = None,
        port: int = 0,
        request_log: str | None = None,
        app_rate_limits: ApplicationRateLimiter | None = None,
    ) -> None:
        self.dataset = dataset
        self.token = token
        self.path_prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else ""
        self.external_url = external_url.rstrip("/") if external_url else None
        self.tls = tls
        self.rate_limit_per_minute = rate_limit_per_minute
        # GitLab's per-endpoint limits (app_limits.py). Off unless given: every test would otherwise share
        # GitLab's per-minute budgets (600 job listings, 400 project lookups) and wait out their windows.
        self.app_limits = app_rate_limits
        self.faults = Faults(latency_ms)
        self.port = port
        self._lock = threading.Lock()
        self._requests: list[RequestLogEntry] = []
        self._log_file = open(request_log, "a", encoding="utf-8") if request_log else None  # noqa: SIM115
        self.tokens: dict[str, dict[str, t.Any]] = {token: {"scopes": ["api"], "user_id": 1}}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.oauth_access: dict[str, dict[str, t.Any]] = {}
        self.oauth_refresh: dict[str, dict[str, t.Any]] = {}
        self.oauth_refreshes = 0
        self.stats_requests = 0
        self.stats_by_status: dict[str, int] = {}
        self.stats_by_endpoint: dict[str, int] = {}
        self._window = 0
        self._observed = 0
        self.routes = Routes(self)
        self.graphql = GraphQLEndpoint(self)  # /api/graphql (tests/gitlab_sim/graphql/endpoint.py)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> GitLabSimulator:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.sim = self  # type: ignore[attr-defined]
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="gitlab-sim"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> GitLabSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.path_prefix}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def link_root(self) -> str:
        """Where Link and Location URLs point: GitLab's configured external URL (§3.1 "Link details")."""
        return self.external_url or self.base_url

    # -- request log --------------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, entry: RequestLogEntry, endpoint: str) -> None:
        with self._lock:
            self._requests.append(entry)
            self.stats_requests += 1
            key = str(entry.status)
            self.stats_by_status[key] = self.stats_by_status.get(key, 0) + 1
            self.stats_by_endpoint[endpoint] = self.stats_by_endpoint.get(endpoint, 0) + 1
            if self._log_file is not None:
                self._log_file.write(
                    json.dumps(
                        {
                            "method": entry.method,
                            "path": entry.path,
                            "query": entry.query,
                            "status": entry.status,
                            "authenticated": entry.authenticated,
                            "time": round(entry.time, 4),
                            "fault": entry.fault,
                        }
                    )
                    + "\n"
                )
                self._log_file.flush()

    def stats(self) -> dict[str, t.Any]:
        with self._lock:
            return {
                "requests": self.stats_requests,
                "by_status": dict(self.stats_by_status),
                "by_endpoint": dict(self.stats_by_endpoint),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self.stats_requests = 0
            self.stats_by_status.clear()
            self.stats_by_endpoint.clear()

    # -- configuration used by tests ------------------------------------------------------------------------------
    def add_token(self, token: str, scopes: t.Sequence[str] = ("api",), user_id: int = 1) -> None:
        self.tokens[token] = {"scopes": list(scopes), "user_id": user_id}

    def revoke_token(self, token: str) -> None:
        self.tokens.pop(token, None)
        if token in self.oauth_access:
            self.oauth_access[token]["revoked"] = True

    def oauth_client(
        self,
        client_id: str,
        secret: str,
        refresh_token: str,
        access_token_ttl: float = 7200,
        access_token: str | None = None,
    ) -> None:
        """Register an OAuth application and a refresh token (and optionally a live access token) for it."""
        with self._lock:
            self.oauth_clients[client_id] = OAuthClient(client_id, secret, access_token_ttl)
            self.oauth_refresh[refresh_token] = {"client_id": client_id, "used": False, "access": access_token}
            if access_token:
                self.oauth_access[access_token] = {
                    "client_id": client_id,
                    "expires": time.time() + access_token_ttl,
                    "revoked": False,
                    "scopes": ["api"],
                }

    def expire_access_token(self, access_token: str) -> None:
        if access_token in self.oauth_access:
            self.oauth_access[access_token]["expires"] = time.time() - 1

    def forbid(self, project_id: int, feature: str) -> None:
        """Make one feature of one project answer 403 (feature = the path segment after /projects/:id)."""
        self.dataset.forbid(project_id, feature)

    # -- OAuth token endpoint (§2.2) --------------------------------------------------------------------------------
    def oauth_token(self, form: dict[str, str]) -> tuple[int, dict[str, t.Any]]:
        grant = form.get("grant_type", "")
        if grant != "refresh_token":
            if grant in ("authorization_code", "password", "client_credentials"):
                return 400, {"error": "invalid_grant", "error_description": INVALID_GRANT}
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported by the authorization server.",
            }
        with self._lock:
            client = self.oauth_clients.get(form.get("client_id", ""))
            if client is None or (form.get("client_secret") not in (None, client.secret)):
                return 401, {"error": "invalid_client", "error_description": INVALID_CLIENT}
            entry = self.oauth_refresh.get(form.get("refresh_token", ""))
            if entry is None or entry["used"] or entry["client_id"] != client.client_id:
                return 400, {"error": "invalid_grant", "error_description": INVALID_GRANT}
            # Rotation (§2.2 "Refresh tokens rotate"), as Doorkeeper does it with GitLab's schema: the
            # oauth_access_tokens table has `previous_refresh_token`, so `refresh_token_revoked_on_use?` holds
            # and the refresh leaves the old pair alive (doorkeeper lib/doorkeeper/oauth/refresh_token_request.rb
            # `refresh_token.revoke unless refresh_token_revoked_on_use?`). The old access and refresh tokens
            # die when the new access token is first used (`revoke_previous_refresh_token!`, which GitLab calls
            # in lib/gitlab/auth/auth_finders.rb `find_oauth_access_token`); see authenticate().
            access, refresh = secrets.token_hex(32), secrets.token_hex(32)
            now = time.time()
            self.oauth_access[access] = {
                "client_id": client.client_id,
                "expires": now + client.access_token_ttl,
                "revoked": False,
                "scopes": ["api"],
                "previous_refresh_token": form.get("refresh_token", ""),
            }
            self.oauth_refresh[refresh] = {"client_id": client.client_id, "used": False, "access": access}
            self.oauth_refreshes += 1
        return 200, {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(client.access_token_ttl),
            "refresh_token": refresh,
            "scope": "api",
            "created_at": int(now),
        }

    def _revoke_previous_refresh_token(self, access: dict[str, t.Any]) -> None:
        """First use of a rotated access token: the pair it replaced is revoked (Doorkeeper's
        `revoke_previous_refresh_token!`, called by GitLab's `find_oauth_access_token` on every request; the
        revoked record holds both the old access token and the old refresh token)."""
        with self._lock:
            previous = access.pop("previous_refresh_token", None)
            entry = self.oauth_refresh.get(previous) if previous else None
            if entry is not None:
                entry["used"] = True
                if entry.get("access") in self.oauth_access:
                    self.oauth_access[entry["access"]]["revoked"] = True

    # -- authentication (§1.1, §2.1) --------------------------------------------------------------------------------
    def authenticate(
        self, headers: t.Any, query: dict[str, str], path: str
    ) -> tuple[int, dict[str, t.Any], list[tuple[str, str]]] | None:
        """None when the request may proceed; else (status, body, headers)."""
        private = headers.get("PRIVATE-TOKEN") or query.get("private_token")
        bearer = None
        auth = headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            bearer = auth[7:].strip()
        elif query.get("access_token"):
            bearer = query["access_token"]
        info = None
        if private:
            info = self.tokens.get(private)
            if info is None:
                return 401, {"message": "401 Unauthorized"}, []
        elif bearer:
            info = self.tokens.get(bearer)  # personal access tokens also work as Bearer (§2.1)
            if info is None:
                access = self.oauth_access.get(bearer)
                if access is None:
                    return self._invalid_token(BAD_TOKEN)
                if access["revoked"]:
                    return self._invalid_token(REVOKED)
                if access["expires"] <= time.time():
                    return self._invalid_token(EXPIRED)
                self._revoke_previous_refresh_token(access)
                info = access
        else:
            return 401, {"message": "401 Unauthorized"}, []
        scopes = info["scopes"]
        if "api" in scopes or "read_api" in scopes:
            return None
        if "read_user" in scopes and (path in ("/user", "/users") or path.startswith("/users/")):
            return None
        body = {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": "api read_api",
        }
        return (
            403,
            body,
            [
                (
                    "WWW-Authenticate",
                    'Bearer realm="Protected by OAuth 2.0", error="insufficient_scope", '
                    'error_description="The request requires higher privileges than '
                    'provided by the access token.", scope="api read_api"',
                )
            ],
        )

    @staticmethod
    def _invalid_token(text: str) -> tuple[int, dict[str, t.Any], list[tuple[str, str]]]:
        header = f'Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description="{text}"'
        return 401, {"error": "invalid_token", "error_description": text}, [("WWW-Authenticate", header)]

    # -- rate limit (§4.2) ------------------------------------------------------------------------------------------
    def rate_limit(self) -> tuple[bool, list[tuple[str, str]]]:
        """(allowed, headers) for one request in Rack::Attack's fixed 60 s window.

        The global throttle (`throttle_authenticated_api`, gitlabhq `lib/gitlab/rack_attack.rb`): its 429 is
        plain text (`Gitlab::Throttle.rate_limiting_response_text`, `Retry later`) with `RateLimit-*`,
        `RateLimit-ResetTime` and `Retry-After` = the rest of the period (`throttled_response_headers`). The
        per-endpoint limits of the application rate limiter are a different system (app_limits.py): their 429s
        carry these headers only as every answer does, describing this global quota, not theirs.
        """
        limit = self.rate_limit_per_minute
        if not limit:
            return True, []
        now = time.time()
        with self._lock:
            window = int(now // 60)
            if window != self._window:
                self._window, self._observed = window, 0
            self._observed += 1
            observed = self._observed
        reset = (window + 1) * 60
        headers = [
            ("RateLimit-Name", "throttle_authenticated_api"),
            ("RateLimit-Limit", str(limit)),
            ("RateLimit-Observed", str(observed)),
            ("RateLimit-Remaining", str(max(0, limit - observed))),
            ("RateLimit-Reset", str(reset)),
        ]
        if observed <= limit:
            return True, headers
        headers.append(("RateLimit-ResetTime", email.utils.formatdate(reset, usegmt=True)))
        headers.append(("Retry-After", str(max(1, math.ceil(reset - now)))))
        return False, headers


def _json(obj: t.Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


_REASONS = {s.value: s.phrase for s in HTTPStatus}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: t.Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    # -- one request ------------------------------------------------------------------------------------------------
    def _handle(self) -> None:
        sim: GitLabSimulator = self.server.sim  # type: ignore[attr-defined]
        started = time.time()
        raw_path, _, query_string = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        pairs = parse_qsl(query_string, keep_blank_values=True)
        query = dict(pairs)
        sent_auth = bool(
            self.headers.get("PRIVATE-TOKEN")
            or self.headers.get("Authorization")
            or "private_token" in query
            or "access_token" in query
        )
        log_query = {k: ("[FILTERED]" if k in ("private_token", "access_token") else v) for k, v in query.items()}

        # Admin endpoints for benchmarks (no auth; outside /api/v4; with or without the prefix).
        admin = raw_path[len(sim.path_prefix) :] if raw_path.startswith(sim.path_prefix + "/__sim/") else raw_path
        if admin == "/__sim/stats":
            self._send(200, _json(sim.stats()), [])
            return
        if admin == "/__sim/reset" and self.command == "POST":
            sim.reset_stats()
            self._send(200, b"{}", [])
            return
        if admin == "/__sim/churn" and self.command == "POST":  # ?fraction=0.01: Dataset.churn
            self._send(200, _json(sim.dataset.churn(float(query.get("fraction", "0.01")))), [])
            return

        path = raw_path
        if sim.path_prefix:
            path = raw_path[len(sim.path_prefix) :] if raw_path.startswith(sim.path_prefix + "/") else ""

        def finish(
            status: int,
            payload: bytes,
            headers: list[tuple[str, str]],
            endpoint: str = "unknown",
            content_type: str = "application/json",
        ) -> None:
            self._send(status, payload, headers, content_type=content_type)
            sim._record(
                RequestLogEntry(self.command, path or raw_path, log_query, status, sent_auth, started, None), endpoint
            )

        rule = sim.faults.pick(self.command, path or raw_path)
        latency = sim.faults.latency_ms
        if latency:
            time.sleep(latency / 1000)
        if rule is not None:
            self._fault(sim, rule, path or raw_path, log_query, sent_auth, started)
            return
        if not path:
            finish(404, _json({"error": "404 Not Found"}), [])
            return
        if path == "/oauth/token" and self.command == "POST":
            status, obj = sim.oauth_token(self._oauth_form(pairs, body))
            finish(status, _json(obj), [("Cache-Control", "no-store"), ("Pragma", "no-cache")], "POST /oauth/token")
            return
        if path == GRAPHQL_PATH:
            status, payload, headers, ctype = sim.graphql.answer(self.command, self.headers, query, body)
            finish(status, payload, headers, f"{self.command} {GRAPHQL_PATH}", content_type=ctype)
            return
        if not path.startswith(API_PREFIX + "/"):
            finish(404, _json({"error": "404 Not Found"}), [])
            return
        self._api(sim, path, pairs, query, finish)

    def _oauth_form(self, pairs: list[tuple[str, str]], body: bytes) -> dict[str, str]:
        """`POST /oauth/token` parameters: the query's, then the body's (JSON or form-encoded)."""
        form = dict(pairs)
        ctype = self.headers.get("Content-Type") or ""
        if "json" in ctype:
            with contextlib.suppress(ValueError, AttributeError):
                form.update({k: str(v) for k, v in json.loads(body or b"{}").items()})
        else:
            form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return form

    def _api(
        self,
        sim: GitLabSimulator,
        path: str,
        pairs: list[tuple[str, str]],
        query: dict[str, str],
        finish: t.Callable[..., None],
    ) -> None:
        """An `/api/v4` request: the global throttle, authentication, the route, its rate limit, its answer."""
        api_path = path[len(API_PREFIX) :]
        allowed, rl_headers = sim.rate_limit()
        if not allowed:
            # Rack::Attack's throttle answer: plain text (§4.3).
            finish(429, b"Retry later\n", rl_headers, content_type="text/plain")
            return
        refusal = sim.authenticate(self.headers, query, api_path)
        if refusal is not None:
            status, obj, headers = refusal
            finish(status, _json(obj), headers + rl_headers)
            return
        match = ROUTES.match(self.command, api_path)
        if match is None:
            finish(404, _json({"error": "404 Not Found"}), rl_headers)
            return
        name, params = match
        if sim.app_limits is not None:
            # The endpoint's check_rate_limit! (app_limits.py): after authentication, before any lookup.
            limited = sim.app_limits.check(name, token_user(sim, self.headers, query), self.client_address[0])
            if limited is not None:
                status, payload, headers = limited
                finish(status, payload, headers + rl_headers, name)
                return
        req = Request(self.command, api_path, pairs, query, params, path)
        try:
            # One answer is one snapshot, as a database query is: records are changed in place, so a
            # mutation between building a listing and rendering its page would show a record's new
            # `updated_at` at its old place in the order, which GitLab never does.
            with sim.dataset.lock:
                result = sim.routes.dispatch(name, req)
                status, payload, headers, ctype = self._render(sim, req, result)
        except ApiError as exc:
            status, payload, headers, ctype = exc.status, _json(exc.body), exc.headers, exc.content_type
            if isinstance(exc.body, str):
                payload = exc.body.encode()
        finish(status, payload, headers + rl_headers, name, content_type=ctype)

    def _render(
        self, sim: GitLabSimulator, req: Request, result: t.Any
    ) -> tuple[int, bytes, list[tuple[str, str]], str]:
        if isinstance(result, Listing):
            items, headers = sim.routes.paginate(req, result)
            return 200, sim.routes.encode(result, items), headers, "application/json"
        if isinstance(result, Raw):
            return result.status, result.body, result.headers, result.content_type
        return 200, _json(result), [], "application/json"

    # -- writing ------------------------------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        payload: bytes,
        headers: list[tuple[str, str]],
        *,
        content_type: str = "application/json",
        declared_length: int | None = None,
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
            f"Content-Type: {content_type}" + ("; charset=utf-8" if "charset" not in content_type else ""),
            f"Content-Length: {declared_length if declared_length is not None else len(payload)}",
            "Cache-Control: max-age=0, private, must-revalidate",
            "X-Request-Id: " + secrets.token_hex(8),
        ]
        lines += [f"{k}: {v}" for k, v in headers]
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (payload if self.command != "HEAD" else b"")
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _fault(
        self, sim: GitLabSimulator, rule: FaultRule, path: str, query: dict[str, str], sent_auth: bool, started: float
    ) -> None:
        kind = rule.kind
        status = 0
        endpoint = f"fault {kind}"
        if kind == "reset":
            # Close without an answer; SO_LINGER 0 turns the close into a TCP RST.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
        elif kind == "timeout":
            time.sleep(rule.delay_s)
            status = 504
            self._send(504, _json({"message": "504 Gateway Timeout"}), [])
        elif kind == "truncated":
            status = 200
            payload = b'[{"id":1,"title":"truncated respo'
            if rule.mode == "invalid_json":
                self._send(200, payload, [])
            else:
                self._send(200, payload, [], declared_length=len(payload) * 2)
                self.close_connection = True
        elif kind == "html":
            status = 502
            html = (
                b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            self._send(502, html, [], content_type="text/html")
        elif kind == "redirect":
            status = 302
            self._send(302, b"", [("Location", rule.location)], content_type="text/html")
        elif kind.startswith("429"):
            status = 429
            reset = int(time.time()) + rule.retry_after
            if kind == "429_retry_after":
                # The application limiter's JSON body with Retry-After (§4.3, helpers.rb too_many_requests!).
                body = _json(
                    {"message": {"error": "This endpoint has been requested too many times. Try again later."}}
                )
                self._send(429, body, [("Retry-After", str(rule.retry_after))])
            elif kind == "429_reset_only":
                headers = [
                    ("RateLimit-Name", "throttle_authenticated_api"),
                    ("RateLimit-Limit", "60"),
                    ("RateLimit-Observed", "61"),
                    ("RateLimit-Remaining", "0"),
                    ("RateLimit-Reset", str(reset)),
                    ("RateLimit-ResetTime", email.utils.formatdate(reset, usegmt=True)),
                ]
                self._send(429, b"Retry later\n", headers, content_type="text/plain")
            else:
                self._send(429, b"Retry later\n", [], content_type="text/plain")
        else:
            status = int(kind)
            bodies = {
                500: {"message": "500 Internal Server Error"},
                502: {"message": "502 Bad Gateway"},
                503: {"message": "503 Service Unavailable"},
                504: {"message": "504 Gateway Timeout"},
                403: {"message": "403 Forbidden"},
                404: {"message": "404 Not Found"},
            }
            self._send(status, _json(bodies[status]), [])
        sim._record(RequestLogEntry(self.command, path, query, status, sent_auth, started, kind), endpoint)


def link_url(
    root: str, api_path: str, pairs: list[tuple[str, str]], replace: dict[str, str], drop: t.Iterable[str] = ()
) -> str:
    """The request URL on `root` with every original query parameter, `replace` applied (§3.1 "Link details")."""
    skip = set(replace) | set(drop)
    kept = [(k, v) for k, v in pairs if k not in skip]
    kept += list(replace.items())
    kept.sort(key=lambda kv: kv[0])  # Rails' Hash#to_query sorts keys
    return f"{root}{API_PREFIX}{api_path}?{urlencode(kept)}"


def encode_cursor(data: dict[str, t.Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> dict[str, t.Any] | None:
    try:
        padded = text + "=" * (-len(text) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


__all__ = ["GitLabSimulator", "RequestLogEntry", "decode_cursor", "encode_cursor", "link_url", "quote", "unquote"]
_unused = OrderedDict
