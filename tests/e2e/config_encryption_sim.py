"""A stand-in for Estuary's config-encryption service on 127.0.0.1, and the runtime's decryption.

The real service (estuary/config-encryption, src/encrypt/mod.rs and README.md) takes
`POST /v1/encrypt-config` with `{"schema": <JSON schema>, "config": <document>}`, validates the config
against the schema (a failure answers 400 with the validation outcome), collects the locations the
validation annotates `secret: true` (so only the oneOf branch that matched), renames each such property
`<name>_sops`, runs `sops --encrypt --encrypted-suffix _sops` and answers the sops JSON document: the
secrets as `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]` and a top-level `sops` stanza (key ids,
`lastmodified`, `mac`, `encrypted_suffix`, `version`).

The stand-in does the same with no real cryptography: each ENC value is random and maps to its plaintext in
the stand-in's memory, so `decrypt` can play the runtime, which hands a connector the decrypted config. It
also checks what estuary-cdk's `_encrypt_config` sends: JSON with exactly `config` and `schema`, and the
config's keys sorted at every level. Every secret it sees is registered with the suite's secrets guard.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema

from tests.support import secrets_guard

PATH = "/v1/encrypt-config"
SUFFIX = "_sops"


def _b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def _unsorted(value: t.Any, where: str = "") -> list[str]:
    """Object paths whose keys are not in lexicographic order."""
    found: list[str] = []
    if isinstance(value, dict):
        if list(value) != sorted(value):
            found.append(where or "/")
        for key, sub in value.items():
            found += _unsorted(sub, f"{where}/{key}")
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _unsorted(sub, f"{where}/{index}")
    return found


class ConfigEncryptionStandIn:
    """`with ConfigEncryptionStandIn() as service:` … `service.url` … `service.decrypt(doc)`."""

    def __init__(self) -> None:
        self._vault: dict[str, str] = {}
        self._lock = threading.Lock()
        self.requests: list[dict[str, t.Any]] = []  # every well-formed request body, in order
        self.problems: list[str] = []  # request-shape violations (each also answered 400)
        self.plaintexts: set[str] = set()  # every secret value it encrypted
        self.fail_status: int | None = None  # answer this status instead, as an outage would
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: t.Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = stand_in._answer(self.path, self.headers.get("Content-Type") or "", body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"

    def __enter__(self) -> ConfigEncryptionStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the service ------------------------------------------------------------------------------------------

    def _reject(self, problem: str) -> tuple[int, dict[str, t.Any]]:
        self.problems.append(problem)
        return 400, {"error": problem}

    def _answer(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, t.Any]]:
        if path != PATH:
            return 404, {"error": "not found"}
        if not content_type.startswith("application/json"):
            return self._reject(f"Content-Type is {content_type!r}, not application/json")
        try:
            request = json.loads(body)
        except ValueError:
            return self._reject("the body is not JSON")
        if not isinstance(request, dict) or set(request) != {"config", "schema"}:
            return self._reject("the body must be an object with exactly `config` and `schema`")
        config, schema = request["config"], request["schema"]
        if not isinstance(config, dict) or not isinstance(schema, dict):
            return self._reject("`config` and `schema` must be objects")
        unsorted = _unsorted(config)
        if unsorted:
            return self._reject(f"config keys are not sorted at {unsorted[0]} (sops' MAC depends on the order)")
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config), key=str)
        if errors:
            return 400, {"error": "config failed validation", "basic_output": [e.message for e in errors[:5]]}
        if self.fail_status is not None:
            return self.fail_status, {"error": "the stand-in is down"}
        with self._lock:
            self.requests.append(request)
            encrypted = self._encrypt(config, schema)
        encrypted["sops"] = {
            "gcp_kms": [
                {
                    "resource_id": "projects/stand-in/locations/global/keyRings/flow/cryptoKeys/config",
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "enc": _b64(48),
                }
            ],
            "lastmodified": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "mac": f"ENC[AES256_GCM,data:{_b64(32)},iv:{_b64(32)},tag:{_b64(16)},type:str]",
            "encrypted_suffix": SUFFIX,
            "version": "3.7.3",
        }
        return 200, encrypted

    def _encrypt(self, value: t.Any, schema: t.Any) -> t.Any:
        """`value` with every property the schema (its matching oneOf branch) marks secret encrypted."""
        if not isinstance(value, dict) or not isinstance(schema, dict):
            return value
        for branch in schema.get("oneOf") or []:
            if jsonschema.Draft7Validator(branch).is_valid(value):
                return self._encrypt(value, branch)
        properties = schema.get("properties") or {}
        out: dict[str, t.Any] = {}
        for key, sub in value.items():
            sub_schema = properties.get(key) or {}
            if isinstance(sub_schema, dict) and sub_schema.get("secret") and isinstance(sub, str):
                token = f"ENC[AES256_GCM,data:{_b64(max(1, len(sub)))},iv:{_b64(32)},tag:{_b64(16)},type:str]"
                self._vault[token] = sub
                self.plaintexts.add(sub)
                secrets_guard.register_secret(sub)
                out[key + SUFFIX] = token
            else:
                out[key] = self._encrypt(sub, sub_schema)
        return out

    # -- the runtime ------------------------------------------------------------------------------------------

    def decrypt(self, document: dict[str, t.Any]) -> dict[str, t.Any]:
        """What the runtime hands the next session: the config with the secrets decrypted, no sops stanza."""

        def walk(value: t.Any) -> t.Any:
            if not isinstance(value, dict):
                return value
            out: dict[str, t.Any] = {}
            for key, sub in value.items():
                if key.endswith(SUFFIX) and isinstance(sub, str):
                    out[key[: -len(SUFFIX)]] = self._vault[sub]
                else:
                    out[key] = walk(sub)
            return out

        assert "sops" in document, "not a sops document"
        return walk({k: v for k, v in document.items() if k != "sops"})
