"""The capture session: `open` → `opened`, then the tap as a subprocess, translated message by message.

- The tap runs as `python -m tap_gitlab --config … --catalog … --state …` with temporary files (mode 0600,
  in a private directory): its stdout carries only Singer messages, isolated from the protocol's stdout.
- The catalog selects the bound streams; `syncMode` sets each stream's replication method.
- Flow state is `{"bindingStateV1": {stateKey: {"bookmark": <the stream's Singer state>}}}`: keyed by the
  runtime's stateKey, so a backfill (a new stateKey) starts that binding from scratch and leaves the others.
  The stream state's `partitions` list is stored as an object keyed by each partition's context, so that a
  checkpoint is a small RFC 7396 merge patch (`mergePatch: true`) holding only what changed.
- RECORD → `captured`; STATE → `checkpoint`; after the last record, a final checkpoint. The tap's stderr
  becomes JSON log lines. A failed tap ends the session with its error line as the last stderr line.
- OAuth: the tap hands each rotated token pair back over an inherited socket and waits while the adapter
  emits Flow's `configUpdate` event with the encrypted config (config_update.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import types
import typing as t
from collections import Counter

from tap_gitlab.auth import HANDBACK_FD_ENV
from tap_gitlab.bookmarks import keyed_partitions, listed_partitions
from tap_gitlab.flow import config_update
from tap_gitlab.flow.discovery import FULL_REFRESH, INCREMENTAL, BoundStream, check_bindings, tap_catalog
from tap_gitlab.flow.protocol import LOG, Log, Output, ProtocolError, encode
from tap_gitlab.flow.spec import config_schema, tap_config

STATE_ROOT = "bindingStateV1"
KEYS = "keys"  # a full-refresh binding's captured document keys (deletions)
_UNCHANGED = object()


# -- state --------------------------------------------------------------------------------------------------


def apply_merge_patch(target: t.Any, patch: t.Any) -> t.Any:
    """RFC 7396: `patch` applied to `target` (neither is modified)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def merge_patch_between(old: t.Any, new: t.Any) -> t.Any:
    """The smallest RFC 7396 patch that turns `old` into `new`; `_UNCHANGED` when they are equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        patch: dict[str, t.Any] = {}
        for key, value in new.items():
            if key not in old:
                if value is not None:
                    patch[key] = value
                continue
            sub = merge_patch_between(old[key], value)
            if sub is not _UNCHANGED:
                patch[key] = sub
        for key in old:
            if key not in new:
                patch[key] = None
        return patch if patch else _UNCHANGED
    if old == new:
        return _UNCHANGED
    return new


def stored_from_singer(stream_state: t.Any) -> dict[str, t.Any]:
    """A stream's Singer state → the binding state Flow keeps."""
    if not isinstance(stream_state, dict):
        return {}
    return {"bookmark": keyed_partitions(stream_state)}


def singer_from_stored(stored: t.Any) -> dict[str, t.Any] | None:
    """The binding state Flow kept → the stream's Singer state (None when there is none)."""
    if not isinstance(stored, dict) or not isinstance(stored.get("bookmark"), dict):
        return None
    return listed_partitions(stored["bookmark"])


# -- the tap's stderr ---------------------------------------------------------------------------------------

# singer-sdk's console format: "2024-01-31 12:00:00,123 | INFO     | tap-gitlab      | message"
_SDK_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+\s*\|\s*(\w+)\s*\|\s*(\S+)\s*\|\s?(.*)$")
_SDK_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error", "CRITICAL": "error"}
ERROR_PREFIX = "tap-gitlab: error:"
# singer-sdk's routine lines that say nothing to someone reading a capture's logs.
_QUIET = ("Skipping deselected stream", "Skipping parse of env var settings")


