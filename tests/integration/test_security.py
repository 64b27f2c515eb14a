"""Security: no token in any output (suite-wide guard), never to another host, never in a URL; TLS verification.

The suite-wide check itself is the plugin tests/support/secrets_guard.py; here it is shown to catch a planted leak and
to fail a pytest session, with and without xdist. Every tap run here blocks name lookups (tests/support/dns_guard.py):
a tap that tried to follow a link, redirect or payload URL to another host would leave its name in the log.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support import secrets_guard, tap_harness
from tests.support.dns_guard import block_dns, lookups
from tests.support.tap_harness import discover, run_tap, select

TOKEN = "glpat-security-suite-token-7f3a9c"
OTHER_HOST = "https://gitlab.other.example"
STREAMS = ["groups", "projects", "issues", "merge_requests", "commits", "project_members", "pipelines", "jobs"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(size="small", seed=11)


@pytest.fixture
def dns_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return block_dns(monkeypatch, tmp_path / "dns-guard")


def _config(sim: GitLabSimulator, **extra: t.Any) -> dict[str, t.Any]:
    top = sim.dataset.top_group_paths()
    return {"api_url": sim.base_url, "private_token": TOKEN, "groups": top, "max_concurrency": 4, **extra}


@pytest.fixture(scope="module")
def full_catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    """Discovery reads no API: one catalog serves every test (a sync never sees this dummy config)."""
    return discover(tmp_path_factory.mktemp("discover"), {"api_url": "http://127.0.0.1:9", "private_token": TOKEN})


@pytest.fixture
def pick(full_catalog: dict[str, t.Any]) -> t.Callable[..., dict[str, t.Any]]:
    def make(streams: t.Sequence[str] = STREAMS) -> dict[str, t.Any]:
        return select(full_catalog, streams)

    return make


def _assert_complete(run: tap_harness.TapRun, sim: GitLabSimulator, streams: t.Sequence[str]) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in streams:
        keys = run.schemas[stream]["key_properties"]
        got = sorted(tuple(r[k] for k in keys) for r in run.records[stream])
        want = sorted(tuple(r[k] for k in keys) for r in sim.dataset.expected(stream))
        assert got == want, stream


def _assert_token_never_in_a_url(sim: GitLabSimulator) -> None:
    for entry in sim.requests:
        assert "private_token" not in entry.query and "access_token" not in entry.query, entry
        assert TOKEN not in entry.path


def _assert_one_line_failure(run: tap_harness.TapRun, *phrases: str) -> str:
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert not run.states, "a failed run must not emit a STATE"
    line = run.last_stderr_line
    assert line.startswith("tap-gitlab: error: "), line
    for phrase in phrases:
        assert phrase in line, line
    return line


class _Trap(http.server.ThreadingHTTPServer):
    """A server on 127.0.0.1 standing for 'another host': it counts every connection made to it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        self.connections = 0

    def verify_request(self, request: t.Any, client_address: t.Any) -> bool:
        self.connections += 1
        return False


@contextlib.contextmanager
def _serve(server: http.server.HTTPServer) -> t.Iterator[http.server.HTTPServer]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# -- the suite-wide guard --------------------------------------------------------------------------------------


def test_guard_finds_a_planted_leak_without_printing_it():
    secret = "glpat-planted-0123456789abcdef"
    leaks = secrets_guard.find_leaks(
        [("tap run #1 stdout", "clean"), ("tap run #1 stderr", f"INFO sending PRIVATE-TOKEN: {secret} now")],
        {secret, "short"},
    )
    assert len(leaks) == 1
    assert leaks[0].where == "tap run #1 stderr"
    assert secret not in str(leaks[0])
    assert "<SECRET>" in leaks[0].excerpt and "glpa" in leaks[0].secret_hint
    # Short values are not checked (too likely to occur by chance); nothing found in clean text.
    assert secrets_guard.find_leaks([("x", "a short word")], {"short"}) == []


