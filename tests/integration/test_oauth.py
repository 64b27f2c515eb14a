"""OAuth2: refresh on expiry and on 401, once per expiry with many workers; rotation persisted before use.

End to end against the simulator's `POST /oauth/token` (single-use, rotating refresh tokens), plus unit tests
of tap_gitlab/auth.py with a fake token endpoint.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import stat
import threading
import time
import typing as t
from pathlib import Path

import pytest
import requests

from tap_gitlab.auth import OAuth2Auth, TokenHandback, build_auth
from tap_gitlab.errors import AuthError
from tap_gitlab.settings import OAuthCredentials, normalize
from tests.gitlab_sim import GitLabSimulator
from tests.support import secrets_guard
from tests.support.tap_harness import TapRun, discover, run_tap, select

CLIENT_ID = "oauth-client-id-5b1e77"
CLIENT_SECRET = "oauth-client-secret-9d2c41f0"
ACCESS_TOKEN = "oauth-initial-access-token-31c8e2"
REFRESH_TOKEN = "oauth-initial-refresh-token-7a90d4"
PAT = "glpat-oauth-module-pat-00000001"  # the simulator's own token, unused by the OAuth runs
STREAMS = ["groups", "projects", "issues", "merge_requests", "commits", "pipelines", "jobs", "project_members"]
PAST = "2020-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    config = {"api_url": "http://127.0.0.1:9", "private_token": PAT}
    return select(discover(tmp_path_factory.mktemp("discover"), config), STREAMS)


@pytest.fixture
def sim(gitlab_dataset):
    with GitLabSimulator(gitlab_dataset, token=PAT) as server:
        server.oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, access_token=ACCESS_TOKEN)
        yield server
        # Every token the simulator issued is a secret the suite-wide guard must look for.
        for token in [*server.oauth_access, *server.oauth_refresh]:
            secrets_guard.register_secret(token)


def _config(sim: GitLabSimulator, store: Path | None, *, expiry: str | None = PAST, **extra: t.Any) -> dict[str, t.Any]:
    creds = {
        "auth_type": "oauth2.0",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
    }
    if expiry:
        creds["token_expiry_date"] = expiry
    top = sim.dataset.top_group_paths()
    config: dict[str, t.Any] = {"api_url": sim.base_url, "credentials": creds, "groups": top, "max_concurrency": 8}
    if store is not None:
        config["oauth_token_store"] = str(store)
    return {**config, **extra}


class AuthSpy:
    """Wraps the simulator's authentication: records how each API request authenticated, checks that a rotated
    access token was in the token store before its first use, and can expire the token in use at request n."""

    def __init__(self, sim: GitLabSimulator, store: Path | None = None, expire_at: t.Collection[int] = ()) -> None:
        self.sim = sim
        self.store = store
        self.expire_at = set(expire_at)
        self._inner = sim.authenticate
        self._lock = threading.Lock()
        self.count = 0
        self.private_token_headers = 0
        self.bearer_tokens: list[str | None] = []
        self.not_stored_before_use: list[str] = []
        self.expired: list[str] = []
        sim.authenticate = self  # type: ignore[method-assign]

    def __call__(self, headers: t.Any, query: dict[str, str], path: str) -> t.Any:
        auth = headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self._lock:
            self.count += 1
            if headers.get("PRIVATE-TOKEN") is not None:
                self.private_token_headers += 1
            first_use = token is not None and token not in self.bearer_tokens
            self.bearer_tokens.append(token)
            if first_use and token != ACCESS_TOKEN and self.store is not None:
                stored = json.loads(self.store.read_text()) if self.store.exists() else {}
                if stored.get("access_token") != token:
                    self.not_stored_before_use.append(token)
            if self.count in self.expire_at and token is not None:
                self.sim.expire_access_token(token)
                self.expired.append(token)
        return self._inner(headers, query, path)


def _assert_complete(run: TapRun, sim: GitLabSimulator) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in STREAMS:
        keys = run.schemas[stream]["key_properties"]
        got = sorted(tuple(r[k] for k in keys) for r in run.records[stream])
        want = sorted(tuple(r[k] for k in keys) for r in sim.dataset.expected(stream))
        assert got == want, stream


def _assert_no_secret_in_output(run: TapRun, sim: GitLabSimulator) -> None:
    text = run.stdout + run.stderr
    for secret in [CLIENT_SECRET, CLIENT_ID, *sim.oauth_access, *sim.oauth_refresh]:
        assert secret not in text


def _refresh_directly(sim: GitLabSimulator, refresh_token: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return requests.post(f"{sim.base_url}/oauth/token", data=form, timeout=10)


def _get_groups(sim: GitLabSimulator, access_token: str) -> requests.Response:
    return requests.get(
        f"{sim.base_url}/api/v4/groups", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )


def test_simulator_rotates_like_doorkeeper_the_old_pair_dies_at_the_first_use_of_the_new_token(sim):
    """GitLab's Doorkeeper keeps the old pair until the new access token is used (previous_refresh_token,
    revoke_previous_refresh_token! in lib/gitlab/auth/auth_finders.rb): a client that crashed before using the
    new pair can refresh again with the old one."""
    first = _refresh_directly(sim, REFRESH_TOKEN)
    assert first.status_code == 200
    assert _get_groups(sim, ACCESS_TOKEN).status_code == 200  # the old access token still works
    again = _refresh_directly(sim, REFRESH_TOKEN)  # and so does the old refresh token
    assert again.status_code == 200 and again.json()["refresh_token"] != first.json()["refresh_token"]
    assert _get_groups(sim, again.json()["access_token"]).status_code == 200  # first use: the old pair dies
    assert _get_groups(sim, ACCESS_TOKEN).status_code == 401
    spent = _refresh_directly(sim, REFRESH_TOKEN)
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    body = again.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200 and isinstance(body["created_at"], int)


# -- end to end ------------------------------------------------------------------------------------------------


def test_expired_token_is_refreshed_once_before_use_and_sent_as_bearer(sim, catalog, tmp_path):
    store = tmp_path / "tokens.json"
    spy = AuthSpy(sim, store)
    run = run_tap(tmp_path / "run", _config(sim, store), catalog=catalog)
    _assert_complete(run, sim)
    assert sim.oauth_refreshes == 1  # eight workers, one expiry, one refresh
    assert spy.count > 20
    assert spy.private_token_headers == 0  # OAuth access tokens are never sent as PRIVATE-TOKEN
    assert ACCESS_TOKEN not in spy.bearer_tokens  # the expired token was refreshed before any request
    assert None not in spy.bearer_tokens and len(set(spy.bearer_tokens)) == 1
    assert spy.not_stored_before_use == []
    stored = json.loads(store.read_text())
    assert stored["access_token"] == spy.bearer_tokens[0]
    assert stored["refresh_token"] in sim.oauth_refresh and not sim.oauth_refresh[stored["refresh_token"]]["used"]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".oauth-")] == []  # no temporary files left
    assert all("private_token" not in e.query and "access_token" not in e.query for e in sim.requests)
    _assert_no_secret_in_output(run, sim)


def test_401_mid_run_refreshes_once_per_expiry(sim, catalog, tmp_path):
    """No recorded expiry: the simulator expires the token in use twice during the run; eight workers see 401s."""
    sim.faults.set_latency(15)  # keep several requests in flight when a token expires
    store = tmp_path / "tokens.json"
    spy = AuthSpy(sim, store, expire_at=(12, 45))
    run = run_tap(tmp_path / "run", _config(sim, store, expiry=None), catalog=catalog)
    _assert_complete(run, sim)
    assert len(spy.expired) == 2
    assert sim.oauth_refreshes == 2
    assert spy.bearer_tokens[0] == ACCESS_TOKEN
    assert len(set(spy.bearer_tokens)) == 3
    assert sum(e.status == 401 for e in sim.requests) >= 2
    assert spy.private_token_headers == 0
    assert spy.not_stored_before_use == []
    _assert_no_secret_in_output(run, sim)


def test_next_run_starts_from_the_token_store(sim, catalog, tmp_path):
    store = tmp_path / "tokens.json"
    config = _config(sim, store)
    first = run_tap(tmp_path / "first", config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    stored = json.loads(store.read_text())
    # The config still holds the spent refresh token: GitLab rejects it now.
    rejected = _refresh_directly(sim, REFRESH_TOKEN)
    assert rejected.status_code == 400 and rejected.json()["error"] == "invalid_grant"

    # The next run uses the stored pair; its access token has expired meanwhile, so it refreshes with the
    # stored refresh token (the config's would fail).
    sim.expire_access_token(stored["access_token"])
    spy = AuthSpy(sim, store)
    second = run_tap(tmp_path / "second", config, catalog=catalog)
    _assert_complete(second, sim)
    assert spy.bearer_tokens[0] == stored["access_token"]
    assert sim.oauth_refreshes == 2
    assert sim.oauth_refresh[stored["refresh_token"]]["used"]
    assert json.loads(store.read_text())["refresh_token"] != stored["refresh_token"]
    assert spy.not_stored_before_use == []
    _assert_no_secret_in_output(second, sim)


def test_invalid_grant_asks_to_reauthorize(sim, catalog, tmp_path):
    # Someone else used the refresh token, and then its new access token: that spends the old pair.
    fresh = _refresh_directly(sim, REFRESH_TOKEN).json()["access_token"]
    assert _get_groups(sim, fresh).status_code == 200
    config = _config(sim, tmp_path / "tokens.json")
    run = run_tap(tmp_path / "run", config, catalog=catalog)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert not run.states and not run.records
    line = run.last_stderr_line
    assert line.startswith("tap-gitlab: error: ") and "re-authorize" in line and "invalid_grant" in line, line
    assert not (tmp_path / "tokens.json").exists()
    _assert_no_secret_in_output(run, sim)


def test_wrong_client_secret_asks_to_reauthorize(sim, catalog, tmp_path):
    config = _config(sim, None)
    config["credentials"]["client_secret"] = "oauth-wrong-client-secret-000"
    run = run_tap(tmp_path / "run", config, catalog=catalog)
    assert run.returncode == 1 and "Traceback" not in run.stderr and not run.states
    assert "re-authorize" in run.last_stderr_line and "invalid_client" in run.last_stderr_line


def test_reauthorized_config_wins_over_a_stale_store(sim, catalog, tmp_path):
    store = tmp_path / "tokens.json"
    first = run_tap(tmp_path / "first", _config(sim, store), catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    stale = json.loads(store.read_text())
    # The store's grant dies (revoked, its refresh token spent); the user re-authorizes: new tokens in the config.
    sim.revoke_token(stale["access_token"])
    assert _refresh_directly(sim, stale["refresh_token"]).status_code == 200
    sim.oauth_client(CLIENT_ID, CLIENT_SECRET, "oauth-reauthorized-refresh-0002", access_token="oauth-reauth-access-02")
    config = _config(sim, store, expiry=None)
    config["credentials"].update(access_token="oauth-reauth-access-02", refresh_token="oauth-reauthorized-refresh-0002")
    spy = AuthSpy(sim, store)
    second = run_tap(tmp_path / "second", config, catalog=catalog)
    _assert_complete(second, sim)
    assert spy.bearer_tokens[0] == "oauth-reauth-access-02"


def test_personal_access_token_is_sent_as_private_token_header(sim, catalog, tmp_path):
    spy = AuthSpy(sim)
    config = {"api_url": sim.base_url, "private_token": PAT, "projects": [sim.dataset.expected("projects")[0]["id"]]}
    run = run_tap(tmp_path, config, catalog=select(catalog, ["projects"]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert spy.count >= 1 and spy.private_token_headers == spy.count and set(spy.bearer_tokens) == {None}


# -- unit tests of auth.py --------------------------------------------------------------------------------------


class FakeTokenEndpoint:
    """A stand-in for `requests.Session` posting to /oauth/token: rotates like GitLab, slowly."""

    def __init__(self, *, status: int = 200, body: t.Any = None, delay: float = 0.0) -> None:
        self.status = status
        self.body = body
        self.delay = delay
        self.calls: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self) -> FakeTokenEndpoint:  # the session factory
        return self

    def post(self, url: str, data: dict[str, str], timeout: float) -> t.Any:
        time.sleep(self.delay)
        with self._lock:
            self.calls.append(dict(data))
            n = len(self.calls)
        body = self.body
        if body is None:
            body = {
                "access_token": f"rotated-access-{n}",
                "refresh_token": f"rotated-refresh-{n}",
                "expires_in": 7200,
                "created_at": int(time.time()),
            }
        response = requests.Response()
        response.status_code = self.status
        response._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return response


def _creds(expiry: dt.datetime | None = None, refresh: str = "config-refresh") -> OAuthCredentials:
    return OAuthCredentials("cid", "csecret", "config-access", refresh, expiry)


def _auth(endpoint: FakeTokenEndpoint, store: Path | None = None, **creds: t.Any) -> OAuth2Auth:
    return OAuth2Auth(
        _creds(**creds),
        token_url="https://gitlab.example.com/oauth/token",
        store_path=str(store) if store else None,
        session_factory=endpoint,
        timeout=5,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_unit_no_refresh_while_the_token_is_fresh():
    endpoint = FakeTokenEndpoint()
    auth = _auth(endpoint, expiry=_now() + dt.timedelta(hours=1))
    assert auth.headers() == {"Authorization": "Bearer config-access"}
    assert endpoint.calls == []


def test_unit_refreshes_shortly_before_expiry():
    endpoint = FakeTokenEndpoint()
    auth = _auth(endpoint, expiry=_now() + dt.timedelta(seconds=30))  # inside the safety margin
    assert auth.headers() == {"Authorization": "Bearer rotated-access-1"}
    assert endpoint.calls[0]["refresh_token"] == "config-refresh"
    assert endpoint.calls[0]["grant_type"] == "refresh_token"
    assert auth.headers() == {"Authorization": "Bearer rotated-access-1"}  # the new expiry is 2 h away
    assert len(endpoint.calls) == 1


def test_unit_concurrent_workers_refresh_once_per_expiry():
    endpoint = FakeTokenEndpoint(delay=0.05)
    auth = _auth(endpoint, expiry=_now() - dt.timedelta(minutes=1))
    barrier = threading.Barrier(16)
    seen: list[dict[str, str]] = []

    def worker() -> None:
        barrier.wait()
        seen.append(auth.headers())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(endpoint.calls) == 1
    assert {h["Authorization"] for h in seen} == {"Bearer rotated-access-1"}

    # Then 16 requests sent with that token all get 401: still one refresh.
    failed = dict(seen[0])
    barrier = threading.Barrier(16)
    results: list[bool] = []

    def on_401() -> None:
        barrier.wait()
        results.append(auth.refresh(failed))

    threads = [threading.Thread(target=on_401) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(endpoint.calls) == 2 and all(results)
    assert endpoint.calls[1]["refresh_token"] == "rotated-refresh-1"
    assert auth.headers() == {"Authorization": "Bearer rotated-access-2"}


@pytest.mark.parametrize(
    ("status", "body", "phrase"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "The provided authorization grant is invalid"},
            "(invalid_grant)",
        ),
        (401, {"error": "invalid_client"}, "(invalid_client)"),
        (500, "<html>oops</html>", "HTTP 500"),
        (200, {"token_type": "bearer"}, "HTTP 200"),
    ],
)
def test_unit_refresh_failures_ask_to_reauthorize(tmp_path, status, body, phrase):
    store = tmp_path / "tokens.json"
    auth = _auth(FakeTokenEndpoint(status=status, body=body), store, expiry=_now())
    with pytest.raises(AuthError) as excinfo:
        auth.headers()
    message = str(excinfo.value)
    assert "re-authorize" in message and phrase in message and "\n" not in message
    assert "config-refresh" not in message and "csecret" not in message
    assert not store.exists()


def test_unit_unreachable_token_endpoint_is_one_line():
    class Down(FakeTokenEndpoint):
        def post(self, url: str, data: dict[str, str], timeout: float) -> t.Any:
            raise requests.ConnectionError("connection refused")

    with pytest.raises(AuthError, match="could not reach GitLab to refresh"):
        _auth(Down(), expiry=_now()).headers()


def test_unit_store_is_replaced_atomically(tmp_path, monkeypatch):
    store = tmp_path / "tokens.json"
    auth = _auth(FakeTokenEndpoint(), store, expiry=_now())
    auth.headers()
    first = store.read_text()
    assert json.loads(first)["refresh_token"] == "rotated-refresh-1"
    assert "config-refresh" not in first  # the store records which grant it descends from, not the token

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(AuthError) as excinfo:
        auth.refresh(auth.headers())
    message = str(excinfo.value)
    assert "could not save the rotated OAuth tokens" in message and "re-authorize" in message
    assert "No space left on device" in message and "rotated-" not in message
    assert store.read_text() == first  # the old store is intact, never half written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.json"]  # no temporary file left behind


def test_unit_store_in_an_unwritable_place_is_one_line(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args: t.Any, **kwargs: t.Any) -> t.Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(AuthError, match=r"could not save the rotated OAuth tokens .* Permission denied"):
        _auth(FakeTokenEndpoint(), tmp_path / "tokens.json", expiry=_now()).headers()


def test_unit_store_is_preferred_unless_the_config_was_reauthorized(tmp_path):
    store = tmp_path / "tokens.json"
    _auth(FakeTokenEndpoint(), store, expiry=_now()).headers()  # writes rotated pair 1
    endpoint = FakeTokenEndpoint()
    again = _auth(endpoint, store, expiry=_now())  # same configured grant: the store wins, no refresh needed
    assert again.headers() == {"Authorization": "Bearer rotated-access-1"} and endpoint.calls == []

    reauthorized = _auth(FakeTokenEndpoint(), store, refresh="new-config-refresh")
    assert reauthorized.headers() == {"Authorization": "Bearer config-access"}

    # A store from before stores recorded their origin is still used.
    legacy = json.loads(store.read_text())
    del legacy["origin"]
    store.write_text(json.dumps(legacy))
    assert _auth(FakeTokenEndpoint(), store, refresh="anything").headers() == {
        "Authorization": "Bearer rotated-access-1"
    }


def test_unit_unreadable_store_is_one_line(tmp_path):
    store = tmp_path / "tokens.json"
    store.write_text("{not json")
    with pytest.raises(AuthError, match=r"token store .* is unreadable"):
        _auth(FakeTokenEndpoint(), store)


def test_unit_secrets_and_header_kinds():
    oauth = _auth(FakeTokenEndpoint())
    assert set(oauth.secrets()) == {"config-access", "config-refresh", "csecret"}
    assert "PRIVATE-TOKEN" not in oauth.headers()
    pat_settings = normalize({"api_url": "https://gitlab.example.com", "private_token": "glpat-unit-0001"})
    pat = build_auth(pat_settings, requests.Session)
    assert pat.headers() == {"PRIVATE-TOKEN": "glpat-unit-0001"} and not pat.can_refresh


# -- the hand-back to the Flow adapter ---------------------------------------------------------------------------


class FakeAdapter(threading.Thread):
    """The adapter's end of the hand-back socket: records each pair and answers `answer`."""

    def __init__(self, sock: socket.socket, answer: dict[str, t.Any]) -> None:
        super().__init__(daemon=True)
        self.sock, self.answer, self.pairs = sock, answer, []

    def run(self) -> None:
        for line in self.sock.makefile("rb"):
            self.pairs.append(json.loads(line))
            self.sock.sendall(json.dumps(self.answer).encode() + b"\n")