class StderrRelay(threading.Thread):
    """Re-encodes the tap's stderr as JSON log lines; remembers its error line."""

    def __init__(self, stream: t.IO[bytes], log: Log) -> None:
        super().__init__(name="tap-stderr", daemon=True)
        self._stream = stream
        self._log = log
        self.error_line: str | None = None  # the tap's one-line user error
        self.last_line: str | None = None

    def run(self) -> None:
        level = "info"
        for raw in self._stream:
            text = raw.decode("utf-8", "replace").rstrip()
            if not text.strip():
                continue
            fields: dict[str, t.Any] = {}
            match = _SDK_LINE.match(text)
            if match:
                level = _SDK_LEVELS.get(match.group(1).upper(), "info")
                logger, msg = match.group(2), match.group(3)
                if logger == "singer_sdk.metrics" or msg.startswith(_QUIET):
                    level = "debug"
                fields["logger"] = logger
            else:
                msg = text
                if text.startswith(ERROR_PREFIX):
                    level = "error"
                    self.error_line = text
                elif text.startswith("Traceback (most recent call last)"):
                    level = "error"
                # else: a continuation of the previous message keeps its level
            self.last_line = msg
            self._log.write(level, msg, fields)


# -- records ------------------------------------------------------------------------------------------------

# singer-sdk writes RECORD messages compactly (simplejson, ASCII, separators ",:") as
# {"type":"RECORD","stream":"<name>","record":{…}[,"version":<int>][,"time_extracted":"<instant>"]}.
# The record's JSON text is copied into `captured` as it is: no parse and re-encode per record (the bulk of
# the adapter's work otherwise), and decimals keep their exact digits. Any other shape takes the slow path.
_RECORD_HEAD = b'{"type":"RECORD","stream":"'
_RECORD_MID = b'","record":'
_TIME_EXTRACTED = b',"time_extracted":"'
_VERSION = b',"version":'


def split_record(line: bytes) -> tuple[str, bytes] | None:
    """(stream, the record's JSON text) of a RECORD line in singer-sdk's layout; None for anything else."""
    if not line.startswith(_RECORD_HEAD):
        return None
    end_of_name = line.find(b'"', len(_RECORD_HEAD))
    if end_of_name < 0 or not line.startswith(_RECORD_MID, end_of_name):
        return None
    name = line[len(_RECORD_HEAD) : end_of_name]
    if b"\\" in name:
        return None
    body = line[end_of_name + len(_RECORD_MID) :].rstrip()
    if not body.endswith(b"}"):
        return None
    body = body[:-1]  # the message's closing brace
    if body.endswith(b'"'):  # a time_extracted value (the record object itself ends with a brace)
        cut = body.rfind(_TIME_EXTRACTED)
        if cut < 0:
            return None
        body = body[:cut]
    if body[-1:].isdigit():  # a version number
        cut = body.rfind(_VERSION)
        if cut < 0:
            return None
        body = body[:cut]
    if not (body.startswith(b"{") and body.endswith(b"}")):
        return None
    return name.decode("ascii", "replace"), body


# -- the session --------------------------------------------------------------------------------------------


