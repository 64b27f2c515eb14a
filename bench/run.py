"""The benchmark: tap-gitlab and its peers against the GitLab simulator, one command.

    .venv/bin/python -m bench.run --size medium --latency-ms 50 [--peers airbyte,singer-io] [--workers 8]
        [--runs full,incremental] [--scaling 1,8] [--rate-limit]

Starts the simulator CLI with the chosen dataset and latency, installs the peers into `bench/.venvs/`,
runs each tool's full sync and then its incremental sync (resuming from the state the full sync emitted),
and writes `bench/RESULTS.md` plus a raw `bench/results/<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shlex
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

from bench import report
from bench.measure import OutputCounter, RunResult, run_measured
from bench.peers import BENCH_DIR, PEERS, ensure_peer
from bench.sim import SimProcess
from bench.tools import (
    PEER_STREAMS,
    Scope,
    airbyte_catalog,
    airbyte_config,
    our_catalog,
    our_command,
    our_config,
    peer_command,
    peer_env,
    select_singer,
    singer_io_catalog,
    singer_io_config,
    write_json,
)

REPO = BENCH_DIR.parent
DEFAULT_TIMEOUT_MIN = {"tiny": 5, "small": 10, "medium": 30, "large": 120}
UNLIMITED_RPM = 1_000_000


def parse_args(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="medium", help="simulator dataset size (default: medium)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=50, help="added latency per request (default: 50)")
    parser.add_argument("--peers", default="airbyte,singer-io", help="comma-separated, or 'none'")
    parser.add_argument("--workers", type=int, default=8, help="tap-gitlab max_concurrency (default: 8)")
    parser.add_argument("--runs", default="full,incremental", help="full[,incremental]")
    parser.add_argument("--scaling", default="1,8", help="max_concurrency values to compare, or 'none'")
    parser.add_argument("--rate-limit", action="store_true", help="also run the 2,000 requests/min test")
    parser.add_argument("--rate-limit-per-minute", type=int, default=2000)
    parser.add_argument("--rate-limit-seconds", type=float, default=90, help="how long the rate-limit test runs")
    parser.add_argument("--timeout-min", type=float, default=None, help="cap per run (default: by size)")
    parser.add_argument("--start-date", default=None, help="default: the instance's first day")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work")
    parser.add_argument(
        "--include", type=Path, action="append", default=[], help="earlier results JSON to add as a section"
    )
    parser.add_argument("--streams", default="", help="limit tap-gitlab's streams (comma-separated; default: all)")
    parser.add_argument("--note", default="", help="a remark to print under the section's heading")
    parser.add_argument("--sim-module", default="tests.gitlab_sim", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.peer_list = [] if args.peers in ("", "none") else [p.strip() for p in args.peers.split(",") if p.strip()]
    for peer in args.peer_list:
        if peer not in PEERS:
            parser.error(f"unknown peer {peer!r} (known: {', '.join(PEERS)})")
    args.run_list = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not args.run_list or args.run_list[0] != "full" or not set(args.run_list) <= {"full", "incremental"}:
        parser.error("--runs must be 'full' or 'full,incremental'")
    args.scaling_list = [] if args.scaling in ("", "none") else [int(w) for w in args.scaling.split(",")]
    if args.timeout_min is None:
        args.timeout_min = DEFAULT_TIMEOUT_MIN.get(args.size, 30)
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, t.Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def tap_source() -> dict[str, t.Any]:
    """Which tap-gitlab was measured: where it was imported from, and the repository's commit."""
    import tap_gitlab

    location = str(Path(tap_gitlab.__file__).resolve().parent)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO, check=False)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "tap_gitlab"], capture_output=True, text=True, cwd=REPO, check=False
    )
    return {
        "imported_from": location,
        "repo_commit": head.stdout.strip(),
        "tap_gitlab_uncommitted_changes": bool(dirty.stdout.strip()),
    }


