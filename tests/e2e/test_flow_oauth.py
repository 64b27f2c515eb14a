"""OAuth2 under Flow: each rotated token pair is handed back to the runtime before it is used.

Sessions run `python -m tap_gitlab.flow` like Flow's runtime (tests/support/flow_harness.py) against the GitLab
simulator, whose `POST /oauth/token` rotates like GitLab's Doorkeeper (the old pair dies at the first use of
the new access token), and a stand-in for Estuary's config-encryption service (tests/e2e/config_encryption_sim.py),
which also plays the runtime's decryption of the config it republishes.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import typing as t
import urllib.parse

import pytest

from tap_gitlab.auth import TokenHandback
from tap_gitlab.errors import AuthError
from tap_gitlab.flow import config_update, spec
from tap_gitlab.flow.protocol import Log
from tests.e2e.config_encryption_sim import ConfigEncryptionStandIn
from tests.support import secrets_guard
from tests.support.flow_harness import check_session, reduce_state, run_connector

PAT = "glpat-flow-oauth-module-pat-0001"  # the simulator's own token, unused by these sessions
CLIENT_ID = "flow-oauth-client-id-6c2f90"
CLIENT_SECRET = "flow-oauth-client-secret-e41b77d0"
ACCESS_TOKEN = "flow-oauth-initial-access-3d81aa"
REFRESH_TOKEN = "flow-oauth-initial-refresh-95c0e2"
PAST = "2020-01-01T00:00:00Z"
STREAMS = ["groups", "projects", "issues"]


@pytest.fixture
def gitlab():
    from tests.gitlab_sim import Dataset, GitLabSimulator

    ds = Dataset.generate(size="tiny", seed=3)
    with GitLabSimulator(ds, token=PAT) as server:
        server.oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, access_token=ACCESS_TOKEN)
        yield server
        for token in [*server.oauth_access, *server.oauth_refresh]:
            secrets_guard.register_secret(token)


@pytest.fixture
def encryption():
    with ConfigEncryptionStandIn() as service:
        yield service
    assert not service.problems, service.problems


class FirstUse:
    """Wraps the simulator's authentication: at the first use of each rotated access token, was it already in
    a config the encryption service encrypted (the adapter emits the event right after, before answering)?"""

    def __init__(self, sim: t.Any, service: ConfigEncryptionStandIn) -> None:
        self._inner, self._service, self._sim = sim.authenticate, service, sim
        self._lock = threading.Lock()
        self.seen: list[str] = []
        self.used_before_handback: list[str] = []
        sim.authenticate = self

    def __call__(self, headers: t.Any, query: dict[str, str], path: str) -> t.Any:
        auth = headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self._lock:
            if token and token not in self.seen:
                self.seen.append(token)
                if token != ACCESS_TOKEN and token not in self._service.plaintexts:
                    self.used_before_handback.append(token)
        return self._inner(headers, query, path)


def _config(sim: t.Any, service: ConfigEncryptionStandIn, *, expiry: str | None = PAST) -> dict[str, t.Any]:
    creds = {
        "auth_type": "oauth2.0",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
    }
    if expiry:
        creds["token_expiry_date"] = expiry
    return {
        "api_url": sim.base_url,
        "credentials": creds,
        "groups": " ".join(sim.dataset.top_group_paths()),
        "max_concurrency": 4,
        "config_encryption_url": service.url,
    }


def _open(config: dict[str, t.Any], state: dict[str, t.Any]) -> dict[str, t.Any]:
    bindings = []
    for stream in STREAMS:
        mode = "incremental" if stream == "issues" else "full_refresh"
        bindings.append(
            {
                "resourceConfig": {"stream": stream, "syncMode": mode},
                "resourcePath": [stream],
                "stateKey": stream,
                "collection": {"name": f"acmeCo/gitlab/{stream}", "key": ["/id"], "writeSchema": {"type": "object"}},
            }
        )
    capture = {"name": "acmeCo/gitlab", "connectorType": "IMAGE", "config": config, "bindings": bindings}
    return {"open": {"capture": capture, "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295}, "state": state}}


def _config_updates(run: t.Any) -> list[dict[str, t.Any]]:
    return [e for e in run.logs if (e.get("fields") or {}).get("eventType") == "configUpdate"]


def _ids(run: t.Any, binding: int) -> list[int]:
    return sorted(doc["id"] for doc in run.captured().get(binding, []))


def _assert_no_token_in(run: t.Any, sim: t.Any) -> None:
    text = run.stdout + run.stderr
    for secret in [CLIENT_ID, CLIENT_SECRET, *sim.oauth_access, *sim.oauth_refresh]:
        assert secret not in text


# -- sessions ----------------------------------------------------------------------------------------------


def test_two_sweeps_across_an_expiry_hand_each_rotated_pair_back_before_using_it(gitlab, encryption):
    spy = FirstUse(gitlab, encryption)
    original = _config(gitlab, encryption)

    first = run_connector(_open(original, {}))
    assert first.returncode == 0, first.stderr[-3000:]
    check_session(first)
    (event,) = _config_updates(first)
    assert event["level"] == "info" and event["msg"] == config_update.CONFIG_UPDATE_MESSAGE
    assert set(event["fields"]) == {"eventType", "config"}
    encrypted = event["fields"]["config"]
    assert "sops" in encrypted and "access_token_sops" in encrypted["credentials"]
    assert "access_token" not in encrypted["credentials"] and "refresh_token" not in encrypted["credentials"]
    # The runtime republishes the config; the next session opens with it decrypted.
    republished = encryption.decrypt(encrypted)
    creds = republished["credentials"]
    assert creds["access_token"] in gitlab.oauth_access and creds["refresh_token"] in gitlab.oauth_refresh
    assert creds["refresh_token"] != REFRESH_TOKEN and creds["access_token"] != ACCESS_TOKEN
    assert creds["token_expiry_date"].endswith("Z") and creds["token_expiry_date"] > PAST
    # Only the rotated credentials changed; the request sent the whole config, keys sorted.
    unchanged = {k: v for k, v in original.items() if k != "credentials"}
    assert {k: v for k, v in republished.items() if k != "credentials"} == unchanged
    assert {k: v for k, v in creds.items() if k not in ("access_token", "refresh_token", "token_expiry_date")} == {
        k: v
        for k, v in original["credentials"].items()
        if k not in ("access_token", "refresh_token", "token_expiry_date")
    }
    assert encryption.requests[0]["schema"] == spec.config_schema()
    assert spy.used_before_handback == []
    assert gitlab.oauth_refresh[REFRESH_TOKEN]["used"], "the first refresh token is spent once the new token is used"
    state = reduce_state({}, first)
    _assert_no_token_in(first, gitlab)

    # Two hours later the access token has expired: the next sweep refreshes with the republished pair.
    gitlab.expire_access_token(creds["access_token"])
    second = run_connector(_open(republished, state))
    assert second.returncode == 0, second.stderr[-3000:]
    check_session(second)
    (event2,) = _config_updates(second)
    again = encryption.decrypt(event2["fields"]["config"])
    assert again["credentials"]["refresh_token"] not in (REFRESH_TOKEN, creds["refresh_token"])
    assert gitlab.oauth_refreshes == 2 and spy.used_before_handback == []
    assert _ids(second, 0) == _ids(first, 0) == sorted(g["id"] for g in gitlab.dataset.expected("groups"))
    _assert_no_token_in(second, gitlab)


def test_a_spent_refresh_token_fails_with_one_line_asking_to_reauthorize(gitlab, encryption):
    original = _config(gitlab, encryption)
    assert run_connector(_open(original, {})).returncode == 0  # rotates, and uses the new pair
    # A session that starts from the old config (as if the update had never been published) cannot refresh.
    run = run_connector(_open(original, {}))
    assert run.returncode == 1
    assert "re-authorize" in run.error and "invalid_grant" in run.error and "\n" not in run.error
    assert run.error.startswith("tap-gitlab: error: ")
    assert _config_updates(run) == []
    _assert_no_token_in(run, gitlab)


def test_an_encryption_outage_stops_before_the_new_pair_is_used_and_the_old_config_still_works(gitlab, encryption):
    spy = FirstUse(gitlab, encryption)
    encryption.fail_status = 503
    original = _config(gitlab, encryption)
    failed = run_connector(_open(original, {}))
    assert failed.returncode == 1
    assert "could not hand the rotated OAuth tokens back to Flow" in failed.error
    assert "answered HTTP 503" in failed.error and "were not used" in failed.error
    assert _config_updates(failed) == [] and failed.of("captured") == []
    assert spy.seen == [], "no API request was sent with either pair"
    _assert_no_token_in(failed, gitlab)
    # GitLab revokes the old pair only when the new access token is used: the unchanged config refreshes again.
    encryption.fail_status = None
    retry = run_connector(_open(original, {}))
    assert retry.returncode == 0, retry.stderr[-3000:]
    assert len(_config_updates(retry)) == 1 and spy.used_before_handback == []


def test_an_access_token_session_never_contacts_the_encryption_service(gitlab, encryption):
    config = {**_config(gitlab, encryption), "credentials": {"auth_type": "access_token", "access_token": PAT}}
    run = run_connector(_open(config, {}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert _config_updates(run) == [] and encryption.requests == []


# -- the relay, in process ---------------------------------------------------------------------------------


def _relay(service: ConfigEncryptionStandIn, stream: io.StringIO) -> tuple[config_update.TokenRelay, TokenHandback]:
    ours, theirs = socket.socketpair()
    flow_config = {
        "api_url": "https://gitlab.example.com",
        "config_encryption_url": service.url,
        "credentials": {
            "auth_type": "oauth2.0",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "access_token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
        },
    }
    relay = config_update.TokenRelay(ours, flow_config, spec.config_schema(), Log(stream))
    relay.start()
    return relay, TokenHandback(theirs, timeout=30)


def test_unit_the_refresh_returns_only_after_the_config_update_is_logged(encryption):
    import datetime as dt

    stream = io.StringIO()
    relay, handback = _relay(encryption, stream)
    new_access, new_refresh = "unit-rotated-access-1f2e3d", "unit-rotated-refresh-4c5b6a"
    handback.send(new_access, new_refresh, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["fields"]["eventType"] for line in lines] == ["configUpdate"]
    plain = encryption.decrypt(lines[0]["fields"]["config"])
    assert plain["credentials"]["access_token"] == new_access
    assert plain["credentials"]["token_expiry_date"] == "2030-01-01T00:00:00Z"
    assert new_access not in stream.getvalue() and new_refresh not in stream.getvalue()
    assert relay.config["credentials"]["refresh_token"] == new_refresh  # a second refresh builds on it
    relay.close()


def test_unit_an_unreachable_encryption_service_is_one_line_without_secrets(encryption):
    stream = io.StringIO()
    relay, handback = _relay(encryption, stream)
    relay._url = "http://127.0.0.1:9/v1/encrypt-config"
    with pytest.raises(AuthError) as caught:
        handback.send("unit-unsent-access-7d7d7d", "unit-unsent-refresh-8e8e8e", None)
    message = str(caught.value)
    assert "config encryption service http://127.0.0.1:9/v1/encrypt-config is unreachable" in message
    assert "unit-unsent" not in message and "\n" not in message and stream.getvalue() == ""
    relay.close()


def test_unit_the_encryption_url_is_the_setting_then_the_environment_then_estuarys(monkeypatch):
    monkeypatch.delenv("ENCRYPTION_URL", raising=False)
    assert config_update.encryption_url({}) == "https://config-encryption.estuary.dev/v1/encrypt-config"
    monkeypatch.setenv("ENCRYPTION_URL", "http://172.18.0.1:8765/v1/encrypt-config")
    assert config_update.encryption_url({}) == "http://172.18.0.1:8765/v1/encrypt-config"
    setting = {"config_encryption_url": "http://127.0.0.1:1/v1/encrypt-config"}
    assert config_update.encryption_url(setting) == "http://127.0.0.1:1/v1/encrypt-config"


def test_unit_an_answer_that_leaves_a_secret_plain_is_refused(monkeypatch):
    class Leaky:
        status_code = 200
        text = json.dumps({"credentials": {"access_token": "plain-access-token-0a0a"}, "sops": {}})

        def json(self) -> t.Any:
            return json.loads(self.text)

    monkeypatch.setattr(config_update.requests, "post", lambda *a, **k: Leaky())
    config = {"credentials": {"auth_type": "oauth2.0", "access_token": "plain-access-token-0a0a"}}
    with pytest.raises(config_update.ConfigUpdateError, match="left a secret unencrypted"):
        config_update.encrypt("http://127.0.0.1:1/x", config, spec.config_schema())


# -- the spec's OAuth templates follow the instance -----------------------------------------------------------


def _render(template: str, view: dict[str, t.Any]) -> str:
    """The Mustache subset Estuary's templates use: {{{name}}}, {{name}}, dotted names, `.`, sections and
    inverted sections, and lambdas taking the section's rendered text (urlencode)."""

    def lookup(name: str, stack: list[t.Any]) -> t.Any:
        if name == ".":
            return stack[-1]
        head, *rest = name.split(".")
        for frame in reversed(stack):
            if isinstance(frame, dict) and head in frame:
                value = frame[head]
                for part in rest:
                    value = value.get(part) if isinstance(value, dict) else None
                return value
        return None

    def render(text: str, stack: list[t.Any]) -> str:
        out, pos = [], 0
        tag = re.compile(r"\{\{\{\s*([\w.]+)\s*\}\}\}|\{\{([#^/]?)\s*([\w.]+)\s*\}\}")
        while (match := tag.search(text, pos)) is not None:
            out.append(text[pos : match.start()])
            if match.group(1):
                out.append(str(lookup(match.group(1), stack) or ""))
                pos = match.end()
                continue
            kind, name = match.group(2), match.group(3)
            if not kind:
                out.append(str(lookup(name, stack) or ""))
                pos = match.end()
                continue
            close = re.compile(r"\{\{/\s*" + re.escape(name) + r"\s*\}\}")
            end = close.search(text, match.end())
            assert end is not None, name
            inner = text[match.end() : end.start()]
            value = lookup(name, stack)
            if kind == "#" and callable(value):
                out.append(value(render(inner, stack)))
            elif kind == "#" and value:
                out.append(render(inner, [*stack, value]))
            elif kind == "^" and not value:
                out.append(render(inner, stack))
            pos = end.end()
        out.append(text[pos:])
        return "".join(out)

    return render(template, [{**view, "urlencode": lambda s: urllib.parse.quote(s, safe="")}])


