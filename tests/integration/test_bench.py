"""Smoke tests of the benchmark harness (bench/): counting, state hand-over, timeouts, targets and the report.

No peer is installed here: the end-to-end case runs only tap-gitlab, on the `tiny` dataset.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap

import pytest

from bench import report
from bench.measure import OutputCounter, RunResult, run_measured
from bench.tools import PEER_STREAMS, select_singer


def test_counter_counts_singer_and_airbyte_records_and_keeps_the_resume_state():
    singer = OutputCounter("singer")
    for line in [
        '{"type":"SCHEMA","stream":"issues","schema":{}}',
        '{"type":"RECORD","stream":"issues","record":{"id":1}}',
        '{"type": "RECORD", "record": {"id": 2}, "stream": "issues"}',
        '{"type":"RECORD","stream":"commits","record":{"id":"a"}}',
        '{"type":"STATE","value":{"bookmarks":{"issues":{"n":1}}}}',
        '{"type":"STATE","value":{"bookmarks":{"issues":{"n":2}}}}',
    ]:
        singer.feed(line + "\n")
    assert singer.records == {"issues": 2, "commits": 1}
    assert singer.resume_state() == {"bookmarks": {"issues": {"n": 2}}}

    airbyte = OutputCounter("airbyte")

    def state(name, value):
        return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": value}}

    for message in [
        {"type": "RECORD", "record": {"stream": "issues", "data": {"id": 1}, "emitted_at": 1}},
        {"type": "STATE", "state": state("issues", {"states": [1]})},
        {"type": "STATE", "state": state("issues", {"states": [2]})},
        {"type": "STATE", "state": state("branches", {"__ab_full_refresh_sync_complete": True})},
    ]:
        airbyte.feed(json.dumps(message) + "\n")
    assert airbyte.records == {"issues": 1}
    # The full-refresh marker is dropped: fed back, it would make Airbyte skip the stream.
    assert airbyte.resume_state() == [state("issues", {"states": [2]})]

    # airbyte-cdk 4.x puts the marker in each partition's cursor: those partitions (or streams) go too.
    def partition(pid, cursor):
        return {"partition": {"id": pid}, "cursor": cursor}

    done = {"__ab_full_refresh_sync_complete": True}
    for message in [
        {"type": "STATE", "state": state("tags", {"states": [partition(1, done), partition(2, done)]})},
        {"type": "STATE", "state": state("mixed", {"states": [partition(1, done), partition(2, {"t": "x"})]})},
        {"type": "STATE", "state": state("commits", {"states": [partition(1, {"created_at": "2024"})]})},
    ]:
        airbyte.feed(json.dumps(message) + "\n")
    assert airbyte.resume_state() == [
        state("issues", {"states": [2]}),
        state("mixed", {"states": [partition(2, {"t": "x"})]}),
        state("commits", {"states": [partition(1, {"created_at": "2024"})]}),
    ]


def test_select_singer_keeps_every_stream_listed_and_selects_only_the_chosen():
    catalog = {
        "streams": [
            {"tap_stream_id": "a", "metadata": [{"breadcrumb": [], "metadata": {"selected": False}}]},
            {"tap_stream_id": "b", "metadata": []},
        ]
    }
    chosen = select_singer(catalog, ["b"])
    assert [s["tap_stream_id"] for s in chosen["streams"]] == ["a", "b"]
    assert [s["metadata"][0]["metadata"]["selected"] for s in chosen["streams"]] == [False, True]
    assert catalog["streams"][1]["metadata"] == []  # the input is not modified


def test_peer_stream_maps_name_streams_our_tap_has():
    from tap_gitlab.streams import STREAMS

    ours = {spec.name for spec in STREAMS}
    for peer, mapping in PEER_STREAMS.items():
        assert set(mapping.values()) <= ours, peer


def test_a_run_over_the_cap_is_killed_and_reported_with_partial_counts(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        for i in range(3):
            print('{"type":"RECORD","stream":"s","record":{"i":%d}}' % i, flush=True)
        print("token secret-token in a log line", file=sys.stderr, flush=True)
        time.sleep(60)
        """
    )
    result = RunResult("tap-gitlab", "all streams", "full")
    run_measured(
        [sys.executable, "-c", script],
        result=result,
        counter=OutputCounter("singer"),
        stderr_path=tmp_path / "stderr.log",
        timeout_s=2,
        secrets=["secret-token"],
    )
    assert result.status == "timeout"
    assert result.note.startswith("did not finish in")
    assert result.records == 3 and result.records_by_stream == {"s": 3}
    assert 2 <= result.wall_s < 30
    assert result.peak_rss_mb > 0
    assert "secret-token" not in (tmp_path / "stderr.log").read_text()


