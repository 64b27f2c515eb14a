"""CPU per record, side by side: versions of tap-gitlab against one simulator, interleaved, with their outputs compared.

    .venv/bin/python -m bench.cpu --size medium --variant before=/tmp/snap-a --variant after=. --rounds 3

Each `--variant NAME=DIR` is a source tree whose `tap_gitlab/` is imported (`PYTHONPATH=DIR`). The rounds
interleave the variants (A B A B …) so that the shared machine's load falls on all of them alike; the table
gives every run's CPU seconds (user + system of the tap's process, from `os.wait4`) and the minimum, the
least disturbed figure. Every run is a full sync of all default streams from no state, its stdout read from a
pipe into a file. The records are compared, as sorted lines, after masking what differs between any two runs (`time_extracted`,
the ACTIVATE_VERSION `version`, `replication_key_signpost`), so a change that alters a byte of the output shows.

`--flow` also runs each variant's Flow capture connector (`python -m tap_gitlab.flow`, the container's entry
point) on the same instance: one `open` with a binding per default stream (as the connector's own `discover`
gives them) and no state; its CPU is the connector's and the tap's it starts (`ru_*` of its children too), its
records the `captured` documents.

Writes a Markdown section (stdout, or `--output`) and the raw figures to `bench/results/cpu-<stamp>.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

from bench.peers import BENCH_DIR
from bench.run import REPO, UNLIMITED_RPM, Bench, log, machine
from bench.sim import SimProcess
from bench.tools import our_config, select_singer, write_json

# What differs between two runs of the same code: the extraction time, and the table version of full-table
# streams (milliseconds since the epoch, in RECORD and ACTIVATE_VERSION lines).
_MASKS = (
    re.compile(rb'"time_extracted":\s*"[^"]*"'),
    re.compile(rb'"replication_key_signpost":\s*"[^"]*"'),
    re.compile(rb'"version":\s*\d{13}\b'),
)


def parse_args(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], help="NAME=DIR, a source tree (repeatable)")
    parser.add_argument("--flow", action="store_true", help="also run each variant's Flow capture connector")
    parser.add_argument("--keep", action="store_true", help="keep each run's stdout in the work directory")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work")
    args = parser.parse_args(argv)
    if not args.variant:
        args.variant = [f"this={REPO}"]
    args.variants = []
    for text in args.variant:
        name, _, path = text.partition("=")
        if not path:
            parser.error(f"--variant {text!r}: expected NAME=DIR")
        args.variants.append((name, Path(path).resolve()))
    args.timeout_min = 60
    args.run_list = ["full"]
    args.streams = ""
    return args


def masked_digest(path: Path) -> tuple[str, int, int]:
    """A digest of the RECORD (or Flow `captured`) lines, masked, whatever their order; their count; all lines.

    Order-free (the sum of each line's sha256, modulo 2**256), and RECORD lines only, because GitLab (and the
    simulator) may return rows with equal sort keys in either order (`pipelines` ordered by `updated_at`): two
    runs of the same code can differ in the order of records and in the boundary ids their STATEs keep. The
    STATE writer's bytes are pinned by the tests. (A sum, not a sorted list: the benchmark process stays small,
    so that its size does not show in the next tap's peak RSS, which Linux counts from the fork.)
    """
    total = records = lines = 0
    with path.open("rb") as handle:
        for line in handle:
            lines += 1
            if line.startswith((b'{"type":"RECORD"', b'{"captured"')):
                for mask in _MASKS:
                    line = mask.sub(b"#", line)
                total += int.from_bytes(hashlib.sha256(line).digest(), "big")
                records += 1
    return f"{total % (1 << 256):064x}", records, lines


def run_once(
    command: list[str], *, env: dict[str, str], out: Path, err: Path, cwd: Path, stdin: Path | None = None
) -> dict[str, float]:
    """Run `command` with stdout read from a pipe into `out`; wall, CPU and peak RSS of it (and of its children,
    which `os.wait4` counts once they are waited for)."""
    started = time.monotonic()
    with err.open("wb") as errors, stdin.open("rb") if stdin else open(os.devnull, "rb") as source:
        proc = subprocess.Popen(command, stdin=source, stdout=subprocess.PIPE, stderr=errors, cwd=cwd, env=env)
        assert proc.stdout is not None

        def pump() -> None:
            assert proc.stdout is not None
            with out.open("wb") as sink:
                while chunk := proc.stdout.read1(1 << 16):
                    sink.write(chunk)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        reader.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = err.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{shlex.join(command[:3])}… exited {code}: {tail}")
    return {
        "wall_s": time.monotonic() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def flow_open(config: dict[str, t.Any], streams: list[str], env: dict[str, str], work: Path) -> Path:
    """The Flow runtime's `open` for a binding per stream, from the connector's own `discover`; its file."""
    endpoint = {
        "api_url": config["api_url"],
        "credentials": {"auth_type": "access_token", "access_token": config["private_token"]},
        "groups": " ".join(config["groups"]),
        "start_date": config["start_date"],
        "max_concurrency": config["max_concurrency"],
        "requests_per_minute": config["requests_per_minute"],
    }
    request = {"discover": {"connectorType": "IMAGE", "config": endpoint, "name": "bench/gitlab"}}
    answer = subprocess.run(
        [sys.executable, "-m", "tap_gitlab.flow"],
        input=json.dumps(request).encode() + b"\n",
        capture_output=True,
        env=env,
        cwd=work,
        check=True,
        timeout=300,
    )
    discovered = next(json.loads(line)["discovered"] for line in answer.stdout.splitlines() if b"discovered" in line)
    wanted = set(streams)
    bindings = [
        {
            "resourceConfig": b["resourceConfig"],
            "resourcePath": [b["resourceConfig"]["stream"]],
            "stateKey": b["resourceConfig"]["stream"],
            "collection": {"name": f"bench/{b['recommendedName']}", "key": b["key"], "writeSchema": {"type": "object"}},
        }
        for b in discovered["bindings"]
        if b["resourceConfig"]["stream"] in wanted
    ]
    capture = {"name": "bench/gitlab", "connectorType": "IMAGE", "config": endpoint, "bindings": bindings}
    range_ = {"keyEnd": 4294967295, "rClockEnd": 4294967295}
    opening = {"open": {"capture": capture, "version": "v1", "range": range_, "state": {}}}
    path = work / "flow.open.json"
    path.write_text(json.dumps(opening) + "\n")
    return path


def main(argv: t.Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    token = "glpat-" + secrets.token_hex(10)
    work = args.work_dir / f"cpu-{started:%Y%m%dT%H%M%S}"
    work.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, t.Any]] = []
    with SimProcess(
        size=args.size, seed=args.seed, token=token, latency_ms=args.latency_ms, cwd=REPO, log_path=work / "sim.log"
    ) as sim:
        scope = sim.scope()
        sim.reset()
        bench = Bench(args, sim, scope, work)
        catalog = write_json(work / "catalog.json", select_singer(bench.our_catalog, bench.our_streams))
        config = write_json(
            work / "config.json", our_config(scope, workers=args.workers, requests_per_minute=UNLIMITED_RPM)
        )
        kinds = ["tap", "flow"] if args.flow else ["tap"]
        config_data = json.loads(config.read_text())
        opening = flow_open(config_data, bench.our_streams, bench.env, work) if args.flow else None
        for round_no in range(1, args.rounds + 1):
            for name, path in args.variants:
                env = {**bench.env, "PYTHONPATH": str(path)}
                for kind in kinds:
                    slug = f"{name}-{kind}-{round_no}"
                    before = sim.stats()
                    if kind == "tap":
                        command = [
                            sys.executable,
                            "-m",
                            "tap_gitlab",
                            "--config",
                            str(config),
                            "--catalog",
                            str(catalog),
                        ]
                    else:
                        command = [sys.executable, "-m", "tap_gitlab.flow"]
                    out, err = work / f"{slug}.out", work / f"{slug}.err"
                    figures = run_once(
                        command, env=env, out=out, err=err, cwd=work, stdin=opening if kind == "flow" else None
                    )
                    requests = int(sim.stats().get("requests", 0)) - int(before.get("requests", 0))
                    digest, records, lines = masked_digest(work / f"{slug}.out")
                    row = {"variant": name, "kind": kind, "round": round_no, **figures}
                    row |= {"requests": requests, "records": records, "lines": lines, "sha256": digest}
                    runs.append(row)
                    if not args.keep:
                        (work / f"{slug}.out").unlink()
                    log(
                        f"{slug}: {figures['cpu_s']:.1f} CPU s ({figures['user_s']:.1f} user), {figures['wall_s']:.1f} s, "
                        f"{records:,} records, {requests:,} requests, {digest[:12]}"
                    )
    results = {
        "command": "python -m bench.cpu " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average": os.getloadavg(),
        "runs": runs,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"cpu-{started:%Y%m%dT%H%M%S}.json").write_text(json.dumps(results, indent=2) + "\n")
    text = render(results, [name for name, _ in args.variants], kinds)
    if args.output:
        args.output.write_text(text)
    sys.stdout.write(text)
    return 0


def render(results: dict[str, t.Any], names: list[str], kinds: list[str]) -> str:
    lines = [f"Command: `{results['command']}` ({results['date']})", ""]
    lines += [
        "| variant | run | CPU s per run (user + sys) | min CPU s | CPU s / 100k records | wall s (min) | "
        "peak RSS MB | records | requests | records sha256 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        for kind in kinds:
            rows = [r for r in results["runs"] if r["variant"] == name and r["kind"] == kind]
            if not rows:
                continue
            best = min(r["cpu_s"] for r in rows)
            records = rows[0]["records"]
            digests = sorted({r["sha256"][:12] for r in rows})
            cpus = ", ".join(f"{r['cpu_s']:.1f}" for r in rows)
            requests = ", ".join(f"{r['requests']:,}" for r in rows)
            lines.append(
                f"| {name} | {kind} | {cpus} | {best:.1f} | "
                f"{best / records * 100_000 if records else 0:.1f} | {min(r['wall_s'] for r in rows):.1f} | "
                f"{max(r['peak_rss_mb'] for r in rows):.0f} | {records:,} | "
                f"{requests} | {', '.join(digests)} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