def _clean_env() -> dict[str, str]:
    # No TAP_GITLAB_* overrides, and never DEPLOYMENT_MODE=cloud (it makes Airbyte refuse plain http).
    return {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITLAB_") and k != "DEPLOYMENT_MODE"}


class Bench:
    """One benchmark invocation: the runs, in order, against one simulator."""

    def __init__(self, args: argparse.Namespace, sim: SimProcess, scope: Scope, work: Path) -> None:
        self.args = args
        self.sim = sim
        self.scope = scope
        self.work = work
        self.runs: list[RunResult] = []
        self.env = _clean_env()
        self.peer_env = peer_env()
        self.timeout_s = args.timeout_min * 60

    def _measure(self, result: RunResult, command: list[str], counter: OutputCounter, name: str, **kw) -> RunResult:
        log(f"{result.tool} ({result.label}) {result.run} sync, workers={result.workers or 1}…")
        run_measured(
            command,
            result=result,
            counter=counter,
            stderr_path=self.work / f"{name}.stderr.log",
            timeout_s=kw.pop("timeout_s", self.timeout_s),
            cwd=self.work,
            env=kw.pop("env", self.env),
            secrets=[self.scope.token],
            stats=self.sim.stats,
            **kw,
        )
        log(
            f"  {result.status}: {result.wall_s:.1f} s, {result.requests} requests, {result.records} records, "
            f"{result.cpu_s:.1f} CPU s, {result.peak_rss_mb:.0f} MB{' — ' + result.note if result.note else ''}"
        )
        if result.status == "failed":
            for line in result.stderr_tail[-5:]:
                log(f"  | {line}")
        self.runs.append(result)
        return result

    # -- tap-gitlab ---------------------------------------------------------------------------------------

    def ours(
        self,
        label: str,
        streams: list[str],
        *,
        workers: int,
        rpm: int = UNLIMITED_RPM,
        runs=None,
        before: t.Callable[[str], None] | None = None,
        settings: dict[str, t.Any] | None = None,
        **kw,
    ):
        """tap-gitlab's runs in order, each resuming from the state of the one before; `before(run)` runs
        first (a benchmark that changes the instance between them), `settings` are added to the config."""
        slug = f"ours-{label.replace(' ', '-').replace(chr(39), '')}-w{workers}"
        config = write_json(
            self.work / f"{slug}.config.json",
            {**our_config(self.scope, workers=workers, requests_per_minute=rpm), **(settings or {})},
        )
        catalog = write_json(self.work / f"{slug}.catalog.json", select_singer(self.our_catalog, streams))
        results = []
        state: t.Any = None
        for run in runs or self.args.run_list:
            if before is not None:
                before(run)
            command = [*our_command(), "--config", str(config), "--catalog", str(catalog)]
            if run == "incremental":
                if state is None:
                    log("  no state from the full sync: skipping the incremental run")
                    break
                command += ["--state", str(write_json(self.work / f"{slug}.state.json", state))]
            counter = OutputCounter("singer")
            result = RunResult("tap-gitlab", label, run, streams=sorted(streams), workers=workers)
            results.append(self._measure(result, command, counter, f"{slug}-{run}", **kw))
            state = counter.resume_state()
        return results

    @property
    def our_catalog(self) -> dict[str, t.Any]:
        if not hasattr(self, "_our_catalog"):
            config = write_json(
                self.work / "ours.discover.json", our_config(self.scope, workers=1, requests_per_minute=UNLIMITED_RPM)
            )
            self._our_catalog = our_catalog(config, self.work)
        return self._our_catalog

    @property
    def our_streams(self) -> list[str]:
        names = [s["tap_stream_id"] for s in self.our_catalog["streams"]]
        wanted = {name.strip() for name in self.args.streams.split(",") if name.strip()}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(f"--streams: tap-gitlab has no stream {', '.join(sorted(unknown))}")
        return [name for name in names if not wanted or name in wanted]

    # -- peers --------------------------------------------------------------------------------------------

    def peer(self, peer: str, our_names: set[str]) -> list[RunResult]:
        """The peer's full and incremental runs on the streams it shares with us; returns its results."""
        mapping = PEER_STREAMS[peer]
        if peer == "airbyte":
            config = write_json(self.work / "airbyte.config.json", airbyte_config(self.scope))
            catalog = airbyte_catalog(config, self.work)
            catalog["streams"] = [s for s in catalog["streams"] if mapping.get(s["stream"]["name"]) in our_names]
            names = [s["stream"]["name"] for s in catalog["streams"]]
        else:
            config = write_json(self.work / "singer-io.config.json", singer_io_config(self.scope))
            catalog = singer_io_catalog(config, self.work)
            names = [s["tap_stream_id"] for s in catalog["streams"] if mapping.get(s["tap_stream_id"]) in our_names]
            catalog = select_singer(catalog, names)
        catalog_path = write_json(self.work / f"{peer}.catalog.json", catalog)
        results = []
        state: t.Any = None
        for run in self.args.run_list:
            if peer == "airbyte":
                command = [*peer_command(peer), "read", "--config", str(config), "--catalog", str(catalog_path)]
                state_flag = "--state"
            else:
                command = [*peer_command(peer), "-c", str(config), "--catalog", str(catalog_path)]
                state_flag = "-s"
            if run == "incremental":
                if results and results[-1].status == "timeout":
                    # Its state covers only part of the streams: a second run would be another full sync.
                    log(f"  {peer}: the full sync did not finish: skipping the incremental run")
                    skipped = RunResult(peer, f"{peer}'s streams", run, status="skipped", streams=sorted(names))
                    skipped.note = "not run: the full sync did not finish, so there is no complete state to resume"
                    results.append(skipped)
                    break
                if state is None:
                    log(f"  {peer}: no state from the full sync: skipping the incremental run")
                    break
                command += [state_flag, str(write_json(self.work / f"{peer}.state.json", state))]
            counter = OutputCounter("airbyte" if peer == "airbyte" else "singer")
            result = RunResult(peer, f"{peer}'s streams", run, streams=sorted(names))
            results.append(self._measure(result, command, counter, f"{peer}-{run}", env=self.peer_env))
            state = counter.resume_state()
            if result.status != "ok" and run == "full" and result.status != "timeout":
                break
        return results


def _rate_limit_test(args: argparse.Namespace, scope_start: str, work: Path, token: str) -> dict[str, t.Any]:
    """Our tap at requests_per_minute = the simulator's limit, for about `--rate-limit-seconds`."""
    limit = args.rate_limit_per_minute
    log(f"rate-limit test: simulator at {limit} requests/min, tap-gitlab at requests_per_minute={limit}")
    with SimProcess(
        size=args.size,
        seed=args.seed,
        token=token,
        latency_ms=args.latency_ms,
        rate_limit_per_minute=limit,
        module=args.sim_module,
        cwd=REPO,
        log_path=work / "sim-ratelimit.log",
    ) as sim:
        scope = sim.scope(scope_start)
        sim.reset()
        bench = Bench(args, sim, scope, work)
        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    samples.append((time.monotonic(), int(sim.stats()["requests"])))
                stop.wait(1.0)

        poller = threading.Thread(target=poll, daemon=True)
        started = time.monotonic()
        poller.start()
        runs: list[RunResult] = []
        try:
            while (remaining := args.rate_limit_seconds - (time.monotonic() - started)) > 5:
                runs += bench.ours(
                    "rate limit",
                    bench.our_streams,
                    workers=args.workers,
                    rpm=limit,
                    runs=["full"],
                    timeout_s=remaining,
                    on_timeout_status="capped",
                )
                if runs[-1].status == "failed":
                    break
        finally:
            stop.set()
            poller.join(timeout=5)
        elapsed = time.monotonic() - started
    requests = sum(r.requests for r in runs)
    too_many = sum(r.by_status.get("429", 0) for r in runs)
    active = [(ts, n) for ts, n in samples if n > 0]
    steady = None
    if len(active) >= 2:
        last_change = max(i for i in range(len(active)) if i == 0 or active[i][1] > active[i - 1][1])
        window = active[last_change][0] - active[0][0]
        if window > 0:
            steady = (active[last_change][1] - active[0][1]) / window * 60
    return {
        "limit_per_minute": limit,
        "seconds": round(elapsed, 1),
        "requests": requests,
        "requests_per_minute_overall": round(requests / elapsed * 60, 1) if elapsed else 0,
        "requests_per_minute_steady": None if steady is None else round(steady, 1),
        "429s": too_many,
        "runs": [r.to_json() for r in runs],
    }


def main(argv: t.Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = args.work_dir / stamp
    work.mkdir(parents=True, exist_ok=True)
    token = f"bench-{secrets.token_hex(12)}"  # a throwaway token for a local simulator; never printed
    command = "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:])

    for peer in args.peer_list:
        ensure_peer(PEERS[peer], log=log)
    for peer in args.peer_list:
        peer_command(peer)

    log(f"starting the simulator: size={args.size} seed={args.seed} latency={args.latency_ms:g} ms")
    results: dict[str, t.Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "command": command,
        "note": args.note,
        "tap": tap_source(),
        "config": {
            "size": args.size,
            "seed": args.seed,
            "latency_ms": args.latency_ms,
            "workers": args.workers,
            "peers": args.peer_list,
            "runs": args.run_list,
            "timeout_min": args.timeout_min,
            "peer_versions": {peer: PEERS[peer].requirement for peer in args.peer_list},
        },
    }
    sim_started = time.monotonic()
    with SimProcess(
        size=args.size,
        seed=args.seed,
        token=token,
        latency_ms=args.latency_ms,
        module=args.sim_module,
        cwd=REPO,
        log_path=work / "sim.log",
    ) as sim:
        log(f"simulator ready in {time.monotonic() - sim_started:.1f} s")
        scope = sim.scope(args.start_date)
        results["config"]["start_date"] = scope.start_date
        results["scope"] = {
            "top_groups": len(scope.top_groups),
            "groups": len(scope.all_groups),
            "projects": len(scope.projects),
        }
        log(f"instance: {len(scope.all_groups)} groups ({len(scope.top_groups)} top), {len(scope.projects)} projects")
        sim.reset()
        bench = Bench(args, sim, scope, work)
        streams = bench.our_streams
        results["our_streams"] = streams
        results["stream_scopes"] = report.stream_scopes(streams)
        # With --streams the main runs cover only those streams; say so wherever they are shown.
        main_label = f"{len(streams)} selected streams" if args.streams.strip() else "all streams"
        results["main_label"] = main_label
        bench.ours(main_label, streams, workers=args.workers)
        comparisons = []
        for peer in args.peer_list:
            shared = sorted({ours for ours in PEER_STREAMS[peer].values() if ours in streams})
            ours_runs = bench.ours(f"{peer}'s streams", shared, workers=args.workers)
            peer_runs = bench.peer(peer, set(shared))
            comparisons.append({"peer": peer, "streams": shared, "ours": [r.to_json() for r in ours_runs]})
            comparisons[-1]["peer_runs"] = [r.to_json() for r in peer_runs]
        results["comparisons"] = comparisons
        scaling = []
        for workers in args.scaling_list:
            reuse = next(
                (r for r in bench.runs if r.label == main_label and r.run == "full" and r.workers == workers), None
            )
            run = reuse or bench.ours(main_label, streams, workers=workers, runs=["full"])[0]
            scaling.append(run.to_json())
        results["scaling"] = scaling
        results["runs"] = [r.to_json() for r in bench.runs if r.label == main_label]
    if args.rate_limit:
        results["rate_limit"] = _rate_limit_test(args, results["config"]["start_date"], work, token)
    results["targets"] = report.evaluate(results)

    args.results_dir.mkdir(parents=True, exist_ok=True)
    raw = args.results_dir / f"{stamp}.json"
    raw.write_text(json.dumps(results, indent=1) + "\n")
    included = [json.loads(path.read_text()) for path in args.include]
    args.output.write_text(report.render([results, *included]))
    log(f"wrote {args.output} and {raw}")
    failed = [r for r in results["targets"] if r["pass"] is False]
    log(f"targets: {sum(1 for r in results['targets'] if r['pass'])} pass, {len(failed)} fail")
    return 0


if __name__ == "__main__":
    sys.exit(main())