def _row(tool, label, run, wall, requests, records=1000, status="ok", workers=None):
    result = RunResult(tool, label, run, status=status, wall_s=wall, requests=requests, records=records)
    result.workers = workers
    result.cpu_s = wall / 2
    result.peak_rss_mb = 100
    return result.to_json()


def test_targets_and_rendering_from_synthetic_results():
    results = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"nproc": 2, "python": "3.11.7", "platform": "Linux"},
        "command": "python -m bench.run --size medium --latency-ms 50",
        "config": {"size": "medium", "seed": 1, "latency_ms": 50, "workers": 8, "timeout_min": 30},
        "scope": {"top_groups": 3, "groups": 9, "projects": 50},
        "stream_scopes": {
            "groups": {"scope": "resolved_groups", "opt_in": False, "group_listing": False},
            "issues": {"scope": "project", "opt_in": False, "group_listing": True},
            "site_users": {"scope": "instance", "opt_in": True, "group_listing": False},
        },
        "runs": [
            _row("tap-gitlab", "all streams", "full", 10.0, 500, workers=8),
            _row("tap-gitlab", "all streams", "incremental", 0.5, 40, workers=8),
        ],
        "comparisons": [
            {
                "peer": "airbyte",
                "streams": ["groups", "issues"],
                "ours": [
                    _row("tap-gitlab", "airbyte's streams", "full", 10.0, 400, workers=8),
                    _row("tap-gitlab", "airbyte's streams", "incremental", 1.0, 100, workers=8),
                ],
                "peer_runs": [
                    _row("airbyte", "airbyte's streams", "full", 1800.0, 300, status="timeout"),
                    _row("airbyte", "airbyte's streams", "incremental", 100.0, 1200),
                ],
            }
        ],
        "scaling": [
            _row("tap-gitlab", "all streams", "full", 70.0, 500, workers=1),
            _row("tap-gitlab", "all streams", "full", 10.0, 500, workers=8),
        ],
        "rate_limit": {
            "limit_per_minute": 2000,
            "seconds": 90,
            "requests": 2800,
            "requests_per_minute_overall": 1866.7,
            "requests_per_minute_steady": 1950.0,
            "429s": 2,
            "runs": [],
        },
    }
    assert report.incremental_request_bound(results) == 9 + 50  # the opt-in stream does not count
    targets = {x["target"]: x for x in report.evaluate(results)}
    wall = targets["vs airbyte: full sync wall time ≤ 1/5 of peer's"]
    assert wall["pass"] is True and "lower bound" in wall["measured"]  # the peer was cut off
    assert targets["vs airbyte: full sync requests ≤ peer's"]["pass"] is None  # cut off, and we made more
    assert targets["vs airbyte: incremental requests ≤ 1/3 of peer's"]["pass"] is True
    assert targets["vs airbyte: incremental wall time ≤ 1/10 of peer's"]["pass"] is True
    assert targets["incremental, nothing changed: requests ≤ Σ streams x (groups or projects)"]["pass"] is True
    assert targets["incremental wall time ≤ 1/10 of the full sync's"]["pass"] is True
    assert targets["scaling: 8 workers vs 1: throughput ≥ 6x"]["pass"] is True
    assert targets["rate limit: sustains ≥ 90% of 2000 requests/min"]["pass"] is True
    assert targets["rate limit: at most a handful (≤ 5) of 429s"]["pass"] is True
    results["targets"] = list(targets.values())
    text = report.render([results])
    assert "## medium dataset, 50 ms added latency" in text
    assert "python -m bench.run --size medium --latency-ms 50" in text
    assert "| airbyte | airbyte's streams | full | 1 | 1800.0 | 300 |" in text
    assert "timeout" in text and "**pass**" in text and "undecided" in text


