"""Run one extractor as a child process and measure it: wall time, CPU, peak RSS, records, requests.

Stdout is read line by line and never kept: RECORD lines are counted per stream, STATE lines keep only
the latest value (Singer) or the latest per stream (Airbyte). Stderr goes to a log file with the
simulator token redacted. CPU seconds and peak RSS come from `os.wait4` on the child.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import typing as t
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Both Singer (`{"type":"RECORD","stream":"x"`) and Airbyte (`{"type":"RECORD","record":{"stream":"x"`) put
# the stream name before the data; the first "stream" key is the record's stream.
_RECORD = re.compile(r'"type"\s*:\s*"RECORD"')
_STREAM = re.compile(r'"stream"\s*:\s*"([^"]*)"')
_STATE = re.compile(r'"type"\s*:\s*"STATE"')


@dataclass
class RunResult:
    """One measured run; the row of a results table."""

    tool: str  # "tap-gitlab", "airbyte", "singer-io"
    label: str  # what was selected, e.g. "all streams" or "airbyte's streams"
    run: str  # "full" or "incremental"
    status: str = "ok"  # ok | failed | timeout | capped
    note: str = ""
    returncode: int | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    requests: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, int] = field(default_factory=dict)
    records: int = 0
    records_by_stream: dict[str, int] = field(default_factory=dict)
    streams: list[str] = field(default_factory=list)
    workers: int | None = None
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_per_100k(self) -> float | None:
        return self.cpu_s / self.records * 100_000 if self.records else None

    @property
    def finished(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, t.Any]:
        data = asdict(self)
        data["records_per_s"] = round(self.records_per_s, 1)
        data["cpu_s_per_100k_records"] = None if self.cpu_per_100k is None else round(self.cpu_per_100k, 2)
        return data


class OutputCounter:
    """Consumes an extractor's stdout line by line: record counts per stream and the state to resume from."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol  # "singer" or "airbyte"
        self.records: Counter[str] = Counter()
        self.singer_state: dict[str, t.Any] | None = None
        self.airbyte_states: dict[str, dict[str, t.Any]] = {}  # stream name -> the `state` object
        self.airbyte_global: dict[str, t.Any] | None = None

    def feed(self, line: str) -> None:
        head = line[:200]
        if _RECORD.search(head):
            match = _STREAM.search(head)
            if match is None:  # unusual key order: parse it
                message = json.loads(line)
                stream = message.get("stream") or message.get("record", {}).get("stream", "?")
            else:
                stream = match.group(1)
            self.records[stream] += 1
        elif _STATE.search(head):
            message = json.loads(line)
            if self.protocol == "singer":
                self.singer_state = message.get("value")
            else:
                state = message.get("state") or {}
                if state.get("type") == "STREAM":
                    name = state["stream"]["stream_descriptor"]["name"]
                    self.airbyte_states[name] = state
                elif state.get("type") == "GLOBAL" or "data" in state:
                    self.airbyte_global = state

    def resume_state(self) -> t.Any:
        """The state to pass to the next run (Airbyte: per-stream states without full-refresh markers)."""
        if self.protocol == "singer":
            return self.singer_state
        states = []
        for state in self.airbyte_states.values():
            stream_state = _without_full_refresh_markers(state["stream"].get("stream_state") or {})
            if stream_state is None:
                continue  # fed back, the markers make Airbyte skip the stream (or partition) entirely
            states.append({**state, "stream": {**state["stream"], "stream_state": stream_state}})
        if self.airbyte_global is not None:
            states.append(self.airbyte_global)
        return states


_FULL_REFRESH_DONE = "__ab_full_refresh_sync_complete"


def _without_full_refresh_markers(stream_state: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """An Airbyte stream state without its full-refresh markers; None when nothing else is left.

    The marker comes at the top (`{"__ab_full_refresh_sync_complete": true}`) or, for a partitioned stream,
    in each partition's cursor (`{"states": [{"partition": …, "cursor": {"__ab_full_refresh_sync_complete":
    true}}]}`, airbyte-cdk 4.x): either way Airbyte would skip what it marks on the next read.
    """
    if _FULL_REFRESH_DONE in stream_state:
        return None
    partitions = stream_state.get("states")
    if isinstance(partitions, list):
        kept = [p for p in partitions if not (isinstance(p, dict) and _FULL_REFRESH_DONE in (p.get("cursor") or {}))]
        if not kept:
            return None
        if len(kept) != len(partitions):
            return {**stream_state, "states": kept}
    return stream_state


def _redact(text: str, secrets: t.Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def run_measured(
    command: list[str],
    *,
    result: RunResult,
    counter: OutputCounter,
    stderr_path: Path,
    timeout_s: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    secrets: t.Sequence[str] = (),
    on_timeout_status: str = "timeout",
    stats: t.Callable[[], dict[str, t.Any]] | None = None,
) -> RunResult:
    """Run `command`, stream its output through `counter`, and fill `result` in."""
    before = stats() if stats else None
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=15)
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        text=True,
        bufsize=1 << 16,
        start_new_session=True,  # its own process group, so a timeout kills the whole tree
    )
    assert proc.stdout is not None and proc.stderr is not None

    def pump_stderr() -> None:
        assert proc.stderr is not None
        with stderr_path.open("w") as log:
            for line in proc.stderr:
                clean = _redact(line, secrets)
                log.write(clean)
                tail.append(clean.rstrip()[:400])

    stderr_thread = threading.Thread(target=pump_stderr, daemon=True)
    stderr_thread.start()
    timed_out = threading.Event()

    def kill_on_timeout() -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout_s, kill_on_timeout)
    timer.daemon = True
    timer.start()
    try:
        for line in proc.stdout:
            counter.feed(line)
    finally:
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        result.wall_s = time.monotonic() - started
        timer.cancel()
        stderr_thread.join(timeout=10)
    result.returncode = proc.returncode
    result.cpu_s = usage.ru_utime + usage.ru_stime
    result.peak_rss_mb = usage.ru_maxrss / 1024  # Linux reports KiB
    result.records_by_stream = dict(sorted(counter.records.items()))
    result.records = sum(counter.records.values())
    result.stderr_tail = list(tail)
    if timed_out.is_set():
        result.status = on_timeout_status
        minutes = timeout_s / 60
        result.note = (
            f"did not finish in {minutes:g} min (partial counts)" if on_timeout_status == "timeout" else result.note
        )
    elif proc.returncode != 0:
        result.status = "failed"
        result.note = f"exit code {proc.returncode}"
    if stats and before is not None:
        after = stats()
        apply_stats_delta(result, before, after)
    return result


def apply_stats_delta(result: RunResult, before: dict[str, t.Any], after: dict[str, t.Any]) -> None:
    """Requests made during the run: the difference between two simulator stats snapshots."""
    result.requests = int(after.get("requests", 0)) - int(before.get("requests", 0))
    for key, target in (("by_status", result.by_status), ("by_endpoint", result.by_endpoint)):
        old = before.get(key) or {}
        for name, count in (after.get(key) or {}).items():
            delta = int(count) - int(old.get(name, 0))
            if delta:
                target[str(name)] = delta
    result.by_endpoint = dict(sorted(result.by_endpoint.items(), key=lambda kv: (-kv[1], kv[0])))