class Session:
    """Translates one run of the tap into captured documents and checkpoints.

    Deletions (full-refresh bindings): the binding state keeps the key of every document the binding has
    captured (`keys`, an object of JSON-encoded key tuples, so that a checkpoint's merge patch adds and removes
    single keys). Keys are added at each checkpoint, with the documents they commit. When the tap ends a
    stream with ACTIVATE_VERSION (it sends one only when it read every partition in full: no partition
    skipped, no bookmark), every kept key this sweep did not capture gets a deletion document,
    `{<key fields>, "_meta": {"op": "d"}}`, as Estuary's snapshot bindings emit (estuary-cdk
    `capture/common.py`, `_binding_snapshot_task`), and leaves the state in the same checkpoint.
    """

    def __init__(self, out: Output, bound: list[BoundStream], state_keys: list[str], prior: dict[str, t.Any]):
        self.out = out
        self.binding_of = {b.stream: b.index for b in bound}
        self.state_key_of = {b.stream: state_keys[b.index] for b in bound}
        # The binding states the runtime holds, as this session's checkpoints leave them (without `keys`,
        # kept apart below so that diffing a STATE's bookmarks never walks them).
        self.known: dict[str, t.Any] = {}
        for key in self.state_key_of.values():
            value = prior.get(key)
            self.known[key] = {k: v for k, v in value.items() if k != KEYS} if isinstance(value, dict) else value
        self.missing = {key for key, value in self.known.items() if value is None}  # new stateKeys
        self.counts: Counter[str] = Counter()
        self.deleted: Counter[str] = Counter()
        self.checkpoints = 0
        self.pending = False  # captured documents not yet followed by a checkpoint
        self.skipped: set[str] = set()
        # Full-refresh bindings: their key fields, the keys the runtime holds, the keys this sweep captured,
        # and those of them not yet in a checkpoint.
        self.key_fields = {b.stream: b.info.key_properties for b in bound if b.sync_mode == FULL_REFRESH}
        self.stored_keys: dict[str, set[str]] = {}
        for stream in self.key_fields:
            value = prior.get(self.state_key_of[stream])
            kept = value.get(KEYS) if isinstance(value, dict) else None
            self.stored_keys[stream] = set(kept) if isinstance(kept, dict) else set()
        self.seen_keys: dict[str, set[str]] = {stream: set() for stream in self.key_fields}
        self.unsaved_keys: dict[str, set[str]] = {stream: set() for stream in self.key_fields}

    def record(self, stream: t.Any, doc: bytes | None) -> None:
        """One captured document; `doc` is the record's JSON text (an object)."""
        index = self.binding_of.get(stream) if isinstance(stream, str) else None
        if index is None or doc is None:
            if str(stream) not in self.skipped:
                self.skipped.add(str(stream))
                LOG.warn(f"ignoring records of stream {stream!r}, which no binding captures")
            return
        self.out.send_line(b'{"captured":{"binding":%d,"doc":%s}}' % (index, doc))
        self.counts[stream] += 1
        self.pending = True
        fields = self.key_fields.get(stream)
        if fields:
            key = _document_key(doc, fields)
            if key is not None:
                self.seen_keys[stream].add(key)
                if key not in self.stored_keys[stream]:
                    self.unsaved_keys[stream].add(key)

    def activate_version(self, stream: t.Any) -> None:
        """The tap read `stream` in full: delete the documents of earlier sweeps that this one did not capture."""
        fields = self.key_fields.get(stream) if isinstance(stream, str) else None
        if not fields:
            return  # an incremental binding (or none): nothing is known to be gone
        assert isinstance(stream, str)
        index = self.binding_of[stream]
        seen = self.seen_keys[stream]
        gone = sorted(self.stored_keys[stream] - seen)
        for key in gone:
            tombstone = dict(zip(fields, json.loads(key), strict=True))
            tombstone["_meta"] = {"op": "d"}
            self.out.send_line(b'{"captured":{"binding":%d,"doc":%s}}' % (index, encode(tombstone)))
        if gone:
            self.deleted[stream] += len(gone)
        patch: dict[str, int | None] = dict.fromkeys(gone)
        patch.update({key: 1 for key in self.unsaved_keys[stream]})
        self.stored_keys[stream] = set(seen)
        self.unsaved_keys[stream] = set()
        self.seen_keys[stream] = set()  # a second ACTIVATE_VERSION of the stream deletes nothing more
        if gone:
            LOG.info(f"capture: {stream}: {len(gone)} documents GitLab no longer lists, deleted")
        if patch:
            self.checkpoint({self.state_key_of[stream]: {KEYS: patch}})

    def state(self, value: t.Any) -> None:
        bookmarks = value.get("bookmarks") if isinstance(value, dict) else None
        if not isinstance(bookmarks, dict):
            LOG.warn("ignoring a STATE message without bookmarks")
            return
        updated: dict[str, t.Any] = {}
        for stream, state_key in self.state_key_of.items():
            if stream not in bookmarks:
                continue
            new = stored_from_singer(bookmarks[stream])
            old = self.known.get(state_key)
            if state_key in self.missing:
                patch: t.Any = new
                self.missing.discard(state_key)
            else:
                patch = merge_patch_between(old if isinstance(old, dict) else {}, new)
                if patch is _UNCHANGED:
                    continue
            updated[state_key] = patch
            self.known[state_key] = apply_merge_patch(old, patch)
        self.checkpoint(updated)

    def checkpoint(self, updated: dict[str, t.Any]) -> None:
        """One checkpoint, then everything out: the runtime may commit the transaction."""
        for state_key in sorted(self.missing):  # a stateKey the runtime has not seen yet gets an entry
            updated[state_key] = self.known[state_key] = {}
        self.missing.clear()
        for stream, unsaved in self.unsaved_keys.items():
            if unsaved:  # the keys of the documents this checkpoint commits
                state_key = self.state_key_of[stream]
                entry = dict(updated.get(state_key) or {})
                entry[KEYS] = {**(entry.get(KEYS) or {}), **dict.fromkeys(unsaved, 1)}
                updated[state_key] = entry
                self.stored_keys[stream] |= unsaved
                self.unsaved_keys[stream] = set()
        self.out.send({"checkpoint": {"state": {"updated": {STATE_ROOT: updated}, "mergePatch": True}}})
        self.out.flush()
        self.checkpoints += 1
        self.pending = False