def _handback_auth(endpoint: FakeTokenEndpoint, answer: dict[str, t.Any]) -> tuple[OAuth2Auth, FakeAdapter]:
    ours, theirs = socket.socketpair()
    adapter = FakeAdapter(ours, answer)
    adapter.start()
    auth = OAuth2Auth(
        _creds(expiry=_now() - dt.timedelta(minutes=1)),
        token_url="https://gitlab.example.com/oauth/token",
        store_path=None,
        session_factory=endpoint,
        timeout=5,
        handback=TokenHandback(theirs, timeout=10),
    )
    return auth, adapter


def test_unit_a_rotated_pair_is_handed_back_before_the_first_header_carries_it():
    auth, adapter = _handback_auth(FakeTokenEndpoint(), {"ok": True})
    assert auth.headers() == {"Authorization": "Bearer rotated-access-1"}
    (pair,) = adapter.pairs
    assert pair["access_token"] == "rotated-access-1" and pair["refresh_token"] == "rotated-refresh-1"
    assert pair["token_expiry_date"].endswith("Z")
    # Spent tokens stay secrets: logs are scrubbed of the old pair too.
    assert {"config-access", "config-refresh", "rotated-access-1", "rotated-refresh-1"} <= set(auth.secrets())


def test_unit_a_refused_hand_back_leaves_both_pairs_unused_and_every_later_request_stopped():
    endpoint = FakeTokenEndpoint()
    auth, adapter = _handback_auth(endpoint, {"error": "the config encryption service x answered HTTP 503"})
    for attempt in range(2):  # the first caller and every other worker
        with pytest.raises(AuthError) as caught:
            auth.headers()
        message = str(caught.value)
        assert "could not hand the rotated OAuth tokens back to Flow: the config encryption service x" in message
        assert "rotated-" not in message and "\n" not in message
    with pytest.raises(AuthError):
        auth.refresh({"Authorization": "Bearer config-access"})
    assert len(endpoint.calls) == 1 and len(adapter.pairs) == 1  # no second refresh


def test_unit_a_closed_hand_back_channel_is_one_line():
    ours, theirs = socket.socketpair()
    ours.close()
    with pytest.raises(AuthError, match="could not hand the rotated OAuth tokens back to Flow"):
        TokenHandback(theirs, timeout=5).send("a-new-access-token", "a-new-refresh-token", None)
