"""The tap's Singer output: its message writer and its STATE writer (issue 14).

singer-sdk's default writer (`singer_sdk.singerlib.encoding.SimpleSingerWriter`) serializes every message with
`singer_sdk.singerlib.json.serialize_json`, which builds a new simplejson encoder per call, and flushes stdout
after every line; its `StateWriter` compares each state with a deep copy of the last one, serializes it through
`dataclasses.asdict` (a second deep copy) and then deep-copies it again. On a full sync that was about a third
of the main thread's CPU. This module writes the same bytes with a fraction of that:

- `dumps` is the SDK's serialization (simplejson: `use_decimal`, `ignore_nan`, `separators=(",", ":")`, ASCII
  escapes, datetimes by `isoformat(sep="T")`, anything else by `str`) done by orjson wherever orjson's text is
  provably the same, and by one simplejson encoder with the SDK's options (`sdk_dumps`) everywhere else. What
  orjson writes otherwise, and how each case is caught (tests/unit/test_singer_output_fast.py pins them):

  - characters from U+007F up: orjson writes them as UTF-8, simplejson as `\\uXXXX` (lowercase hex, a
    surrogate pair above U+FFFF). Outside strings orjson writes only ASCII, so every such character is inside
    a string (`isascii()` and a search for DEL tell whether there is any), and Python's `backslashreplace`
    escapes them in C: `\\uXXXX` as simplejson's, `\\xXX` made `\\u00XX`, `\\UXXXXXXXX` a surrogate pair, DEL
    by a plain replace. orjson writes no `\\x` or `\\U` of its own: a backslash it writes is an escape's, so
    those two can only be an escaped backslash and a letter, which the replacements would take for an escape:
    such a message goes to simplejson. Lone surrogates: orjson refuses them. Every other ASCII character,
    escapes of control characters included, orjson writes as simplejson does;
  - floats: orjson's text is `repr(x)` for every float but 0 < |x| < 1e-4 (checked on millions of bit patterns
    and decimal-looking values): there orjson writes `0.0000…` for 1e-5 <= |x| < 1e-4 and `…e-N` below, where
    repr writes `…e-05`. Such a float shows in orjson's text as `0.0000` not after a digit, or as a digit,
    `e-`, a digit; either (inside a string too, harmlessly) sends the message to simplejson. NaN and
    infinities: `null`, as `ignore_nan`;
  - integers beyond 64 bits, dict keys that are not `str` (simplejson writes int, float, bool and None keys as
    strings), subclasses of `str`, `int`, `float`, `dict`, `list` and `tuple` (namedtuples are objects in
    simplejson), dataclasses, bytes, sets, Decimals that are not finite, nesting beyond orjson's depth: orjson
    refuses them (or is made to, by `_orjson_default`), and simplejson writes the message;
  - `datetime`, `date` and `time` (exactly those types) get the SDK's fallback text, and a finite `Decimal`
    its `str`, as simplejson writes them; `uuid.UUID` orjson writes as `str(uuid)`, as simplejson's fallback
    does; a tuple as an array, as simplejson does;
  - the one difference left: an `enum.Enum` member that is not also a `str`, `int` or `float` is its
    `.value` in orjson's text, `str(member)` in simplejson's, and nothing in orjson's text tells. Records and
    states are values decoded from JSON and conformed to a JSON schema (str, int, float, bool, None, lists,
    dicts, datetimes), which never hold one.

- lines go out as bytes, gathered into writes of up to 1 MiB on the binary layer of the process's stdout,
  instead of one `sys.stdout.write` per line through the text layer's 8 KiB buffer. SCHEMA, STATE and
  ACTIVATE_VERSION lines are flushed at once, with everything before them, so a STATE on stdout is complete,
  with every record before it, when the process is killed right after it (the records since the last STATE
  are what a resumed run reads again anyway). The rest is flushed at exit (`atexit`: after `sys.exit`, an
  uncaught exception, or the SDK's SIGTERM handler; only a kill loses the records since the last STATE).
  `sys.stdout` is looked up at every write: anything else put there (pytest's capture, a `StringIO`) is
  written one text line per message, in order, as before. The text layer is flushed before each binary
  write, so what went to it earlier comes out first; nothing else writes Singer stdout during a sync;
- a STATE is serialized once: it is skipped when its text is the last emitted one's, or when its parsed value
  equals the last emitted value (the SDK's `state != last` test, on JSON values), with no copy of the state.
  Texts of another length are other values (keys in another order keep the length, and the tap's states hold
  no numbers that change type), so only a text of the same length is parsed and compared.

`TAP_GITLAB_SDK_WRITER=1` (tests only: tests/integration/test_singer_output.py) makes the tap use singer-sdk's
own writers, to compare the two outputs byte for byte.
"""