def test_end_to_end_on_tiny_with_our_tap_only(tmp_path):
    if importlib.util.find_spec("tests.gitlab_sim.__main__") is None:
        pytest.skip("the simulator's CLI (tests/gitlab_sim/__main__.py) is not there")
    from bench.run import main

    output = tmp_path / "RESULTS.md"
    code = main(
        [
            "--size",
            "tiny",
            "--latency-ms",
            "0",
            "--peers",
            "none",
            "--scaling",
            "none",
            "--streams",
            "groups,projects,branches,commits,project_members",
            "--timeout-min",
            "3",
            "--output",
            str(output),
            "--results-dir",
            str(tmp_path / "results"),
            "--work-dir",
            str(tmp_path / "work"),
        ]
    )
    assert code == 0
    [raw] = list((tmp_path / "results").glob("*.json"))
    results = json.loads(raw.read_text())
    runs = {r["run"]: r for r in results["runs"]}
    assert set(runs) == {"full", "incremental"}
    full, incremental = runs["full"], runs["incremental"]
    assert full["status"] == "ok", full["stderr_tail"]
    assert incremental["status"] == "ok", incremental["stderr_tail"]
    assert full["records"] > 0 and full["requests"] > 0 and full["cpu_s"] > 0 and full["peak_rss_mb"] > 0
    assert full["records"] == sum(full["records_by_stream"].values())
    assert incremental["requests"] <= full["requests"]
    assert results["scope"]["projects"] > 0
    assert set(full["records_by_stream"]) <= {"groups", "projects", "branches", "commits", "project_members"}
    text = output.read_text()
    assert "## tiny dataset, 0 ms added latency" in text
    assert "| tap-gitlab | 5 selected streams | full | 8 |" in text
    assert "### Targets (issue 6)" in text


def test_scaling_target_uses_1_and_8_workers_and_a_stream_subset_is_labelled():
    results = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"nproc": 2, "python": "3.11.7", "platform": "Linux"},
        "command": "python -m bench.run --streams branches,tags --scaling 1,2,8,16",
        "config": {"size": "medium", "seed": 1, "latency_ms": 50, "workers": 8, "timeout_min": 30},
        "main_label": "2 selected streams",
        "our_streams": ["branches", "tags"],
        "runs": [_row("tap-gitlab", "2 selected streams", "full", 10.0, 500, workers=8)],
        "scaling": [
            _row("tap-gitlab", "2 selected streams", "full", 70.0, 500, workers=1),
            _row("tap-gitlab", "2 selected streams", "full", 40.0, 500, workers=2),
            _row("tap-gitlab", "2 selected streams", "full", 10.0, 500, workers=8),
            _row("tap-gitlab", "2 selected streams", "full", 9.0, 500, workers=16),
        ],
    }
    targets = {x["target"]: x for x in report.evaluate(results)}
    scaling = targets["scaling: 8 workers vs 1: throughput ≥ 6x"]  # not 16 vs 1
    assert scaling["pass"] is True and scaling["measured"].startswith("100 vs 14 records/s")
    text = report.render([results])
    assert "### tap-gitlab, 2 selected streams" in text
    assert "Streams of the tap-gitlab runs: branches, tags" in text
    assert "### Scaling (tap-gitlab, 2 selected streams, full sync)" in text


def test_report_cli_merges_sections_with_a_preface_and_a_targets_table(tmp_path):
    section = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"nproc": 2, "python": "3.11.7", "platform": "Linux"},
        "command": "python -m bench.run --size small",
        "config": {"size": "small", "seed": 1, "latency_ms": 0, "workers": 8, "timeout_min": 10},
        "runs": [_row("tap-gitlab", "all streams", "full", 10.0, 500, workers=8)],
        "scaling": [
            _row("tap-gitlab", "all streams", "full", 70.0, 500, workers=1),
            _row("tap-gitlab", "all streams", "full", 10.0, 500, workers=8),
        ],
    }
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(section))
    second.write_text(json.dumps({**section, "date": "2026-01-02T00:00:00+00:00"}))
    preface = tmp_path / "preface.md"
    preface.write_text("Some words about the machine.\n")
    out = tmp_path / "RESULTS.md"
    assert report.main([str(out), str(first), str(second), "--preface", str(preface), "--note", "first run"]) == 0
    text = out.read_text()
    assert text.index("Some words about the machine.") < text.index("## Targets at a glance")
    assert "| small dataset, 0 ms added latency (2026-01-02T00:00:00+00:00) | scaling: 8 workers vs 1" in text
    assert text.count("## small dataset") == 2 and "first run" in text


def test_own_incremental_targets_are_not_judged_on_a_stream_subset():
    results = {
        "config": {"size": "medium", "latency_ms": 50, "workers": 8},
        "main_label": "7 selected streams",
        "runs": [
            _row("tap-gitlab", "7 selected streams", "full", 10.0, 500, workers=8),
            _row("tap-gitlab", "7 selected streams", "incremental", 5.0, 40, workers=8),
        ],
    }
    (target,) = report.evaluate(results)
    assert target["target"] == "incremental wall time ≤ 1/10 of the full sync's"
    assert target["pass"] is None and "the target is for all streams" in target["measured"]