def test_run_tap_registers_every_config_secret():
    config = {
        "private_token": "glpat-registered-flat-000001",
        "credentials": {
            "auth_type": "oauth2.0",
            "client_id": "registered-client-id-000001",
            "client_secret": "registered-client-secret-001",
            "access_token": "registered-access-token-0001",
            "refresh_token": "registered-refresh-token-001",
            "token_expiry_date": "2020-01-01T00:00:00Z",
        },
        "api_url": "https://gitlab.example.com",
    }
    tap_harness.register_secrets(config)
    creds = config["credentials"]
    assert isinstance(creds, dict)
    expected = {config["private_token"], *(v for k, v in creds.items() if k not in ("auth_type", "token_expiry_date"))}
    assert expected <= tap_harness.KNOWN_SECRETS
    assert "https://gitlab.example.com" not in tap_harness.KNOWN_SECRETS


_INNER_TESTS = """
from tests.support import tap_harness

SECRET = "glpat-inner-planted-leak-" + "000000"


def test_clean():
    tap_harness.KNOWN_SECRETS.add(SECRET)
    tap_harness.OUTPUTS.append(("nothing here", "nor here"))


def test_leaky():
    tap_harness.KNOWN_SECRETS.add(SECRET)
    tap_harness.OUTPUTS.append(("", "DEBUG header PRIVATE-TOKEN: " + SECRET))
"""