from __future__ import annotations

import atexit
import datetime
import decimal
import json
import os
import re
import sys
import threading
import typing as t

import orjson
import simplejson
from singer_sdk.singerlib import Message, RecordMessage, StateMessage
from singer_sdk.singerlib.encoding import GenericSingerWriter, SimpleSingerWriter

from tap_gitlab import jsontext

# Test-only: use singer-sdk's own message and STATE writers (read here only).
SDK_WRITER_ENV = "TAP_GITLAB_SDK_WRITER"

# Bytes gathered before they are written to stdout's binary layer (a flushing message writes them sooner).
CHUNK_SIZE = 1 << 20


def _default(obj: t.Any) -> str:
    """singer-sdk's fallback for values JSON has no type for (`singer_sdk.singerlib.json`)."""
    return obj.isoformat(sep="T") if isinstance(obj, datetime.datetime) else str(obj)


# The options of `singer_sdk.singerlib.json.serialize_json`, built once.
_ENCODER = simplejson.JSONEncoder(use_decimal=True, default=_default, separators=(",", ":"), ignore_nan=True)


def sdk_dumps(obj: t.Any) -> bytes:
    """singer-sdk's serialization of `obj` (ASCII), by simplejson: what `dumps` must equal."""
    return _ENCODER.encode(obj).encode()


class _Refused(TypeError):
    """A value orjson would not write as simplejson does: the message goes to simplejson."""


# Types orjson writes itself unless told not to: these hand them (and subclasses of str, int, dict, list) to
# `_orjson_default`. Subclasses of float and tuple, bytes, sets, ... go there anyway.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
# A float orjson writes other than repr (0 < |x| < 1e-4): with a negative exponent, or as `0.0000…` (not after
# a digit). Each pattern starts with a literal, which `re` scans for quickly (faster than `bytes.__contains__`
# for these), and looks behind it only where it found it.
_NEGATIVE_EXPONENT = re.compile(rb"e-(?<=[0-9]e-)[0-9]").search
_SMALL_PLAIN = re.compile(rb"\.0000(?<=0\.0000)(?<![0-9]0\.0000)").search
# The UTF-8 of a character above U+FFFF, which simplejson escapes as a surrogate pair.
_ASTRAL = re.compile(rb"[\xf0-\xf4][\x80-\xbf]{3}").findall
_ASTRAL_F0 = re.compile(rb"\xf0[\x80-\xbf]{3}").findall  # U+10000..U+3FFFF (emoji, ...): a faster scan
_BACKSLASH_X_OR_U = re.compile(rb"\\[xU]").search


def _orjson_default(obj: t.Any) -> t.Any:
    """What simplejson writes for a value orjson hands back: the SDK's fallback text, or refused."""
    kind = type(obj)
    if kind is datetime.datetime or kind is datetime.date or kind is datetime.time:
        return _default(obj)  # simplejson calls the same fallback for them and writes its string
    if kind is decimal.Decimal and obj.is_finite():
        return orjson.Fragment(str(obj))  # simplejson's `use_decimal` text of a finite Decimal: str(d)
    raise _Refused  # a new one each time: a raised instance keeps (and would pile up) its tracebacks