def test_the_oauth_urls_follow_the_configured_instance_and_default_to_gitlab_com():
    oauth = spec.spec_response()["oauth2"]
    view = {"client_id": "app-uid", "redirect_uri": "https://dashboard.estuary.dev/oauth", "state": "st4te"}
    own = {**view, "config": {"api_url": "https://gitlab.example.com"}}
    url = urllib.parse.urlsplit(_render(oauth["authUrlTemplate"], own))
    assert (url.scheme, url.netloc, url.path) == ("https", "gitlab.example.com", "/oauth/authorize")
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query == {
        "client_id": "app-uid",
        "redirect_uri": "https://dashboard.estuary.dev/oauth",
        "response_type": "code",
        "state": "st4te",
        "scope": "read_api",
    }
    assert _render(oauth["accessTokenUrlTemplate"], own) == "https://gitlab.example.com/oauth/token"
    for config in ({}, {"api_url": ""}):
        assert _render(oauth["accessTokenUrlTemplate"], {**view, "config": config}) == "https://gitlab.com/oauth/token"
        assert _render(oauth["authUrlTemplate"], {**view, "config": config}).startswith(
            "https://gitlab.com/oauth/authorize?client_id=app-uid&"
        )


# -- validate never refreshes ----------------------------------------------------------------------------------