@pytest.mark.parametrize(
    ("args", "selection", "code"),
    [
        ((), "test_leaky", 1),
        (("-n", "2"), "", 1),  # xdist: the worker that ran test_leaky fails the whole run
        ((), "test_clean", 0),
    ],
    ids=["leak", "leak-xdist", "clean"],
)
def test_guard_fails_the_session(tmp_path, args, selection, code):
    (tmp_path / "test_inner.py").write_text(_INNER_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    command = [sys.executable, "-m", "pytest", "-p", "tests.support.secrets_guard", "-p", "no:cacheprovider", *args]
    command += ["test_inner.py"] + (["-k", selection] if selection else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == code, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "glpat-inner-planted-leak-000000" not in proc.stdout + proc.stderr
    if code:
        assert "SECRETS LEAKED" in proc.stdout and "tap run #" in proc.stdout
        assert "passed" in proc.stdout and "failed" not in proc.stdout  # the tests passed; the guard failed it


# -- never to another host -------------------------------------------------------------------------------------


def test_link_headers_to_another_host_are_rerooted_on_api_url(dataset, tmp_path, dns_log, pick):
    """GitLab's Link headers use its external URL; the tap follows them on api_url and never elsewhere."""
    with GitLabSimulator(dataset, token=TOKEN, external_url=OTHER_HOST) as sim:
        config = _config(sim)
        catalog = pick()
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        _assert_complete(run, sim, STREAMS)
        followed = [e for e in sim.requests if {"page", "cursor", "id_after"} & set(e.query)]
        assert followed, "the dataset should need next links"
        _assert_token_never_in_a_url(sim)
        assert all(e.path.startswith("/api/v4/") for e in sim.requests)
    # Payloads are full of absolute URLs on other hosts (web_url, avatar_url, ...): none was requested.
    assert any(str(r.get("web_url", "")).startswith("https://") for r in run.records["issues"])
    assert lookups(dns_log) == []


def test_renamed_project_301_to_another_host_is_followed_on_api_url(tmp_path, dns_log, pick):
    dataset = Dataset.generate(size="tiny", seed=5)
    project = dataset.expected("projects")[0]
    old_path = project["path_with_namespace"]
    dataset.rename_project(project["id"], "renamed-away")
    with GitLabSimulator(dataset, token=TOKEN, external_url=OTHER_HOST) as sim:
        config = {"api_url": sim.base_url, "private_token": TOKEN, "projects": [old_path]}
        run = run_tap(tmp_path / "run", config, catalog=pick(["projects", "issues"]))
        assert run.returncode == 0, run.stderr[-3000:]
        assert [p["id"] for p in run.records["projects"]] == [project["id"]]
        expected = [i["id"] for i in dataset.expected("issues") if i["project_id"] == project["id"]]
        assert sorted(i["id"] for i in run.records["issues"]) == sorted(expected)
        assert any(e.status == 301 for e in sim.requests)
        _assert_token_never_in_a_url(sim)
    assert lookups(dns_log) == []


def test_redirect_to_another_host_outside_the_api_is_not_followed(dataset, tmp_path, dns_log, pick):
    """A 302 to a login page elsewhere: stop with one line; never send the token there."""
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        catalog = pick(["projects", "issues"])
        sim.faults.add("redirect", path=r"/issues$", location="https://login.other.example/users/sign_in")
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        line = run.last_stderr_line
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
        assert line.startswith("tap-gitlab: error: ") and "another host" in line, line
        _assert_token_never_in_a_url(sim)
    assert lookups(dns_log) == []


def test_redirect_to_an_api_url_on_another_host_stays_on_api_url(dataset, tmp_path, dns_log, pick):
    """A 302 to the same API path on another host (a stand-in on another port) is re-rooted on api_url."""
    with _serve(_Trap()) as trap, GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        catalog = pick(["projects", "issues"])
        group = next(g for g in dataset.expected("groups") if g["full_path"] == config["groups"][0])
        location = f"http://127.0.0.1:{trap.server_address[1]}/api/v4/groups/{group['id']}?with_projects=false"
        group_redirect = sim.faults.add("redirect", path=r"^/api/v4/groups/[^/]+$", times=1, location=location)
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        _assert_complete(run, sim, ["projects", "issues"])
        assert group_redirect.fired == 1
        _assert_token_never_in_a_url(sim)
    assert trap.connections == 0  # type: ignore[attr-defined]
    assert lookups(dns_log) == []


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """A server that echoes the request (URL and token header) in its error body, as some proxies do."""

    def do_GET(self) -> None:
        token = self.headers.get("PRIVATE-TOKEN") or self.headers.get("Authorization")
        body = json.dumps({"message": f"400 Bad request: {self.path} (credentials: {token})"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: t.Any) -> None:
        return


def test_error_echoing_the_request_does_not_reveal_the_token(tmp_path, pick):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    with _serve(server):
        config = {"api_url": f"http://127.0.0.1:{server.server_address[1]}", "private_token": TOKEN}
        run = run_tap(tmp_path, config, catalog=pick(["projects"]))
    line = _assert_one_line_failure(run, "400 Bad request")
    assert "credentials: ***" in line
    assert TOKEN not in run.stdout + run.stderr


# -- TLS ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(folder / "other-ca.pem"))
    return {name: str(folder / f"{name}.pem") for name in ("server", "ca", "other-ca")}


@pytest.fixture
def tls_sim(tls_files):
    dataset = Dataset.generate(size="tiny", seed=3)
    with GitLabSimulator(dataset, token=TOKEN, tls=(tls_files["server"], tls_files["server"])) as sim:
        yield sim


def test_tls_is_verified_by_default(tls_sim, tmp_path, monkeypatch, pick):
    # requests' environment overrides (an empty CURL_CA_BUNDLE once disabled verification) are not used.
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    config = {"api_url": tls_sim.base_url, "private_token": TOKEN}
    run = run_tap(tmp_path, config, catalog=pick(["projects", "issues"]))
    _assert_one_line_failure(run, "certificate verification failed", "set ca_bundle")
    assert tls_sim.requests == []  # the handshake failed: no request, so no token, reached the server


def test_tls_with_another_ca_bundle_fails(tls_sim, tls_files, tmp_path, pick):
    config = {"api_url": tls_sim.base_url, "private_token": TOKEN, "ca_bundle": tls_files["other-ca"]}
    run = run_tap(tmp_path, config, catalog=pick(["projects"]))
    _assert_one_line_failure(run, "certificate verification failed", "ca_bundle")


def test_tls_with_ca_bundle_completes(tls_sim, tls_files, tmp_path, pick):
    config = {"api_url": tls_sim.base_url, "private_token": TOKEN, "ca_bundle": tls_files["ca"]}
    run = run_tap(tmp_path, config, catalog=pick(["projects", "issues"]))
    _assert_complete(run, tls_sim, ["projects", "issues"])
    assert "plain http://" not in run.stderr


def test_plain_http_works_with_a_warning(tmp_path, pick):
    dataset = Dataset.generate(size="tiny", seed=3)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        assert sim.base_url.startswith("http://")
        config = {"api_url": sim.base_url, "private_token": TOKEN}
        run = run_tap(tmp_path, config, catalog=pick(["projects", "issues"]))
        _assert_complete(run, sim, ["projects", "issues"])
    warnings = [line for line in run.stderr.splitlines() if "plain http://" in line]
    assert warnings and "WARNING" in warnings[0], run.stderr[-2000:]
