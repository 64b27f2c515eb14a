"""tap_gitlab/singer_output.py writes singer-sdk's bytes: the same messages through both writers, compared; and
onto the process's stdout in large writes, each STATE with every line before it, everything by the exit."""

from __future__ import annotations

import datetime
import decimal
import io
import json
import os
import signal
import subprocess
import sys
import typing as t
from zoneinfo import ZoneInfo

import pytest
from singer_sdk.singerlib import ActivateVersionMessage, RecordMessage, SchemaMessage, StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from singer_sdk.singerlib.json import serialize_json

from tap_gitlab import singer_output

UTC = datetime.UTC
TRICKY: dict[str, t.Any] = {
    "ascii": "plain",
    "non_ascii": "Zoë 日本語 😀 \u2028 \u00a0",
    "controls": '\x00\x01\x1f\x7f\t\n\r\b\f"\\/',
    "lone_surrogate": "\ud800",
    "floats": [1e-05, 1.5e-05, 0.0001, 1e16, 1e15, 123456789.123, -0.0, 0.1, 1.0, 2.5e-300, 1.7976931348623157e308],
    "not_finite": [float("nan"), float("inf"), float("-inf")],
    "ints": [0, -1, 2**63 - 1, 2**63, -(2**64) - 1, 10**30],
    "bools": [True, False],
    "none": None,
    "nested": {"b": {"a": [{"z": 1, "a": None}, [], {}]}, "a": ""},
    "datetime_utc": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    "datetime_offset": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
    "datetime_zone": datetime.datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York")),
    "datetime_naive": datetime.datetime(2024, 5, 6),
    "date": datetime.date(2024, 5, 6),
    "decimal": [decimal.Decimal("1.10"), decimal.Decimal("1E+2"), decimal.Decimal("-0.000001")],
    "tuple": (1, "a"),
    "keys": {"é": 1, "": 2, "a b": 3},
}
EXTRACTED = datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def messages() -> list[t.Any]:
    return [
        SchemaMessage("issues", {"type": "object", "properties": {"é": {"type": ["null", "string"]}}}, ["id"], ["x"]),
        SchemaMessage("notes", {"type": "object"}, ["id"]),
        RecordMessage("issues", TRICKY),
        RecordMessage("issues", TRICKY, version=1_700_000_000_123, time_extracted=EXTRACTED),
        RecordMessage("issues", {"id": 1}, time_extracted=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        RecordMessage("issues", {"id": 1}, time_extracted=EXTRACTED.astimezone(ZoneInfo("Asia/Kolkata"))),
        StateMessage({"bookmarks": {"issues": {"partitions": [{"context": {"project_id": 1}, **TRICKY}]}}}),
        StateMessage({}),
        ActivateVersionMessage("issues", 1_700_000_000_123),
    ]


def written(writer: t.Any, monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    for message in messages():
        writer.write_message(message)
    return out.getvalue()


def test_records_schemas_states_and_activate_version_are_the_sdks_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = written(singer_output.SingerWriter(), monkeypatch)
    sdk = written(SimpleSingerWriter(), monkeypatch)
    assert ours == sdk
    assert "\\u00eb" in ours and "\\u007f" in ours and "1e-05" in ours and "1e+16" in ours and "null" in ours
    assert "18446744073709551617" in ours and '"decimal":[1.10,1E+2,-0.000001]' in ours


class Counting(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue().splitlines()))


def test_every_line_but_a_record_is_flushed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Counting()
    monkeypatch.setattr(sys, "stdout", out)
    for message in messages():
        singer_output.SingerWriter().write_message(message)
    kinds = [json.loads(line)["type"] for line in out.getvalue().splitlines()]
    assert [kinds[n - 1] for n in out.flushed_at] == [kind for kind in kinds if kind != "RECORD"]


class SdkStateWriter:
    """singer-sdk's StateWriter decision (`state != deepcopy(last)`), written here to compare against."""

    def __init__(self) -> None:
        self.last: t.Any = None
        self.lines: list[str] = []

    def write_state(self, state: t.Any) -> None:
        if self.last is None or state != self.last:
            self.lines.append(serialize_json(StateMessage(state).to_dict()))
            self.last = json.loads(json.dumps(state, default=str))


def test_state_writer_skips_exactly_the_states_the_sdk_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    ours = singer_output.StateWriter(singer_output.SingerWriter())
    sdk = SdkStateWriter()

    def write(value: t.Any) -> None:
        ours.write_state(value)
        sdk.write_state(value)

    write({})
    write({})  # unchanged: skipped
    state: dict[str, t.Any] = {"bookmarks": {"a": {"replication_key_value": "2024-01-01T00:00:00.000Z"}}}
    write(state)
    write(state)  # the same object, unchanged: skipped
    state["bookmarks"]["a"]["replication_key_value"] = "2024-01-02T00:00:00.000Z"
    write(state)  # the same object changed in place: written
    write({"bookmarks": {"a": {"replication_key_value": "2024-01-02T00:00:00.000Z"}}, "x": 1})
    write({"x": 1, "bookmarks": {"a": {"replication_key_value": "2024-01-02T00:00:00.000Z"}}})  # key order: skipped
    write({"bookmarks": {"a": {"replication_key_value": "2024-01-02T00:00:00.000Z"}}, "x": 2})  # same length: written
    write({"x": "é", "bookmarks": {}})
    write({"x": "é", "bookmarks": {}})
    write({})
    assert out.getvalue() == "".join(line + "\n" for line in sdk.lines)
    assert len(sdk.lines) == 7


def test_state_writer_parses_only_states_of_the_same_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another length is another value, without parsing either text; the one case where the SDK would disagree,
    a number changing type (1 to 1.0, equal in Python), never happens in the tap's states (strings, integers)."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    parsed: list[bytes] = []
    real = singer_output.jsontext.loads
    monkeypatch.setattr(
        singer_output.jsontext, "loads", lambda data, fallback: parsed.append(data) or real(data, fallback)
    )
    ours = singer_output.StateWriter(singer_output.SingerWriter())
    ours.write_state({"bookmarks": {"a": {"replication_key_value": "2024-01-01T00:00:00.000Z"}}})
    ours.write_state({"bookmarks": {"a": {"replication_key_value": "2024-01-01T00:00:00.000Z", "boundary_ids": [1]}}})
    assert parsed == []  # each text longer than the last: written without a parse
    ours.write_state({"bookmarks": {"a": {"boundary_ids": [1], "replication_key_value": "2024-01-01T00:00:00.000Z"}}})
    assert len(parsed) == 2  # same length: both parsed; the same values in another key order: not written
    ours.write_state({"bookmarks": {"a": {"boundary_ids": [2], "replication_key_value": "2024-01-01T00:00:00.000Z"}}})
    assert len(out.getvalue().splitlines()) == 3
    ours.write_state({"x": 1})
    ours.write_state({"x": 1.0})  # the SDK would skip it (1 == 1.0); written here: another text, another length
    assert len(out.getvalue().splitlines()) == 5


def test_the_sdk_writer_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(singer_output.SDK_WRITER_ENV, raising=False)
    assert singer_output.writer_class() is singer_output.SingerWriter
    monkeypatch.setenv(singer_output.SDK_WRITER_ENV, "1")
    assert singer_output.writer_class() is SimpleSingerWriter


# -- the process's stdout: bytes in large writes --------------------------------------------------------------


class Sink(io.RawIOBase):
    """The file under stdout: what reached it, write by write (at most `most` bytes a write when given)."""

    def __init__(self, most: int | None = None) -> None:
        self.data = bytearray()
        self.writes: list[int] = []
        self.most = most

    def writable(self) -> bool:
        return True

    def write(self, b: t.Any) -> int:
        taken = bytes(b[: self.most] if self.most else b)
        self.data += taken
        self.writes.append(len(taken))
        return len(taken)


@pytest.fixture
def process_stdout(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., tuple[Sink, io.TextIOWrapper]]:
    """`sys.stdout` made the process's own (`sys.__stdout__`) over a `Sink`, for a fresh `_Stdout`."""
    monkeypatch.setattr(singer_output, "_STDOUT", singer_output._Stdout())

    def make(*, raw: bool = False, most: int | None = None) -> tuple[Sink, io.TextIOWrapper]:
        sink = Sink(most)
        out = io.TextIOWrapper(sink if raw else io.BufferedWriter(sink), encoding="utf-8", write_through=raw)
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "__stdout__", out)
        return sink, out

    return make


