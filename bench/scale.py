"""How tap-gitlab's cost grows with the instance, and what N shards buy on one machine.

    .venv/bin/python -m bench.scale growth --sizes small,medium,large [--latency-ms 0] [--churn 0.01]
    .venv/bin/python -m bench.scale shards --size medium [--count 4] [--latency-ms 0]

`growth`: per size, a full sync of all streams, then `churn` of the instance's issues, merge requests and
pipelines changed (the simulator's `POST /__sim/churn`: a note on each chosen issue, an update of each chosen
merge request and pipeline), then an incremental run from the full sync's state. Wall time, CPU seconds, peak
RSS and requests of each (CPU and RSS from `os.wait4` on the tap; requests from the simulator's counters).

`shards`: one unsharded full sync, then `count` shard processes (`shard: i/count`) started together on the
same instance; their records must add up to the unsharded run's. Wall time is the slowest shard's, CPU the sum.

Writes a Markdown section (stdout, or `--output`) and the raw results to `bench/results/scale-<stamp>.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import shlex
import sys
import threading
import time
import typing as t
from pathlib import Path

from bench.measure import OutputCounter, RunResult, run_measured
from bench.peers import BENCH_DIR
from bench.run import DEFAULT_TIMEOUT_MIN, REPO, UNLIMITED_RPM, Bench, log, machine, tap_source
from bench.sim import SimProcess
from bench.tools import our_command, our_config, select_singer, write_json


def parse_args(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["growth", "shards"])
    parser.add_argument("--sizes", default="small,medium,large", help="growth: dataset sizes, comma-separated")
    parser.add_argument("--size", default="medium", help="shards: the dataset size")
    parser.add_argument("--count", type=int, default=4, help="shards: how many shard processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0, help="added latency per request (default: 0)")
    parser.add_argument("--workers", type=int, default=16, help="max_concurrency of each tap process")
    parser.add_argument("--churn", type=float, default=0.01, help="growth: share changed before the incremental run")
    parser.add_argument("--output", type=Path, default=None, help="Markdown section (default: stdout)")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work")
    args = parser.parse_args(argv)
    args.timeout_min = None
    args.run_list = ["full", "incremental"]
    args.streams = ""
    return args


def _bench(args: argparse.Namespace, sim: SimProcess, work: Path, size: str) -> Bench:
    scope = sim.scope()
    sim.reset()
    args.timeout_min = DEFAULT_TIMEOUT_MIN.get(size, 30) * 2
    return Bench(args, sim, scope, work)


def growth(args: argparse.Namespace, work: Path, token: str) -> list[dict[str, t.Any]]:
    rows = []
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        log(f"{size}: starting the simulator (latency {args.latency_ms:g} ms)")
        with SimProcess(
            size=size,
            seed=args.seed,
            token=token,
            latency_ms=args.latency_ms,
            cwd=REPO,
            log_path=work / f"{size}.sim.log",
        ) as sim:
            bench = _bench(args, sim, work / size, size)
            (work / size).mkdir(parents=True, exist_ok=True)
            changed: dict[str, int] = {}

            def before(run: str, sim: SimProcess = sim, changed: dict[str, int] = changed) -> None:
                if run == "incremental":
                    changed.update(sim.churn(args.churn))
                    log(f"  changed: {changed}")

            full, incremental = bench.ours("all streams", bench.our_streams, workers=args.workers, before=before)
        rows.append({"size": size, "full": full.to_json(), "incremental": incremental.to_json(), "changed": changed})
    return rows


def shards(args: argparse.Namespace, work: Path, token: str) -> dict[str, t.Any]:
    with SimProcess(
        size=args.size, seed=args.seed, token=token, latency_ms=args.latency_ms, cwd=REPO, log_path=work / "sim.log"
    ) as sim:
        bench = _bench(args, sim, work, args.size)
        streams = bench.our_streams
        (whole,) = bench.ours("all streams", streams, workers=args.workers, runs=["full"])
        catalog = write_json(work / "shards.catalog.json", select_singer(bench.our_catalog, streams))
        config = our_config(bench.scope, workers=args.workers, requests_per_minute=UNLIMITED_RPM)
        results = [
            RunResult("tap-gitlab", f"shard {i + 1}/{args.count}", "full", workers=args.workers)
            for i in range(args.count)
        ]

        def run(index: int) -> None:
            path = write_json(work / f"shard{index}.config.json", {**config, "shard": f"{index}/{args.count}"})
            command = [*our_command(), "--config", str(path), "--catalog", str(catalog)]
            run_measured(
                command,
                result=results[index],
                counter=OutputCounter("singer"),
                stderr_path=work / f"shard{index}.stderr.log",
                timeout_s=bench.timeout_s,
                cwd=work,
                env=bench.env,
                secrets=[token],
            )

        log(f"{args.count} shards at once…")
        before = sim.stats()
        started = time.monotonic()
        threads = [threading.Thread(target=run, args=(index,)) for index in range(args.count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        requests = int(sim.stats().get("requests", 0)) - int(before.get("requests", 0))
    for result in results:
        log(
            f"  {result.label}: {result.status}, {result.wall_s:.1f} s, {result.records} records, {result.cpu_s:.1f} CPU s"
        )
    return {
        "size": args.size,
        "count": args.count,
        "whole": whole.to_json(),
        "shards": [result.to_json() for result in results],
        "wall_s": wall,
        "cpu_s": sum(result.cpu_s for result in results),
        "records": sum(result.records for result in results),
        "requests": requests,
        "peak_rss_mb": max(result.peak_rss_mb for result in results),
        "ok": all(result.status == "ok" for result in results),
    }


def _row(label: str, run: dict[str, t.Any], *, requests: bool = True) -> str:
    per = run.get("cpu_s_per_100k_records")
    counted = f"{run['requests']:,}" if requests else "(in the total)"
    return (
        f"| {label} | {run['records']:,} | {counted} | {run['wall_s']:.1f} | {run['cpu_s']:.1f} | "
        f"{'' if per is None else f'{per:.1f}'} | {run['peak_rss_mb']:.0f} |"
    )


def render(results: dict[str, t.Any]) -> str:
    head = "| run | records | requests | wall s | CPU s | CPU s / 100k records | peak RSS MB |\n|---|---|---|---|---|---|---|"
    lines = [f"Command: `{results['command']}` ({results['date']}, commit {results['tap']['repo_commit'][:7]})", ""]
    if results["what"] == "growth":
        lines += [head]
        for row in results["rows"]:
            size = row["size"]
            lines.append(_row(f"{size}: full sync", row["full"]))
            changed = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in row["changed"].items())
            lines.append(_row(f"{size}: incremental after {changed} changed", row["incremental"]))
    else:
        data = results["shards"]
        lines += [head, _row("one process", data["whole"])]
        for run in data["shards"]:
            lines.append(_row(run["label"], run, requests=False))
        per = data["cpu_s"] / data["records"] * 100_000 if data["records"] else 0
        lines.append(
            f"| {data['count']} shards together | {data['records']:,} | {data['requests']:,} | {data['wall_s']:.1f} | "
            f"{data['cpu_s']:.1f} | {per:.1f} | {data['peak_rss_mb']:.0f} (each) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: t.Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = args.work_dir / f"scale-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    token = f"bench-{secrets.token_hex(12)}"
    results: dict[str, t.Any] = {
        "what": args.what,
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "command": "python -m bench.scale " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "tap": tap_source(),
        "config": {"seed": args.seed, "latency_ms": args.latency_ms, "workers": args.workers, "churn": args.churn},
    }
    if args.what == "growth":
        results["rows"] = growth(args, work, token)
    else:
        results["shards"] = shards(args, work, token)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"scale-{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")
    text = render(results)
    if args.output:
        args.output.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