def _surrogate_pair(utf8: bytes) -> bytes:
    """A character above U+FFFF (its UTF-8) as simplejson escapes it: `\\ud83d\\ude00`."""
    offset = ord(utf8.decode()) - 0x10000
    return b"\\u%04x\\u%04x" % (0xD800 + (offset >> 10), 0xDC00 + (offset & 0x3FF))


def _escaped(out: bytes) -> bytes | None:
    """orjson's `out` with DEL and every character above it escaped as simplejson escapes them (or None)."""
    if _BACKSLASH_X_OR_U(out) is not None:  # an escaped backslash before x or U: `\xXX` below can't be told
        return None
    rare = b"\xf1" in out or b"\xf2" in out or b"\xf3" in out or b"\xf4" in out  # U+40000 and above
    if rare or b"\xf0" in out:
        for utf8 in set((_ASTRAL if rare else _ASTRAL_F0)(out)):  # above U+FFFF: each as its pair of escapes
            out = out.replace(utf8, _surrogate_pair(utf8))
    # Python's escapes (lowercase hex) are simplejson's: `\u2028` as it is, `\xe9` as `\u00e9`.
    escaped = out.decode().encode("ascii", "backslashreplace")
    if b"\xc2" in out or b"\xc3" in out:  # the UTF-8 of U+0080..U+00FF, which Python escapes as `\xXX`
        escaped = escaped.replace(b"\\x", b"\\u00")
    return escaped.replace(b"\x7f", b"\\u007f") if b"\x7f" in out else escaped