def _document_key(doc: bytes, fields: t.Sequence[str]) -> str | None:
    """A document's key as compact JSON text (`[42,"main"]`); None when a key field is missing."""
    try:
        record = json.loads(doc)
        return json.dumps([record[field] for field in fields], separators=(",", ":"), sort_keys=True)
    except (ValueError, KeyError, TypeError):
        return None


def _singer_state(bound: list[BoundStream], state_keys: list[str], prior: dict[str, t.Any]) -> dict[str, t.Any]:
    """The tap's input state: the bookmarks of incremental bindings, found under their stateKeys."""
    bookmarks: dict[str, t.Any] = {}
    for b in bound:
        if b.sync_mode != INCREMENTAL:
            continue  # full refresh reads everything; its bookmarks are kept but not used
        stream_state = singer_from_stored(prior.get(state_keys[b.index]))
        if stream_state:
            bookmarks[b.stream] = stream_state
    return {"bookmarks": bookmarks}


def _singer_catalog(bound: list[BoundStream], streams: dict[str, t.Any]) -> dict[str, t.Any]:
    """The discovered catalog with exactly the bound streams selected, each with its replication method."""
    modes = {b.stream: b.sync_mode for b in bound}
    entries = []
    for name, info in streams.items():
        entry = json.loads(json.dumps(info.entry))
        selected = name in modes
        method = "INCREMENTAL" if modes.get(name) == INCREMENTAL else "FULL_TABLE"
        if selected:
            entry["replication_method"] = method
        for meta in entry.get("metadata") or []:
            if list(meta.get("breadcrumb") or []) == []:
                meta.setdefault("metadata", {})["selected"] = selected
                if selected:
                    meta["metadata"]["forced-replication-method"] = method
        entries.append(entry)
    return {"streams": entries}


def _state_keys(bindings: list[t.Any]) -> list[str]:
    keys = []
    for index, binding in enumerate(bindings):
        key = binding.get("stateKey") if isinstance(binding, dict) else None
        if not key:
            # Older runtimes: the resource path, as the runtime would encode it without a backfill counter.
            path = binding.get("resourcePath") if isinstance(binding, dict) else None
            key = "/".join(str(p) for p in path) if path else None
        if not key:
            resource = binding.get("resourceConfig") or {} if isinstance(binding, dict) else {}
            key = resource.get("stream")
        if not isinstance(key, str) or not key:
            raise ProtocolError(f"open: binding {index} has no stateKey")
        keys.append(key)
    if len(set(keys)) != len(keys):
        raise ProtocolError("open: two bindings share a stateKey")
    return keys


def tap_command(config_path: str, catalog_path: str, state_path: str) -> list[str]:
    """The tap, run by this interpreter (the same virtualenv)."""
    return [
        sys.executable,
        "-m",
        "tap_gitlab",
        "--config",
        config_path,
        "--catalog",
        catalog_path,
        "--state",
        state_path,
    ]


def _tap_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)  # the tap flushes each STATE (and the records before it); let the pipe buffer
    env["PYTHONUTF8"] = "1"
    if LOG.enabled("debug") and "TAP_GITLAB_LOGLEVEL" not in env:
        env["TAP_GITLAB_LOGLEVEL"] = "DEBUG"
    return env


