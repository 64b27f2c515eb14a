"""Drive `flow-source-gitlab` the way Flow's runtime does, and check what it writes.

- Every process gets the runtime's internal `spec` first, then the real request.
- Unary requests: stdin is closed after the request. A capture (`open`): stdin stays open until the
  connector exits, and nothing more is sent (no acknowledgements are requested).
- Between captures the state is reduced with RFC 7396 merge patches (or replaced when `mergePatch` is false).
- Every response is checked against estuary-cdk's pydantic models, with no field the models do not know.
- Every run's stdout and stderr (the Flow log) go to the suite's secrets guard with the request config's
  secrets. Tokens a session rotates are not in any request: the config-encryption stand-in
  (tests/e2e/config_encryption_sim.py) registers every secret it encrypts, and OAuth tests register every token
  the simulator issued.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import typing as t
from dataclasses import dataclass, field

from estuary_cdk.capture.task import Response
from pydantic import BaseModel, ConfigDict, Field

from tap_gitlab.flow.spec import secrets_of
from tests.support import secrets_guard

INTERNAL_SPEC = {"spec": {"connectorType": "IMAGE", "config": {}}}


class GitLabResource(BaseModel):
    """The resource config this connector declares, strictly."""

    model_config = ConfigDict(extra="forbid")
    stream: str
    syncMode: t.Literal["incremental", "full_refresh"]
    meta_: dict[str, t.Any] | None = Field(default=None, alias="_meta")


class AnyState(BaseModel):
    model_config = ConfigDict(extra="allow")


FlowResponse = Response[dict[str, t.Any], GitLabResource, AnyState]


def check_response(message: dict[str, t.Any]) -> None:
    """`message` is a valid capture response with no unknown field (the runtime rejects those)."""
    parsed = FlowResponse.model_validate(message)
    again = json.loads(parsed.model_dump_json(by_alias=True, exclude_unset=True))
    assert again == message, f"response has fields estuary-cdk does not know: {json.dumps(message)[:500]}"
    assert len([k for k in message if message[k] is not None]) == 1, message


def merge_patch(target: t.Any, patch: t.Any) -> t.Any:
    """RFC 7396, written independently of the adapter's."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class Run:
    """One connector process."""

    returncode: int
    responses: list[dict[str, t.Any]]
    stdout: str
    stderr: str
    logs: list[dict[str, t.Any]] = field(default_factory=list)

    @property
    def last_stderr_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    @property
    def error(self) -> str:
        """The message Flow would show: the last log line's msg."""
        line = self.last_stderr_line
        try:
            return str(json.loads(line)["msg"])
        except (ValueError, KeyError):
            return line

    def of(self, kind: str) -> list[t.Any]:
        return [r[kind] for r in self.responses if kind in r]

    def captured(self) -> dict[int, list[dict[str, t.Any]]]:
        docs: dict[int, list[dict[str, t.Any]]] = {}
        for c in self.of("captured"):
            docs.setdefault(c["binding"], []).append(c["doc"])
        return docs


def _guard(request: dict[str, t.Any] | None, stdout: str, stderr: str) -> None:
    """Hand the run to the suite-wide secrets guard: the request's secrets must not be in its output."""
    body = next(iter((request or {}).values()), {}) if request else {}
    config = body.get("config") or (body.get("capture") or {}).get("config") if isinstance(body, dict) else None
    for secret in secrets_of(config):
        secrets_guard.register_secret(secret)
    secrets_guard.register_output("flow-source-gitlab stdout", stdout)
    secrets_guard.register_output("flow-source-gitlab stderr", stderr)


def run_connector(
    request: dict[str, t.Any] | None,
    *,
    command: t.Sequence[str] = (sys.executable, "-m", "tap_gitlab.flow"),
    internal_spec: bool = True,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> Run:
    """Send [spec,] request to a fresh connector process like the runtime, and collect its output."""
    lines = ([INTERNAL_SPEC] if internal_spec else []) + ([request] if request else [])
    session = bool(request and "open" in request)
    proc = subprocess.Popen(
        list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdin and proc.stdout and proc.stderr
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: t.IO[bytes]) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("out", proc.stdout)),
        threading.Thread(target=drain, args=("err", proc.stderr)),
    ]
    for reader in readers:
        reader.start()
    proc.stdin.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    proc.stdin.flush()
    if not session:
        proc.stdin.close()  # unary RPC: EOF after the request
    try:
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not proc.stdin.closed:
            proc.stdin.close()  # a session's stdin stays open until the connector is done
        for reader in readers:
            reader.join()
    stdout = chunks.get("out", b"").decode()
    stderr = chunks.get("err", b"").decode()
    _guard(request, stdout, stderr)
    assert stdout == "" or stdout.endswith("\n"), "partial last line on stdout"
    responses = [json.loads(line) for line in stdout.splitlines()]
    for response in responses:
        check_response(response)
    logs = []
    for line in stderr.splitlines():
        if line.strip():
            entry = json.loads(line)  # every stderr line is a JSON log line
            assert {"level", "msg"} <= set(entry), entry
            logs.append(entry)
    if internal_spec and responses:
        assert "spec" in responses[0]
        responses = responses[1:]
    return Run(code, responses, stdout, stderr, logs)


def check_session(run: Run) -> None:
    """A capture session in the runtime's order: opened, then (captured* checkpoint)*, nothing after."""
    assert run.responses and "opened" in run.responses[0], run.responses[:1]
    assert run.responses[0]["opened"] == {"explicitAcknowledgements": False}
    pending = False
    for response in run.responses[1:]:
        assert set(response) <= {"captured", "checkpoint"}, response
        if "captured" in response:
            pending = True
        else:
            state = response["checkpoint"]["state"]
            assert state["mergePatch"] is True and isinstance(state["updated"], dict)
            pending = False
    if run.returncode == 0:
        assert not pending, "the connector exited between a captured document and its checkpoint"


def reduce_state(state: dict[str, t.Any], run: Run) -> dict[str, t.Any]:
    """The runtime's state after `run`'s checkpoints."""
    for checkpoint in run.of("checkpoint"):
        update = checkpoint["state"]
        state = merge_patch(state, update["updated"]) if update.get("mergePatch") else update["updated"]
    return state
