"""Logs a person can follow: per-stream progress at INFO every TAP_GITLAB_PROGRESS_SECONDS, routine lines at DEBUG.

The tap runs as a subprocess (as Meltano runs it) against a simulator slowed to 30 ms per request with one
worker, so each stream lasts several progress intervals (0.1 s here; 5 s by default).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support import secrets_guard
from tests.support.flow_harness import check_session, run_connector
from tests.support.tap_harness import discover, select, sim_config

TOKEN = "glpat-logs-secret-0099"
STREAMS = ["branches", "project_members", "issues", "merge_requests"]
INTERVAL = 0.1
# singer-sdk's console format: "2026-01-31 12:00:00,123 | INFO     | tap-gitlab     | message"
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \| (\w+)\s*\| (\S+)\s*\| (.*)$")
PROGRESS = re.compile(
    r"^(?P<stream>\w+): (?P<records>[\d,]+) records, (?P<done>\d+)/(?P<total>\d+) partitions, (?P<requests>[\d,]+) "
    r"requests in \d+ s; run: [\d,]+ requests, [\d.]+/s, (?P<retries>\d+) retries, (?P<r429>\d+) answered 429"
    r"(?P<estimate>; .* left)?$"
)
DONE = re.compile(r"^(?P<stream>\w+): done in [\d.]+ s: (?P<records>[\d,]+) records, (\d+)/(\d+) partitions")
# What used to be INFO once per partition (the tap's own lines and singer-sdk's).
PER_PARTITION = re.compile(
    r"^\w+: (project|group) \d+ .*: (started|\d+ records)|^Starting incremental sync|^Beginning sync|^METRIC"
)


def run(tmp: Path, config: dict[str, t.Any], catalog: dict[str, t.Any], **env: str) -> subprocess.CompletedProcess:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITLAB_")}
    command = [sys.executable, "-m", "tap_gitlab", "--config", str(tmp / "config.json")]
    proc = subprocess.run(
        [*command, "--catalog", str(tmp / "catalog.json")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**environ, **env},
        check=False,
    )
    secrets_guard.register_secret(TOKEN)
    secrets_guard.register_output("tap stdout", proc.stdout)
    secrets_guard.register_output("tap stderr", proc.stderr)
    return proc


def lines(stderr: str) -> list[tuple[dt.datetime, str, str]]:
    """(time, level, message) of each log line."""
    result = []
    for text in stderr.splitlines():
        match = LINE.match(text)
        if match:
            when = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            result.append((when, match.group(2), match.group(4)))
    return result


def _progress(info: list[tuple[dt.datetime, str]], stream: str) -> list[tuple[dt.datetime, re.Match[str]]]:
    """The progress lines of `stream`, with their times."""
    result = []
    for when, message in info:
        match = PROGRESS.match(message)
        if match and match["stream"] == stream:
            result.append((when, match))
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ds = Dataset.generate(size="small", seed=2)
    tmp = tmp_path_factory.mktemp("logs")
    with GitLabSimulator(ds, token=TOKEN) as sim:
        config = sim_config(sim, TOKEN, groups=ds.top_group_paths(), max_concurrency=1)
        catalog = select(discover(tmp, config), STREAMS)
        sim.faults.set_latency(30)
        yield ds, sim, config, catalog, tmp


@pytest.fixture(scope="module")
def slow_run(world):
    ds, sim, config, catalog, tmp = world
    # One 429 (Retry-After 1 s) on the first merge request listing: the progress lines count it.
    rule = sim.faults.add("429_retry_after", path=r"/merge_requests", times=1, retry_after=1)
    try:
        proc = run(tmp / "slow", config, catalog, TAP_GITLAB_PROGRESS_SECONDS=str(INTERVAL))
    finally:
        sim.faults.remove(rule)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return ds, proc


def test_each_stream_logs_progress_at_the_interval_then_one_done_line(slow_run):
    ds, proc = slow_run
    info = [(when, message) for when, level, message in lines(proc.stderr) if level == "INFO"]
    for stream in STREAMS:
        progress = _progress(info, stream)
        assert len(progress) >= 2, (stream, [m for _, m in info])
        gaps = [(b - a).total_seconds() for (a, _), (b, _) in itertools.pairwise(progress)]
        assert all(gap >= INTERVAL * 0.5 for gap in gaps), (stream, gaps)  # not more often than the interval
        records = [int(match["records"].replace(",", "")) for _, match in progress]
        assert records == sorted(records)
        totals = {int(match["total"]) for _, match in progress}
        assert len(totals) == 1 and totals.pop() >= 1
        done = [DONE.match(m) for _, m in info if m.startswith(f"{stream}: done in ")]
        assert len(done) == 1 and done[0]
        assert int(done[0]["records"].replace(",", "")) == len(ds.expected(stream, groups=ds.top_group_paths()))
    # Partitions done out of all, and the time left once some are done.
    branches = [match for _, match in _progress(info, "branches")]
    assert any(match["estimate"] and 0 < int(match["done"]) < int(match["total"]) for match in branches)
    # The run's 429 answers, from the merge request listing on.
    merge_requests = [match for _, match in _progress(info, "merge_requests")]
    assert merge_requests and int(merge_requests[-1]["r429"]) == 1
    assert int(merge_requests[-1]["retries"]) >= 1


def test_no_per_partition_line_at_info_and_the_summary_stays(slow_run):
    _ds, proc = slow_run
    records = lines(proc.stderr)
    info = [message for _, level, message in records if level == "INFO"]
    assert not [m for m in info if PER_PARTITION.search(m)]
    assert any(m.startswith("Summary: completed") for m in info)
    assert [m for m in info if m.startswith("Summary: ")][-len(STREAMS) :]  # one summary line per stream
    # Progress stops before the summary: nothing but the summary (and its warnings) after its first line.
    first = next(i for i, (_, _, m) in enumerate(records) if m.startswith("Summary: "))
    assert all(m.startswith("Summary: ") for _, _, m in records[first:])
    # Besides progress and the summary: one done line per stream and a few lines per run, not per partition.
    other = [m for m in info if not PROGRESS.match(m) and not m.startswith("Summary: ")]
    assert len([m for m in other if DONE.match(m)]) == len(STREAMS)
    assert len(other) <= len(STREAMS) + 3, other
    assert TOKEN not in proc.stderr and TOKEN not in proc.stdout


def test_routine_lines_are_still_there_at_debug(world):
    _ds, _sim, config, catalog, tmp = world
    proc = run(tmp / "debug", config, select(catalog, ["branches"]), TAP_GITLAB_LOGLEVEL="DEBUG")
    assert proc.returncode == 0, proc.stderr[-3000:]
    debug = [message for _, level, message in lines(proc.stderr) if level == "DEBUG"]
    assert any(m.startswith("Beginning sync of 'branches'") for m in debug)
    assert any(re.match(r"branches: project \d+ .*: \d+ records", m) for m in debug)
    assert TOKEN not in proc.stderr


def test_a_bad_progress_interval_is_one_clear_line(world):
    _ds, _sim, config, catalog, tmp = world
    proc = run(tmp / "bad", config, select(catalog, ["branches"]), TAP_GITLAB_PROGRESS_SECONDS="often")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "TAP_GITLAB_PROGRESS_SECONDS must be a number of seconds above 0, got 'often'" in proc.stderr


def test_flow_log_carries_the_progress_lines_and_no_per_partition_line(world):
    ds, sim, _config, _catalog, _tmp = world
    config = {
        "credentials": {"auth_type": "access_token", "access_token": TOKEN},
        "api_url": sim.base_url,
        "groups": " ".join(ds.top_group_paths()),
        "max_concurrency": 1,
    }
    bindings = [
        {
            "resourceConfig": {"stream": s, "syncMode": mode},
            "resourcePath": [s],
            "stateKey": s,
            "collection": {"name": f"acmeCo/gitlab/{s}", "key": ["/id"], "writeSchema": {"type": "object"}},
        }
        for s, mode in (("branches", "full_refresh"), ("issues", "incremental"))
    ]
    capture = {"name": "acmeCo/gitlab", "connectorType": "IMAGE", "config": config, "bindings": bindings}
    request = {"open": {"capture": capture, "version": "v1", "range": {"keyEnd": 4294967295}, "state": {}}}
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITLAB_")}
    session = run_connector(request, env={**environ, "TAP_GITLAB_PROGRESS_SECONDS": str(INTERVAL)})
    assert session.returncode == 0, session.stderr[-3000:]
    check_session(session)
    info = [entry["msg"] for entry in session.logs if entry["level"] == "info"]
    for stream in ("branches", "issues"):
        assert any(PROGRESS.match(m) and m.startswith(f"{stream}: ") for m in info), (stream, info)
        assert any(m.startswith(f"{stream}: done in ") for m in info)
    assert not [m for m in info if PER_PARTITION.search(m)]
    assert any(m.startswith("capture: done: ") for m in info)
    assert TOKEN not in session.stderr and TOKEN not in session.stdout