def run(open_request: dict[str, t.Any], out: Output) -> int:
    """Serve an `open`: runs the tap to the end of one sweep. Returns the exit code."""
    capture = open_request.get("capture")
    if not isinstance(capture, dict):
        raise ProtocolError("open: the request has no capture")
    bindings = capture.get("bindings") or []
    flow_config = capture.get("config")
    settings = tap_config(flow_config)
    streams = tap_catalog(settings)
    bound = check_bindings(streams, bindings)
    state_keys = _state_keys(bindings)
    state = open_request.get("state")
    prior = state.get(STATE_ROOT) if isinstance(state, dict) else None
    prior = prior if isinstance(prior, dict) else {}

    out.send({"opened": {"explicitAcknowledgements": False}})
    out.flush()
    session = Session(out, bound, state_keys, prior)
    LOG.info(
        f"capture: {len(bound)} bindings, {sum(1 for b in bound if state_keys[b.index] in prior)} with state",
        streams=[b.stream for b in bound],
    )
    with tempfile.TemporaryDirectory(prefix="flow-source-gitlab-") as workdir:
        paths = {}
        for name, body in (
            ("config", settings),
            ("catalog", _singer_catalog(bound, streams)),
            ("state", _singer_state(bound, state_keys, prior)),
        ):
            path = os.path.join(workdir, f"{name}.json")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(body, handle)
            paths[name] = path
        command = tap_command(paths["config"], paths["catalog"], paths["state"])
        if not config_update.uses_oauth(flow_config):
            return _run_tap(session, command)
        assert isinstance(flow_config, dict)
        ours, theirs = socket.socketpair()
        relay = config_update.TokenRelay(ours, flow_config, config_schema(), LOG)
        relay.start()
        try:
            return _run_tap(session, command, handback=theirs)
        finally:  # nothing logged here: a failed session's error must stay the last line
            theirs.close()
            relay.close()


def _run_tap(session: Session, command: list[str], handback: socket.socket | None = None) -> int:
    proc = _start_tap(command, handback)
    assert proc.stdout is not None and proc.stderr is not None
    relay = StderrRelay(proc.stderr, LOG)
    relay.start()
    stopped: list[int] = []

    def stop(signum: int, frame: types.FrameType | None) -> None:
        stopped.append(signum)
        proc.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for line in proc.stdout:
            _translate(session, line)
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        relay.join(timeout=10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return _finish(session, code, stopped, relay)


def _start_tap(command: list[str], handback: socket.socket | None) -> subprocess.Popen[bytes]:
    """The tap as a subprocess (stdout: Singer messages; stderr: its logs), holding `handback` if given."""
    env = _tap_env()
    env.pop(HANDBACK_FD_ENV, None)
    if handback is not None:
        env[HANDBACK_FD_ENV] = str(handback.fileno())
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=1 << 16,
        pass_fds=(handback.fileno(),) if handback is not None else (),
    )
    if handback is not None:
        handback.close()  # the tap holds its end now: when it exits, the relay sees end of input
    return proc


def _translate(session: Session, line: bytes) -> None:
    """One line of the tap's stdout into the session: a record, a checkpoint, a deletion sweep, or nothing."""
    fast = split_record(line)
    if fast is not None:
        session.record(*fast)
        return
    if not line.strip():
        return
    try:
        message = json.loads(line)
    except ValueError:
        LOG.warn("the tap wrote a line that is not a Singer message", line=line[:200].decode("utf-8", "replace"))
        return
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "RECORD":
        record = message.get("record")
        session.record(message.get("stream"), encode(record) if isinstance(record, dict) else None)
    elif kind == "STATE":
        session.state(message.get("value"))
    elif kind == "ACTIVATE_VERSION":
        session.activate_version(message.get("stream"))
    elif kind != "SCHEMA":
        LOG.debug(f"ignoring a Singer {kind} message")


def _finish(session: Session, code: int, stopped: list[int], relay: StderrRelay) -> int:
    """The session's last checkpoint and summary line (0), or its error line (1)."""
    if code == 0 and not stopped:
        if session.pending or session.checkpoints == 0:
            session.checkpoint({})
        LOG.info(
            f"capture: done: {sum(session.counts.values())} documents, {sum(session.deleted.values())} deletions, "
            f"{session.checkpoints} checkpoints",
            documents=dict(session.counts),
            deletions=dict(session.deleted),
        )
        return 0
    if stopped:
        message = f"capture stopped by signal {stopped[0]}"
    else:
        message = relay.error_line or relay.last_line or f"tap-gitlab exited with code {code} and no message"
    LOG.info(f"capture: failed after {sum(session.counts.values())} documents", documents=dict(session.counts))
    LOG.error(message)
    return 1
