"""Flow's capture protocol over JSON lines: requests on stdin, responses on stdout, JSON logs on stderr.

The runtime starts the connector once per RPC and always sends an internal `spec` first, then the real
request on the same stdin (flow-capture-protocol.md §0). Unary requests (spec, discover, validate, apply)
get one response each, and the process exits 0 at end of input. `open` starts a capture session that
never reads stdin again (acknowledgements are not requested). A failure is logged as one error line, the
last line on stderr, and the exit code is 1.

Only fields the runtime knows are written: it rejects unknown response fields, while requests may carry
fields newer than this code, which are ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
import typing as t

from tap_gitlab.errors import UserError

REQUEST_TYPES = ("spec", "discover", "validate", "apply", "open", "acknowledge")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING}


class ProtocolError(UserError):
    """A request the adapter cannot serve (not JSON, an unknown request type, a malformed field)."""


# -- output -------------------------------------------------------------------------------------------------


class Output:
    """Protocol messages on stdout, one JSON object per line, buffered until `flush`."""

    def __init__(self, stream: t.BinaryIO) -> None:
        self._stream = stream

    def send(self, message: dict[str, t.Any]) -> None:
        self._stream.write(encode(message) + b"\n")

    def send_line(self, line: bytes) -> None:
        """Write one already encoded message (no trailing newline)."""
        self._stream.write(line + b"\n")

    def flush(self) -> None:
        self._stream.flush()


def encode(value: t.Any) -> bytes:
    """Compact JSON, ASCII-only (so a lone surrogate in GitLab data cannot make invalid UTF-8)."""
    return json.dumps(value, separators=(",", ":")).encode()


# -- logs ---------------------------------------------------------------------------------------------------


class Log:
    """JSON log lines on stderr (`{"ts","level","msg","fields"}`, which Flow's runtime parses), scrubbed."""

    def __init__(self, stream: t.TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        level = os.environ.get("LOG_LEVEL", "info").strip().lower()
        self.threshold = _LEVELS.get(level, logging.INFO)

    def add_secrets(self, secrets: t.Iterable[str]) -> None:
        for secret in secrets:
            if secret and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)  # replace the longest first: one may contain another

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def enabled(self, level: str) -> bool:
        return _LEVELS.get(level, logging.ERROR) >= self.threshold

    def write(self, level: str, msg: str, fields: dict[str, t.Any] | None = None) -> None:
        if not self.enabled(level):
            return
        entry: dict[str, t.Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "msg": self.scrub(msg),
        }
        if fields:
            entry["fields"] = json.loads(self.scrub(json.dumps(fields, default=str)))
        line = json.dumps(entry, default=str)
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def debug(self, msg: str, **fields: t.Any) -> None:
        self.write("debug", msg, fields)

    def info(self, msg: str, **fields: t.Any) -> None:
        self.write("info", msg, fields)

    def warn(self, msg: str, **fields: t.Any) -> None:
        self.write("warn", msg, fields)

    def error(self, msg: str, **fields: t.Any) -> None:
        self.write("error", msg, fields)


class LogHandler(logging.Handler):
    """Routes Python logging (singer-sdk and the tap, when they run in-process) into `Log`."""

    def __init__(self, log: Log) -> None:
        super().__init__()
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.levelno >= logging.ERROR:
                level = "error"
            elif record.levelno >= logging.WARNING:
                level = "warn"
            elif record.levelno >= logging.INFO:
                level = "info"
            else:
                level = "debug"
            message = record.getMessage()
            if level == "info" and message.startswith("Skipping parse of env var settings"):
                level = "debug"  # singer-sdk's routine line on every in-process discovery
            self._log.write(level, message, {"logger": record.name})
        except Exception:  # a log line must never break the protocol
            self.handleError(record)


LOG = Log()


# -- requests -----------------------------------------------------------------------------------------------


def parse_request(line: bytes) -> tuple[str, dict[str, t.Any]]:
    """One request line → (its type, its body). Unknown fields are left for the handlers to ignore."""
    try:
        request = json.loads(line)
    except ValueError:
        raise ProtocolError("a request on stdin is not JSON") from None
    if not isinstance(request, dict):
        raise ProtocolError("a request on stdin is not a JSON object")
    for kind in REQUEST_TYPES:
        if kind in request:
            body = request[kind]
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise ProtocolError(f"the {kind} request is not a JSON object")
            return kind, body
    raise ProtocolError(f"unsupported request with fields {', '.join(sorted(request)) or '(none)'}")