def dumps(obj: t.Any) -> bytes:
    """`sdk_dumps(obj)`, byte for byte, by orjson where its text is the same (see the module's docstring)."""
    try:
        out = orjson.dumps(obj, default=_orjson_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(obj).encode()
    if _NEGATIVE_EXPONENT(out) is not None or _SMALL_PLAIN(out) is not None:
        return _ENCODER.encode(obj).encode()
    if out.isascii() and b"\x7f" not in out:
        return out
    escaped = _escaped(out)
    return _ENCODER.encode(obj).encode() if escaped is None else escaped


def use_sdk_writer() -> bool:
    """Whether this process writes with singer-sdk's own writers (the test-only switch)."""
    return os.environ.get(SDK_WRITER_ENV, "") not in ("", "0")


def _ascii_compatible(encoding: t.Any) -> bool:
    try:
        return isinstance(encoding, str) and '{"\\~\n'.encode(encoding) == b'{"\\~\n'
    except LookupError:
        return False


class _Stdout:
    """`sys.stdout` as the writers use it: lines gathered into large writes of bytes on the process's stdout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = bytearray()
        self._target: t.Any = None  # the sys.stdout the pending bytes are for
        self._binary: t.Any = None  # its binary layer; None: each line goes to `_target` as text at once
        self._every_line = False  # flush each line (a terminal, as its line-buffered text layer would)

    def write(self, line: bytes, *, flush: bool) -> None:
        """`line` and a newline on `sys.stdout`; with everything before it on the file when `flush`."""
        with self._lock:
            out = sys.stdout
            if out is not self._target:
                self._switch(out)
            if self._binary is None:
                out.write(line.decode("ascii") + "\n")
                if flush:
                    out.flush()
                return
            pending = self._pending
            pending += line
            pending += b"\n"
            if flush or self._every_line:
                self._drain(flush=True)
            elif len(pending) >= CHUNK_SIZE:
                self._drain(flush=False)

    def flush(self) -> None:
        """Everything written so far onto the file (at exit, and for anyone who needs it there now)."""
        with self._lock:
            if self._binary is not None:
                self._drain(flush=True)

    def _switch(self, out: t.Any) -> None:
        try:
            if self._binary is not None:
                self._drain(flush=True)  # what was written to the previous stdout goes there
        finally:  # even when that one is closed or broken: it is not where the next lines go
            self._target, self._binary = out, None
        # Bytes only onto the process's own stdout, when its text layer would write the same bytes (ASCII).
        binary = getattr(out, "buffer", None) if out is sys.__stdout__ else None
        if binary is not None and _ascii_compatible(getattr(out, "encoding", None)):
            self._binary = binary
            self._every_line = bool(getattr(out, "line_buffering", False))

    def _drain(self, *, flush: bool) -> None:
        data, self._pending = self._pending, bytearray()
        if data:
            self._target.flush()  # what went to the text layer before these lines goes out before them
            done = 0
            with memoryview(data) as view:
                while done < len(data):  # a raw (unbuffered, `python -u`) binary layer may take part of it
                    done += self._binary.write(view[done:]) or 0
        if flush:
            self._target.flush()


_STDOUT = _Stdout()


def flush_stdout() -> None:
    """Every line the writers wrote, on the process's stdout (done at exit, and by every flushing message)."""
    _STDOUT.flush()


atexit.register(flush_stdout)


class SingerWriter(GenericSingerWriter[bytes, Message]):
    """singer-sdk's `SimpleSingerWriter` output, by `dumps`, with no flush after RECORD lines."""

    def serialize_message(self, message: Message) -> bytes:
        if type(message) is RecordMessage:
            # RecordMessage.to_dict's keys in its order; time_extracted as the SDK's fallback renders it.
            line: dict[str, t.Any] = {"type": "RECORD", "stream": message.stream, "record": message.record}
            if message.version is not None:
                line["version"] = message.version
            if message.time_extracted is not None:
                line["time_extracted"] = message.time_extracted.isoformat(sep="T")
            return dumps(line)
        if type(message) is StateMessage:
            return dumps({"type": "STATE", "value": message.value})  # asdict's copy serializes the same
        return dumps(message.to_dict())

    def write_message(self, message: Message) -> None:
        self.write_line(self.serialize_message(message), flush=type(message) is not RecordMessage)

    def write_line(self, line: bytes, *, flush: bool) -> None:
        """One serialized message on stdout; `flush` for every kind but RECORD."""
        _STDOUT.write(line, flush=flush)


class StateWriter:
    """singer-sdk's `StateWriter` decisions (write a STATE only when it changed) without copying the state."""

    def __init__(self, message_writer: SingerWriter) -> None:
        self._message_writer = message_writer
        self._last_line: bytes | None = None
        self._last_value: t.Any = None

    def write_state(self, state: t.Mapping[str, t.Any]) -> None:
        line = dumps({"type": "STATE", "value": state})
        last = self._last_line
        if line == last:
            return
        # The same values in another text: only keys in another order, which keeps the length (states hold
        # strings, integers, nulls, lists and objects; a number changing type, 1 to 1.0, would not). Only then
        # are both texts parsed and compared, as the SDK compares values: not for every STATE of a sync (a
        # state is ~50 KB on the benchmark, its parse and comparison ~a fifth of the main thread's CPU).
        if last is not None and len(line) == len(last):
            if self._last_value is None:
                self._last_value = jsontext.loads(last, lambda: json.loads(last))
            value = jsontext.loads(line, lambda: json.loads(line))
            if value == self._last_value:
                return  # the same values, serialized in another key order: the SDK would not write it either
            self._message_writer.write_line(line, flush=True)
            self._last_line, self._last_value = line, value
            return
        self._message_writer.write_line(line, flush=True)
        self._last_line, self._last_value = line, None  # parsed only if a same-length text comes next


def writer_class() -> type[GenericSingerWriter[t.Any, t.Any]]:
    """The message writer class of this process."""
    return SimpleSingerWriter if use_sdk_writer() else SingerWriter
