"""Bad configurations, catalogs and states: each gives one clear line, exit code 1, no traceback, no STATE.

`CASES` is the table; `python -m tests.e2e.bad_input_table` renders it into README.md ("Bad input"), and
`test_readme_table_is_up_to_date` keeps the two in step. Everything runs against 127.0.0.1 only: a typo'd
host is a closed local port, and the unresolvable-host case blocks name lookups in the tap process.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tap_gitlab.client import GitLabClient
from tap_gitlab.errors import GitLabAPIError
from tap_gitlab.settings import normalize
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.dns_guard import block_dns, lookups
from tests.support.tap_harness import discover, run_tap, select

TOKEN = "glpat-bad-input-token-4e2f0a"
READ_USER_TOKEN = "glpat-read-user-only-token-91b3"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Env:
    """What the cases are built from: a running simulator and other local servers, and a scratch folder."""

    sim_url: str
    html_url: str
    closed_url: str
    tmp: Path
    catalog: dict[str, t.Any]

    def config(self, **extra: t.Any) -> dict[str, t.Any]:
        return {"api_url": self.sim_url, "private_token": TOKEN, **extra}

    def oauth(self, **creds: t.Any) -> dict[str, t.Any]:
        base = {
            "auth_type": "oauth2.0",
            "client_id": "bad-input-client-id-01",
            "client_secret": "bad-input-client-secret-01",
            "access_token": "bad-input-access-token-01",
            "refresh_token": "bad-input-refresh-token-01",
        }
        return {"api_url": self.sim_url, "credentials": {**base, **creds}}

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)


@dataclass(frozen=True)
class Case:
    id: str
    input: str  # what is wrong, for the README table
    expect: str  # what the error line must contain
    make: t.Callable[[Env], dict[str, t.Any]]  # run_tap keyword arguments: config, catalog, state, args
    block_dns: bool = False
    notes: tuple[str, ...] = field(default=())


def _state(bookmarks: t.Any) -> t.Callable[[Env], dict[str, t.Any]]:
    return lambda env: {"config": env.config(), "state": {"bookmarks": bookmarks}}


CASES: list[Case] = [
    # -- credentials
    Case("no-token", "no token at all", "no access token", lambda env: {"config": {"api_url": env.sim_url}}),
    Case("empty-token", '`private_token: ""`', "no access token", lambda env: {"config": env.config(private_token="")}),
    Case(
        "blank-token",
        '`private_token: "   "` (blank)',
        "no access token",
        lambda env: {"config": env.config(private_token="   ")},
    ),
    Case(
        "misspelled-token-key",
        "token under a misspelled key (`privat_token`)",
        "no access token",
        lambda env: {"config": {"api_url": env.sim_url, "privat_token": TOKEN}},
    ),
    Case(
        "token-wrong-type",
        "`private_token: 12345` (a number)",
        "setting 'private_token' must be a string",
        lambda env: {"config": env.config(private_token=12345)},
    ),
    Case(
        "credentials-wrong-type",
        '`credentials: "glpat-…"` (a string, not an object)',
        "setting 'credentials' must be an object",
        lambda env: {"config": {"api_url": env.sim_url, "credentials": "glpat-not-an-object-0001"}},
    ),
    Case(
        "credentials-unknown-auth-type",
        '`credentials.auth_type: "basic"`',
        "credentials.auth_type must be 'access_token' or 'oauth2.0'",
        lambda env: {"config": {"api_url": env.sim_url, "credentials": {"auth_type": "basic", "access_token": TOKEN}}},
    ),
    Case(
        "oauth-missing-refresh-token",
        "OAuth credentials without `refresh_token`",
        "OAuth credentials are missing refresh_token; re-authorize",
        lambda env: {"config": env.oauth(refresh_token="")},
    ),
    Case(
        "oauth-bad-expiry",
        '`credentials.token_expiry_date: "soon"`',
        "setting 'credentials.token_expiry_date' is not a valid date-time",
        lambda env: {"config": env.oauth(token_expiry_date="soon")},
    ),
    Case(
        "wrong-token",
        "a token GitLab does not know (401)",
        "GitLab rejected the token (401",
        lambda env: {"config": env.config(private_token="glpat-wrong-token-000000000")},
    ),
    Case(
        "token-without-read-api",
        "a token with only the `read_user` scope (403 insufficient_scope)",
        "the token lacks the read_api scope",
        lambda env: {"config": env.config(private_token=READ_USER_TOKEN)},
    ),
    Case(
        "oauth-unknown-client",
        "OAuth credentials of an application GitLab does not know (refresh fails)",
        "GitLab rejected the OAuth refresh token (invalid_client); re-authorize",
        lambda env: {"config": env.oauth(token_expiry_date="2020-01-01T00:00:00Z")},
    ),
    # -- settings of the wrong type or value
    Case(
        "groups-wrong-type",
        '`groups: {"a": 1}` (an object)',
        "setting 'groups' must be a list or a space-separated string",
        lambda env: {"config": env.config(groups={"a": 1})},
    ),
    Case(
        "projects-as-url",
        '`projects: ["https://gitlab.com/a/b"]` (a URL)',
        "give the path after the host, like 'group/project'",
        lambda env: {"config": env.config(projects=["https://gitlab.com/a/b"])},
    ),
    Case(
        "boolean-not-boolean",
        '`include_archived: "maybe"`',
        "setting 'include_archived' must be true or false",
        lambda env: {"config": env.config(include_archived="maybe")},
    ),
    Case(
        "string-not-string",
        "`user_agent: 5`",
        "setting 'user_agent' must be a string",
        lambda env: {"config": env.config(user_agent=5)},
    ),
    Case(
        "max-concurrency-zero",
        "`max_concurrency: 0`",
        "setting 'max_concurrency' must be at least 1",
        lambda env: {"config": env.config(max_concurrency=0)},
    ),
    Case(
        "max-concurrency-text",
        '`max_concurrency: "eight"`',
        "setting 'max_concurrency' must be a number",
        lambda env: {"config": env.config(max_concurrency="eight")},
    ),
    Case(
        "request-timeout-negative",
        "`request_timeout: -5`",
        "setting 'request_timeout' must be at least 1",
        lambda env: {"config": env.config(request_timeout=-5)},
    ),
    Case(
        "start-date-unparsable",
        '`start_date: "last tuesday"`',
        "setting 'start_date' is not a valid date-time",
        lambda env: {"config": env.config(start_date="last tuesday")},
    ),
    Case(
        "start-date-future",
        '`start_date: "2999-01-01T00:00:00Z"`',
        "setting 'start_date' is in the future",
        lambda env: {"config": env.config(start_date="2999-01-01T00:00:00Z")},
    ),
    Case(
        "ca-bundle-missing",
        "`ca_bundle` names a file that does not exist",
        "setting 'ca_bundle' names a file that does not exist",
        lambda env: {"config": env.config(ca_bundle=str(env.tmp / "no-such-ca.pem"))},
    ),
    Case(
        "token-store-folder-missing",
        "`oauth_token_store` in a folder that does not exist",
        "setting 'oauth_token_store' is in a folder that does not exist",
        lambda env: {"config": env.config(oauth_token_store=str(env.tmp / "no-such-dir" / "tokens.json"))},
    ),
    # -- api_url
    Case(
        "api-url-no-scheme",
        '`api_url: "gitlab.example.com"` (no scheme)',
        "setting 'api_url' must start with https://",
        lambda env: {"config": env.config(api_url="gitlab.example.com")},
    ),
    Case(
        "api-url-not-a-url",
        '`api_url: "not a url"`',
        "setting 'api_url' is not a URL",
        lambda env: {"config": env.config(api_url="not a url")},
    ),
    Case(
        "api-url-other-scheme",
        '`api_url: "ftp://gitlab.example.com"`',
        "setting 'api_url' is not an http(s) URL",
        lambda env: {"config": env.config(api_url="ftp://gitlab.example.com")},
    ),
    Case(
        "api-url-with-password",
        "`api_url` with a user and password in it",
        "setting 'api_url' must not contain credentials",
        lambda env: {"config": env.config(api_url="https://user:hunter2-api-url-password@gitlab.example.com")},
    ),
    Case(
        "api-url-typo-host",
        "`api_url` with a typo'd host (nothing listening there)",
        "nothing is listening at 127.0.0.1",
        lambda env: {"config": env.config(api_url=env.closed_url)},
    ),
    Case(
        "api-url-unresolvable",
        "`api_url` whose host name does not resolve",
        "cannot resolve the host of api_url (gitlab.exampel.com); check api_url for typos",
        lambda env: {"config": env.config(api_url="https://gitlab.exampel.com")},
        block_dns=True,
    ),
    Case(
        "api-url-html",
        "`api_url` pointing at a web server that answers an HTML page",
        "answered an HTML page, not GitLab's JSON API",
        lambda env: {"config": env.config(api_url=env.html_url)},
    ),
    # -- selection
    Case(
        "group-missing",
        "a group that does not exist",
        "group 'no-such-group' does not exist or is not visible to this token (404)",
        lambda env: {"config": env.config(groups=["no-such-group"])},
    ),
    Case(
        "project-missing",
        "a project that does not exist",
        "project 'no-such-group/no-such-project' does not exist or is not visible to this token (404)",
        lambda env: {"config": env.config(projects="no-such-group/no-such-project")},
    ),
    # -- files
    Case(
        "config-not-json",
        "config file that is not JSON",
        "is not valid JSON (line 1, column 2)",
        lambda env: {"config": env.config(), "args": ["--config", env.file("bad.json", "{private_token: x}")]},
    ),
    Case(
        "config-missing",
        "config file that does not exist",
        "--config file not found",
        lambda env: {"config": env.config(), "args": ["--config", str(env.tmp / "missing.json")]},
    ),
    Case(
        "config-not-object",
        "config file holding a JSON array",
        "must hold a JSON object of settings, got list",
        lambda env: {"config": env.config(), "args": ["--config", env.file("list.json", "[1, 2]")]},
    ),
    Case(
        "catalog-not-json",
        "catalog file that is not JSON",
        "--catalog file",
        lambda env: {"config": env.config(), "args": ["--catalog", env.file("catalog.json", '{"streams": [')]},
    ),
    Case(
        "catalog-not-catalog",
        "catalog file without `streams`",
        "must be a Singer catalog",
        lambda env: {"config": env.config(), "catalog": {"stream": "issues"}},
    ),
    Case(
        "catalog-unknown-stream",
        "catalog selecting a stream the tap does not have",
        "--catalog selects stream 'pull_requests', which tap-gitlab does not have",
        lambda env: {
            "config": env.config(),
            "catalog": {"streams": [{"tap_stream_id": "pull_requests", "selected": True, "schema": {}}]},
        },
    ),
    Case(
        "state-not-json",
        "state file that is not JSON",
        "--state file",
        lambda env: {"config": env.config(), "args": ["--state", env.file("state.json", "bookmarks")]},
    ),
    Case(
        "state-not-object",
        "state file holding a JSON string",
        "must hold a JSON object (a Singer state), got str",
        lambda env: {"config": env.config(), "args": ["--state", env.file("state-str.json", '"2024-01-01"')]},
    ),
    Case(
        "state-bookmarks-wrong-type",
        "state whose `bookmarks` is a list",
        "'bookmarks' must be an object of streams, got list",
        _state([{"issues": "2024-01-01"}]),
    ),
    Case(
        "state-stream-wrong-type",
        "state whose bookmark of a stream is a string",
        "the bookmark of stream 'issues' must be an object",
        _state({"issues": "2024-01-01T00:00:00Z"}),
    ),
    Case(
        "state-partitions-wrong-type",
        "state whose `partitions` is an object",
        "'partitions' of stream 'issues' must be a list of objects",
        _state({"issues": {"partitions": {"project_id": 1}}}),
    ),
    Case(
        "state-not-timestamp",
        "state with a bookmark that is not a timestamp",
        "stream 'issues' has a bookmark that is not a timestamp ('yesterday')",
        _state({"issues": {"partitions": [{"context": {"group_id": 1}, "replication_key_value": "yesterday"}]}}),
    ),
]


def _serve(server: http.server.HTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


class _LoginPage(http.server.BaseHTTPRequestHandler):
    """A web server that is not GitLab's API: every path answers 200 with an HTML sign-in page."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: t.Any) -> None:
        return


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    dataset = Dataset.generate(size="tiny", seed=3)
    html = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    html.daemon_threads = True
    _serve(html)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()  # nothing listens on this port now: connections are refused, as to a typo'd host
    catalog = discover(tmp_path_factory.mktemp("discover"), {"api_url": "http://127.0.0.1:9", "private_token": TOKEN})
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        sim.add_token(READ_USER_TOKEN, scopes=("read_user",))
        yield {
            "sim": sim,
            "html_url": f"http://127.0.0.1:{html.server_address[1]}",
            "closed_url": f"http://127.0.0.1:{closed_port}",
            "catalog": select(catalog, ["projects", "issues"]),
        }
    html.shutdown()
    html.server_close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, servers, tmp_path, monkeypatch):
    env = Env(servers["sim"].base_url, servers["html_url"], servers["closed_url"], tmp_path, servers["catalog"])
    dns_log = block_dns(monkeypatch, tmp_path / "dns-guard") if case.block_dns else None
    kwargs = case.make(env)
    kwargs.setdefault("catalog", env.catalog)
    run = run_tap(tmp_path / "run", timeout=120, **kwargs)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert not run.states, "a failed run must emit no STATE (a later run could take it for progress)"
    line = run.last_stderr_line
    assert line.startswith("tap-gitlab: error: "), run.stderr[-3000:]
    assert case.expect in line, line
    assert len(line) < 400, line
    assert "hunter2-api-url-password" not in run.stdout + run.stderr
    if dns_log is not None:
        assert lookups(dns_log) == ["gitlab.exampel.com"]