def _validate(config: dict[str, t.Any]) -> t.Any:
    binding = {"resourceConfig": {"stream": "groups", "syncMode": "full_refresh"}, "resourcePath": ["groups"]}
    request = {"validate": {"name": "acmeCo/gitlab", "connectorType": "IMAGE", "config": config, "bindings": [binding]}}
    return run_connector(request)


def test_validate_checks_access_with_the_access_token_and_never_spends_the_refresh_token(gitlab, encryption):
    fresh = _validate(_config(gitlab, encryption, expiry="2999-01-01T00:00:00Z"))
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert fresh.of("validated") == [{"bindings": [{"resourcePath": ["groups"]}]}]
    assert any(e.path == "/api/v4/user" for e in gitlab.requests)
    # Expired: nothing to check it with (a refresh here could not reach Flow); the next session refreshes.
    expired = _validate(_config(gitlab, encryption))
    assert expired.returncode == 0, expired.stderr[-2000:]
    assert any("access is not checked now" in e["msg"] for e in expired.logs)
    # Revoked, expiry unknown: one line, no refresh.
    gitlab.revoke_token(ACCESS_TOKEN)
    revoked = _validate(_config(gitlab, encryption, expiry=None))
    assert revoked.returncode == 1 and "re-authorize the connector" in revoked.error and "\n" not in revoked.error
    assert gitlab.oauth_refreshes == 0 and encryption.requests == []
    assert not gitlab.oauth_refresh[REFRESH_TOKEN]["used"]


def test_a_session_that_fails_after_a_rotation_keeps_the_update_and_ends_with_its_error(gitlab, encryption):
    gitlab.faults.add("redirect", path=r"/issues", location="https://elsewhere.example/")
    run = run_connector(_open(_config(gitlab, encryption), {}))
    assert run.returncode == 1
    (event,) = _config_updates(run)
    assert run.logs.index(event) < len(run.logs) - 1 and run.logs[-1]["level"] == "error"
    assert run.error.startswith("tap-gitlab: error: ") and "redirect" in run.error.lower(), run.error
    # What Flow republishes still authenticates: the next sweep starts from it.
    gitlab.faults.clear()
    republished = encryption.decrypt(event["fields"]["config"])
    assert run_connector(_open(republished, {})).returncode == 0
    assert gitlab.oauth_refreshes == 1