def record(n: int) -> RecordMessage:
    return RecordMessage("issues", {"id": n, "title": "é" * 20, "body": "x" * 1000})


def test_the_process_stdout_gets_the_sdks_bytes(process_stdout: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sink, _ = process_stdout()
    for message in messages():
        singer_output.SingerWriter().write_message(message)
    assert sink.data.decode() == written(SimpleSingerWriter(), monkeypatch)


@pytest.mark.parametrize("raw", [False, True], ids=["buffered", "raw"])
def test_a_flushing_line_is_on_the_file_with_every_line_before_it(process_stdout: t.Any, raw: bool) -> None:
    sink, _ = process_stdout(raw=raw, most=5000 if raw else None)  # raw: a write takes 5,000 bytes at most
    writer = singer_output.SingerWriter()
    state = singer_output.StateWriter(writer)
    expected = b""
    for n in range(3000):
        message = record(n)
        writer.write_message(message)
        expected += writer.serialize_message(message) + b"\n"
        if n % 700 == 699:
            assert len(sink.data) < len(expected)  # records wait
            state.write_state({"bookmarks": {"issues": {"n": n}}})
            expected += serialize_json({"type": "STATE", "value": {"bookmarks": {"issues": {"n": n}}}}).encode() + b"\n"
            assert sink.data == expected
    writer.write_message(SchemaMessage("notes", {"type": "object"}, ["id"]))
    writer.write_message(ActivateVersionMessage("issues", 1))
    expected += b'{"type":"SCHEMA","stream":"notes","schema":{"type":"object"},"key_properties":["id"]}\n'
    expected += b'{"type":"ACTIVATE_VERSION","stream":"issues","version":1}\n'
    assert sink.data == expected


def test_records_go_out_in_chunks_of_a_mebibyte(process_stdout: t.Any) -> None:
    sink, _ = process_stdout()
    writer = singer_output.SingerWriter()
    line = writer.serialize_message(record(0)) + b"\n"
    count = 3 * singer_output.CHUNK_SIZE // len(line) + 10
    for _ in range(count):
        writer.write_message(record(0))
    assert 3 * singer_output.CHUNK_SIZE <= len(sink.data) < 3 * singer_output.CHUNK_SIZE + len(line) * 3
    assert len(sink.writes) == 3 and min(sink.writes) >= singer_output.CHUNK_SIZE
    singer_output.flush_stdout()
    assert sink.data == line * count


def test_text_written_to_stdout_first_comes_out_first(process_stdout: t.Any) -> None:
    sink, out = process_stdout()
    writer = singer_output.SingerWriter()
    out.write("before\n")
    writer.write_message(record(1))
    writer.write_message(StateMessage({"n": 1}))
    out.write("between\n")
    writer.write_message(record(2))
    singer_output.flush_stdout()
    lines = sink.data.decode().splitlines()
    assert lines[0] == "before" and lines[3] == "between"
    assert [json.loads(line)["type"] for line in lines[1:3] + lines[4:]] == ["RECORD", "STATE", "RECORD"]


def test_lines_pending_for_one_stdout_go_there_when_another_is_set(
    process_stdout: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, _ = process_stdout()
    writer = singer_output.SingerWriter()
    writer.write_message(record(1))
    assert not sink.data
    other = io.StringIO()
    monkeypatch.setattr(sys, "stdout", other)  # not the process's stdout: a text line per message, at once
    writer.write_message(record(2))
    assert json.loads(sink.data)["record"]["id"] == 1
    assert json.loads(other.getvalue())["record"]["id"] == 2


def test_a_terminal_gets_every_line_at_once(process_stdout: t.Any) -> None:
    sink, out = process_stdout()
    out.reconfigure(line_buffering=True)
    singer_output.SingerWriter().write_message(record(1))
    assert json.loads(sink.data)["record"]["id"] == 1


def test_a_stdout_not_ascii_compatible_gets_text(process_stdout: t.Any) -> None:
    sink, out = process_stdout()
    out.reconfigure(encoding="utf-16")
    singer_output.SingerWriter().write_message(StateMessage({"é": 1}))
    assert sink.data.decode("utf-16") == '{"type":"STATE","value":{"\\u00e9":1}}\n'


# What a child process writes through the writer before it ends in each way: its stdout must hold all of it
# (but after a kill, what was written up to the last STATE).
CHILD = """
import os, signal, sys
from singer_sdk.singerlib import RecordMessage, StateMessage
from tap_gitlab import singer_output

end = sys.argv[1]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # singer-sdk's handler
print("text first")
writer = singer_output.SingerWriter()
for n in range(2000):
    writer.write_message(RecordMessage("issues", {"id": n, "body": "x" * 900}))
writer.write_message(StateMessage({"n": 2000}))
for n in range(2000, 2100):
    writer.write_message(RecordMessage("issues", {"id": n, "body": "x" * 900}))
if end == "raise":
    raise RuntimeError("failed")
if end == "exit":
    sys.exit(1)
if end == "sigterm":
    os.kill(os.getpid(), signal.SIGTERM)
if end == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("end", ["return", "raise", "exit", "sigterm", "kill", "unbuffered"])
def test_every_line_is_on_stdout_when_the_process_ends(end: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    command = [sys.executable, *(["-u"] if end == "unbuffered" else []), "-c", CHILD, end]
    proc = subprocess.run(command, capture_output=True, env=env, timeout=120, check=False)
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "text first", proc.stderr
    ids = [json.loads(line).get("record", {}).get("id") for line in lines[1:]]
    if end == "kill":
        assert proc.returncode == -signal.SIGKILL
        assert json.loads(lines[-1]) == {"type": "STATE", "value": {"n": 2000}}
        assert ids[:-1] == list(range(2000))
    else:
        assert proc.returncode == (1 if end in ("raise", "exit") else 0), proc.stderr
        assert ids == [*range(2000), None, *range(2000, 2100)]
