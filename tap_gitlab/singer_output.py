"""The tap's Singer output: its message writer and its STATE writer (issue 14).

singer-sdk's default writer (`singer_sdk.singerlib.encoding.SimpleSingerWriter`) serializes every message with
`singer_sdk.singerlib.json.serialize_json`, which builds a new simplejson encoder per call, and flushes stdout
after every line; its `StateWriter` compares each state with a deep copy of the last one, serializes it through
`dataclasses.asdict` (a second deep copy) and then deep-copies it again. On a full sync that was about a third
of the main thread's CPU. This module writes the same bytes:

- one simplejson encoder with the SDK's options (`use_decimal`, `ignore_nan`, `separators=(",", ":")`, ASCII
  escapes, datetimes by `isoformat(sep="T")`, anything else by `str`), so key order, floats, escapes and
  datetimes are the SDK's own;
- RECORD lines are written without a flush; SCHEMA, STATE and ACTIVATE_VERSION lines are flushed at once, so a
  STATE on stdout is complete, with every record before it, when the process is killed right after it (the
  records since the last STATE are what a resumed run reads again anyway); Python flushes the rest at exit;
- a STATE is serialized once: it is skipped when its text is the last emitted one's, or when its parsed value
  equals the last emitted value (the SDK's `state != last` test, on JSON values), with no copy of the state.

`TAP_GITLAB_SDK_WRITER=1` (tests only: tests/integration/test_singer_output.py) makes the tap use singer-sdk's
own writers, to compare the two outputs byte for byte.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import typing as t

import simplejson
from singer_sdk.singerlib import Message, RecordMessage, StateMessage
from singer_sdk.singerlib.encoding import GenericSingerWriter, SimpleSingerWriter

from tap_gitlab import jsontext

# Test-only: use singer-sdk's own message and STATE writers (read here only).
SDK_WRITER_ENV = "TAP_GITLAB_SDK_WRITER"


def _default(obj: t.Any) -> str:
    """singer-sdk's fallback for values JSON has no type for (`singer_sdk.singerlib.json`)."""
    return obj.isoformat(sep="T") if isinstance(obj, datetime.datetime) else str(obj)


# The options of `singer_sdk.singerlib.json.serialize_json`, built once.
_ENCODER = simplejson.JSONEncoder(use_decimal=True, default=_default, separators=(",", ":"), ignore_nan=True)
encode: t.Callable[[t.Any], str] = _ENCODER.encode


def use_sdk_writer() -> bool:
    """Whether this process writes with singer-sdk's own writers (the test-only switch)."""
    return os.environ.get(SDK_WRITER_ENV, "") not in ("", "0")


class SingerWriter(GenericSingerWriter[str, Message]):
    """singer-sdk's `SimpleSingerWriter` output, with one encoder and no flush after RECORD lines."""

    def serialize_message(self, message: Message) -> str:
        if type(message) is RecordMessage:
            # RecordMessage.to_dict's keys in its order; time_extracted as the SDK's fallback renders it.
            line: dict[str, t.Any] = {"type": "RECORD", "stream": message.stream, "record": message.record}
            if message.version is not None:
                line["version"] = message.version
            if message.time_extracted is not None:
                line["time_extracted"] = message.time_extracted.isoformat(sep="T")
            return encode(line)
        if type(message) is StateMessage:
            return encode({"type": "STATE", "value": message.value})  # asdict's copy serializes the same
        return encode(message.to_dict())

    def write_message(self, message: Message) -> None:
        self.write_line(self.serialize_message(message), flush=type(message) is not RecordMessage)

    def write_line(self, text: str, *, flush: bool) -> None:
        """One serialized message on stdout; `flush` for every kind but RECORD."""
        out = sys.stdout
        out.write(text + "\n")
        if flush:
            out.flush()


class StateWriter:
    """singer-sdk's `StateWriter` decisions (write a STATE only when it changed) without copying the state."""

    def __init__(self, message_writer: SingerWriter) -> None:
        self._message_writer = message_writer
        self._last_text: str | None = None
        self._last_value: t.Any = None

    def write_state(self, state: t.Mapping[str, t.Any]) -> None:
        text = encode({"type": "STATE", "value": state})
        if text == self._last_text:
            return
        encoded = text.encode()
        value = jsontext.loads(encoded, lambda: json.loads(text))
        if self._last_text is not None and value == self._last_value:
            return  # the same values, serialized in another key order: the SDK would not write it either
        self._message_writer.write_line(text, flush=True)
        self._last_text, self._last_value = text, value


def writer_class() -> type[GenericSingerWriter[t.Any, t.Any]]:
    """The message writer class of this process."""
    return SimpleSingerWriter if use_sdk_writer() else SingerWriter