def test_table_has_at_least_twenty_cases():
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


def test_readme_table_is_up_to_date():
    from tests.e2e.bad_input_table import END, START, render

    readme = (REPO / "README.md").read_text()
    assert START in readme and END in readme, "README.md lacks the bad-input markers"
    current = readme[readme.index(START) : readme.index(END) + len(END)]
    assert current == render(), "README.md's bad-input table is stale: run `python -m tests.e2e.bad_input_table`"


# -- the unresolvable-host path of client.py, with a mocked resolver -------------------------------------------


def test_unresolvable_host_fails_at_once(monkeypatch):
    attempts: list[str] = []

    def no_such_host(host: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        attempts.append(str(host))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    client = GitLabClient(normalize({"api_url": "https://gitlab.exampel.com", "private_token": TOKEN}))
    with pytest.raises(GitLabAPIError) as excinfo:
        client.get_object("/projects/1")
    message = str(excinfo.value)
    assert "cannot resolve the host of api_url (gitlab.exampel.com)" in message and "typos" in message
    assert TOKEN not in message
    assert attempts == ["gitlab.exampel.com"]  # no retries: a name that does not resolve will not start to
    assert client.stats.retries == 0


def test_connection_failure_kinds():
    from tap_gitlab.client import _connection_failure

    dns = requests.ConnectionError(OSError("wrapper"))
    dns.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    refused = requests.ConnectionError()
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    untrusted = requests.exceptions.SSLError()
    untrusted.__context__ = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert _connection_failure(dns) == "unresolvable"
    assert _connection_failure(refused) == "refused"
    assert _connection_failure(untrusted) == "certificate"
    assert _connection_failure(requests.ConnectionError("reset by peer")) == "other"
