"""Rotated OAuth tokens go back to Flow: the full endpoint config, encrypted, in a `configUpdate` log event.

GitLab's refresh tokens work once, and a Flow container keeps no files, so the pair a refresh returns must
reach Flow's control plane before the tap uses it. Estuary's connectors do this (estuary-cdk
`BaseCaptureConnector._rotate_oauth2_tokens` and `_encrypt_config`, flow-capture-protocol.md §6): they POST
`{"config": <the full config, keys sorted>, "schema": <the endpoint config schema>}` to the config-encryption
service, which answers the config with every `secret: true` value sops-encrypted (key renamed `<key>_sops`)
plus a `sops` stanza, and log that answer as `fields.config` of an info line with `fields.eventType:
"configUpdate"`. The control plane then publishes it as the task's new config, which the next session opens
with.

The tap runs as a subprocess (capture.py), so the hand-back crosses a process boundary: the adapter gives
the tap one end of a socket pair (`TAP_GITLAB_TOKEN_HANDBACK_FD`); the tap's refresh writes the new pair as
one JSON line and blocks until this relay answers, which it does only after the event is on stderr. So the
new access token is never used before Flow holds it, and GitLab keeps the old pair valid until the new
access token is first used (Doorkeeper's revoke-on-use, see tap_gitlab/auth.py): a crash anywhere in between
leaves a config that still authenticates.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import threading
import typing as t

import requests

from tap_gitlab.flow.protocol import Log

# estuary-cdk's default (base_capture_connector.py `ENCRYPTION_URL`), which Estuary's own services also use
# (estuary/flow supabase/functions/oauth/encrypt-config.ts).
DEFAULT_ENCRYPTION_URL = "https://config-encryption.estuary.dev/v1/encrypt-config"
ENCRYPTION_URL_ENV = "ENCRYPTION_URL"  # estuary-cdk's override, for a deployment's own service
SETTING = "config_encryption_url"
CONFIG_UPDATE_MESSAGE = "Rotating OAuth2 tokens in endpoint config."
_TIMEOUT = 60.0
_ROTATED = ("access_token", "refresh_token", "token_expiry_date")


class ConfigUpdateError(Exception):
    """The rotated config could not be handed to Flow (one line, no secret)."""


def encryption_url(flow_config: t.Any) -> str:
    """The `config_encryption_url` setting, else ENCRYPTION_URL, else Estuary's service."""
    value = flow_config.get(SETTING) if isinstance(flow_config, dict) else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    return os.environ.get(ENCRYPTION_URL_ENV, "").strip() or DEFAULT_ENCRYPTION_URL


def uses_oauth(flow_config: t.Any) -> bool:
    creds = flow_config.get("credentials") if isinstance(flow_config, dict) else None
    return isinstance(creds, dict) and creds.get("auth_type") == "oauth2.0"


def sort_keys(value: t.Any) -> t.Any:
    """`value` with every object's keys in lexicographic order: Flow sorts them, and sops' MAC follows the
    order it meets values in (estuary-cdk `_encrypt_config`)."""
    if isinstance(value, dict):
        return {key: sort_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(item) for item in value]
    return value


def rotated(flow_config: dict[str, t.Any], pair: dict[str, t.Any]) -> dict[str, t.Any]:
    """The endpoint config with the rotated pair (and its expiry) in `credentials`; everything else as it was."""
    config = copy.deepcopy(flow_config)
    creds = config["credentials"]
    for key in _ROTATED:
        value = pair.get(key)
        if value is None:
            creds.pop(key, None)  # an unknown expiry: refresh on the first 401
        else:
            creds[key] = value
    return config


def _plain_secrets(value: t.Any, schema: t.Any) -> list[str]:
    """Every value of `value` the schema marks secret (any branch of a oneOf), to check the answer hides them."""
    found: list[str] = []
    if not isinstance(schema, dict):
        return found
    if schema.get("secret") and isinstance(value, str) and len(value) >= 4:
        found.append(value)
    for branch in schema.get("oneOf") or []:
        found += _plain_secrets(value, branch)
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                found += _plain_secrets(value[key], sub)
    return found


def encrypt(url: str, config: dict[str, t.Any], schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """The encryption service's answer for `config`; raises `ConfigUpdateError`."""
    body = {"config": sort_keys(config), "schema": schema}
    try:
        response = requests.post(
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            timeout=_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ConfigUpdateError(f"the config encryption service {url} is unreachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ConfigUpdateError(f"the config encryption service {url} answered HTTP {response.status_code}")
    try:
        encrypted = response.json()
    except ValueError:
        encrypted = None
    if not isinstance(encrypted, dict) or "sops" not in encrypted:
        raise ConfigUpdateError(f"the config encryption service {url} did not answer an encrypted config")
    text = response.text
    if any(secret in text for secret in _plain_secrets(config, schema)):
        # Estuary's own encrypt-config function refuses such an answer too: a secret would reach the logs.
        raise ConfigUpdateError(f"the config encryption service {url} left a secret unencrypted")
    return encrypted


class TokenRelay(threading.Thread):
    """The adapter's end of the hand-back channel: each rotated pair → encrypted config → `configUpdate`."""

    def __init__(self, sock: socket.socket, flow_config: dict[str, t.Any], schema: dict[str, t.Any], log: Log):
        super().__init__(name="oauth-handback", daemon=True)
        self._sock = sock
        self._reader = sock.makefile("rb")
        self.config = flow_config  # the config Flow holds, as this session's updates leave it
        self._schema = schema
        self._log = log
        self._url = encryption_url(flow_config)
        self.updates = 0

    def run(self) -> None:
        for line in self._reader:
            try:
                answer = self._handle(line)
            except ConfigUpdateError as exc:
                answer = {"error": str(exc)}
            try:
                self._sock.sendall(json.dumps(answer).encode() + b"\n")
            except OSError:
                return  # the tap is gone; it used nothing it was not told to

    def _handle(self, line: bytes) -> dict[str, t.Any]:
        try:
            pair = json.loads(line)
        except ValueError:
            raise ConfigUpdateError("the tap sent a hand-back line that is not JSON") from None
        if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in _ROTATED[:2]):
            raise ConfigUpdateError("the tap sent a hand-back line without access_token and refresh_token")
        # Before anything else, so that no later line (ours or the tap's) can carry them.
        self._log.add_secrets([pair["access_token"], pair["refresh_token"]])
        config = rotated(self.config, pair)
        encrypted = encrypt(self._url, config, self._schema)
        self._log.write("info", CONFIG_UPDATE_MESSAGE, {"eventType": "configUpdate", "config": encrypted})
        self.config = config
        self.updates += 1
        return {"ok": True}

    def close(self) -> None:
        """After the tap exited: the thread ends at end of input."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self.join(timeout=_TIMEOUT + 10)
        self._reader.close()
        self._sock.close()
