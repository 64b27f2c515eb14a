"""Targets from issue 6, checked against a results dict, and the Markdown of `bench/RESULTS.md`."""

from __future__ import annotations

import typing as t

Result = dict[str, t.Any]
HANDFUL_OF_429S = 5
RSS_LIMIT_MB = 300


def stream_scopes(streams: t.Sequence[str]) -> dict[str, dict[str, t.Any]]:
    """Each stream's partitioning (group / project / instance) and whether it is opt-in, from the tap itself."""
    try:
        from tap_gitlab.streams import STREAM_TYPES
    except ImportError:  # pragma: no cover - the tap is always importable from the project's venv
        return {}
    by_name = {cls.name: cls for cls in STREAM_TYPES}
    scopes = {}
    for name in streams:
        cls = by_name.get(name)
        if cls is not None:
            scopes[name] = {
                "scope": cls.scope,
                "opt_in": cls.opt_in_setting is not None,
                "group_listing": bool(cls.group_listing_path),
            }
    return scopes


def incremental_request_bound(results: Result) -> int | None:
    """One request per (group-level stream, group) plus one per (project-level stream, project)."""
    scopes = results.get("stream_scopes") or {}
    scope = results.get("scope") or {}
    if not scopes or not scope:
        return None
    per = {
        "group": scope["groups"],
        "resolved_groups": scope["groups"],
        "project": scope["projects"],
        "resolved_projects": scope["projects"],
        "instance": 1,
    }
    return sum(per.get(s["scope"], 0) for s in scopes.values() if not s["opt_in"])


def _by_run(runs: t.Iterable[Result]) -> dict[str, Result]:
    return {r["run"]: r for r in runs}


def _fraction(ours: float, theirs: float) -> str:
    if not theirs:
        return "n/a"
    if not ours:
        return "0"
    ratio = theirs / ours
    return f"1/{ratio:.1f}" if ratio >= 1 else f"{ours / theirs:.2f}x"


def _at_most_fraction(name: str, unit: str, ours: Result, peer: Result, key: str, denominator: int) -> Result:
    """ours[key] ≤ peer[key] / denominator; a peer cut off by the cap gives a lower bound for its figure."""
    mine, theirs = float(ours[key]), float(peer[key])
    need = "≤ peer's" if denominator == 1 else f"≤ 1/{denominator} of peer's"
    fmt = "{:.1f}" if unit == "s" else "{:.0f}"
    measured = f"{fmt.format(mine)} {unit} vs {fmt.format(theirs)} {unit} = {_fraction(mine, theirs)}"
    ok: bool | None = mine <= theirs / denominator
    if ours["status"] != "ok":
        ok, measured = False, measured + f" (ours: {ours['status']})"
    elif peer["status"] == "timeout":
        measured += " (peer cut off: its figure is a lower bound)"
        ok = True if ok else None
    elif peer["status"] != "ok":
        measured += f" (peer {peer['status']})"
        ok = None
    return {"target": f"{name} {need}", "measured": measured, "pass": ok}


def evaluate(results: Result) -> list[Result]:
    targets: list[Result] = []
    for comparison in results.get("comparisons") or []:
        peer_name = comparison["peer"]
        ours, peer = _by_run(comparison["ours"]), _by_run(comparison["peer_runs"])
        if "full" in ours and "full" in peer:
            targets.append(
                _at_most_fraction(f"vs {peer_name}: full sync wall time", "s", ours["full"], peer["full"], "wall_s", 5)
            )
            targets.append(
                _at_most_fraction(
                    f"vs {peer_name}: full sync requests", "req", ours["full"], peer["full"], "requests", 1
                )
            )
        if "incremental" in ours and "incremental" in peer:
            inc_o, inc_p = ours["incremental"], peer["incremental"]
            targets.append(
                _at_most_fraction(f"vs {peer_name}: incremental requests", "req", inc_o, inc_p, "requests", 3)
            )
            targets.append(_at_most_fraction(f"vs {peer_name}: incremental wall time", "s", inc_o, inc_p, "wall_s", 10))
    mine = _by_run(r for r in results.get("runs") or [] if r["workers"] == results["config"]["workers"])
    first_own = len(targets)
    if "incremental" in mine:
        incremental = mine["incremental"]
        bound = incremental_request_bound(results)
        if bound is not None:
            targets.append(
                {
                    "target": "incremental, nothing changed: requests ≤ Σ streams x (groups or projects)",
                    "measured": f"{incremental['requests']} requests, bound {bound}",
                    "pass": incremental["status"] == "ok" and incremental["requests"] <= bound,
                }
            )
        if "full" in mine:
            full = mine["full"]
            targets.append(
                {
                    "target": "incremental wall time ≤ 1/10 of the full sync's",
                    "measured": f"{incremental['wall_s']:.1f} s vs {full['wall_s']:.1f} s = {_fraction(incremental['wall_s'], full['wall_s'])}",
                    "pass": incremental["status"] == "ok" and incremental["wall_s"] <= full["wall_s"] / 10,
                }
            )
    main = results.get("main_label") or "all streams"
    if main != "all streams":  # issue 6 states these two for all streams
        for target in targets[first_own:]:
            target["measured"] += f" (on {main} only; the target is for all streams)"
            target["pass"] = None
    scaling = results.get("scaling") or []
    if len(scaling) >= 2:
        by_workers = {r["workers"]: r for r in scaling}
        if 1 in by_workers and 8 in by_workers:  # the target's pair, even when more were measured
            low, high = by_workers[1], by_workers[8]
        else:
            low = min(scaling, key=lambda r: r["workers"])
            high = max(scaling, key=lambda r: r["workers"])
        ratio = high["records_per_s"] / low["records_per_s"] if low["records_per_s"] else 0.0
        need = 6 if (low["workers"], high["workers"]) == (1, 8) else None
        targets.append(
            {
                "target": f"scaling: {high['workers']} workers vs {low['workers']}: throughput ≥ {need or '?'}x",
                "measured": f"{high['records_per_s']:.0f} vs {low['records_per_s']:.0f} records/s = {ratio:.2f}x",
                "pass": None if need is None else ratio >= need and all(r["status"] == "ok" for r in (low, high)),
            }
        )
    rate = results.get("rate_limit")
    if rate:
        achieved = rate["requests_per_minute_steady"] or rate["requests_per_minute_overall"]
        limit = rate["limit_per_minute"]
        targets.append(
            {
                "target": f"rate limit: sustains ≥ 90% of {limit} requests/min",
                "measured": f"{achieved:.0f} requests/min ({achieved / limit:.0%}) over {rate['seconds']:.0f} s",
                "pass": achieved >= 0.9 * limit,
            }
        )
        targets.append(
            {
                "target": f"rate limit: at most a handful (≤ {HANDFUL_OF_429S}) of 429s",
                "measured": f"{rate['429s']} x 429",
                "pass": rate["429s"] <= HANDFUL_OF_429S,
            }
        )
    if results["config"]["size"] == "large":
        peak = max((r["peak_rss_mb"] for r in results.get("runs") or []), default=0.0)
        targets.append(
            {
                "target": f"large: peak RSS < {RSS_LIMIT_MB} MB",
                "measured": f"{peak:.0f} MB",
                "pass": bool(results.get("runs")) and peak < RSS_LIMIT_MB,
            }
        )
    return targets


# -- Markdown ---------------------------------------------------------------------------------------------

HEADER = "| tool | streams | run | workers | wall s | requests | records | records/s | CPU s | CPU s /100k rec | peak RSS MB | status |"
RULE = "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"


def _row(r: Result) -> str:
    cpu100k = r.get("cpu_s_per_100k_records")
    status = r["status"] if not r.get("note") else f"{r['status']}: {r['note']}"
    return (
        f"| {r['tool']} | {r['label']} | {r['run']} | {r.get('workers') or 1} | {r['wall_s']:.1f} | {r['requests']:,} | "
        f"{r['records']:,} | {r['records_per_s']:,.0f} | {r['cpu_s']:.1f} | "
        f"{'-' if cpu100k is None else f'{cpu100k:.1f}'} | {r['peak_rss_mb']:.0f} | {status} |"
    )


def _table(rows: t.Iterable[Result]) -> list[str]:
    return [HEADER, RULE, *(_row(r) for r in rows)]


def _verdict(value: bool | None) -> str:
    return {True: "**pass**", False: "**FAIL**", None: "undecided"}[value]


def _top_endpoints(run: Result, n: int = 8) -> str:
    items = list(run.get("by_endpoint", {}).items())[:n]
    total = run.get("requests") or 1
    return "; ".join(f"`{name}` {count:,} ({count / total:.0%})" for name, count in items) or "(no breakdown)"


def render_section(results: Result) -> str:
    cfg = results["config"]
    m = results["machine"]
    scope = results.get("scope", {})
    lines = [
        f"## {_title(results)}",
        "",
        *([results["note"], ""] if results.get("note") else []),
        f"- Machine: {m['nproc']} CPUs, Python {m['python']}, {m['platform']}",
        f"- Command: `{results['command']}`",
        f"- Simulator: `python -m tests.gitlab_sim --size {cfg['size']} --seed {cfg['seed']} --latency-ms {cfg['latency_ms']:g}`; "
        f"{scope.get('groups', '?')} groups ({scope.get('top_groups', '?')} top-level), {scope.get('projects', '?')} projects; "
        f"start_date {cfg.get('start_date', '?')}; cap per run {cfg['timeout_min']:g} min",
    ]
    tap = results.get("tap")
    if tap:
        lines.append(
            f"- tap-gitlab: commit `{tap['repo_commit'][:12]}`"
            + (" with uncommitted changes" if tap["tap_gitlab_uncommitted_changes"] else "")
            + f", imported from `{tap['imported_from']}`"
        )
    runs = results.get("runs") or []
    main = results.get("main_label") or "all streams"
    if main != "all streams":
        lines.append(f"- Streams of the tap-gitlab runs: {', '.join(results.get('our_streams') or [])}")
    full = next((r for r in runs if r["run"] == "full" and r["workers"] == cfg["workers"]), None)
    if full:
        counts = ", ".join(f"{name} {n:,}" for name, n in full["records_by_stream"].items())
        lines.append(f"- Records (tap-gitlab full sync, {main}): {full['records']:,} — {counts}")
    versions = cfg.get("peer_versions") or {}
    if versions:
        lines.append(f"- Peers: {', '.join(f'{name} (`{req}`)' for name, req in versions.items())}")
    lines += ["", f"### tap-gitlab, {main}", "", *_table(r for r in runs if r["workers"] == cfg["workers"])]
    for comparison in results.get("comparisons") or []:
        peer = comparison["peer"]
        lines += [
            "",
            f"### vs {peer} (the {len(comparison['streams'])} streams both have)",
            "",
            f"Streams: {', '.join(comparison['streams'])}.",
            "",
        ]
        ours, theirs = _by_run(comparison["ours"]), _by_run(comparison["peer_runs"])
        rows = [r for run in ("full", "incremental") for r in (ours.get(run), theirs.get(run)) if r]
        lines += _table(rows)
        for run in ("full", "incremental"):
            if run in ours and run in theirs:
                o, p = ours[run], theirs[run]
                lines.append("")
                if p["status"] == "skipped":
                    lines.append(f"{run}: {peer} not run ({p.get('note') or 'skipped'})")
                    continue
                if p["status"] == "timeout":
                    lines.append(f"{run}: {peer} was cut off at the cap; its figures are partial")
                    lines.append("")
                lines.append(
                    f"{run}: wall time {_fraction(o['wall_s'], p['wall_s'])} of {peer}'s, requests "
                    f"{_fraction(o['requests'], p['requests'])}, records/s {o['records_per_s'] / p['records_per_s']:.1f}x"
                    if p["records_per_s"]
                    else f"{run}: {peer} produced no records"
                )
        for r in rows:
            if r["status"] == "skipped":
                continue
            lines.append("")
            lines.append(f"- {r['tool']} {r['run']}: {_top_endpoints(r, 6)}")
    scaling = results.get("scaling") or []
    if scaling:
        lines += ["", f"### Scaling (tap-gitlab, {main}, full sync)", "", *_table(scaling)]
    rate = results.get("rate_limit")
    if rate:
        lines += [
            "",
            f"### Rate limit (simulator enforcing {rate['limit_per_minute']:,} requests/min; tap requests_per_minute={rate['limit_per_minute']:,})",
            "",
            f"{rate['requests']:,} requests in {rate['seconds']:.0f} s: {rate['requests_per_minute_overall']:.0f}/min overall, "
            f"{rate['requests_per_minute_steady'] or 0:.0f}/min while requesting; {rate['429s']} x 429.",
            "",
            *_table(rate["runs"]),
        ]
    targets = results.get("targets") or []
    if targets:
        lines += ["", "### Targets (issue 6)", ""]
        if (cfg["size"], cfg["latency_ms"]) != ("medium", 50):
            lines += [
                "Issue 6 states the peer and scaling targets for `medium` at 50 ms; this run is a different setting.",
                "",
            ]
        lines += ["| target | measured | result |", "|---|---|---|"]
        lines += [f"| {x['target']} | {x['measured']} | {_verdict(x['pass'])} |" for x in targets]
    mine = [r for r in runs if r["workers"] == cfg["workers"]]
    if mine:
        lines += ["", "### Where tap-gitlab's requests go", ""]
        lines += [f"- {r['run']}: {_top_endpoints(r)}" for r in mine]
    return "\n".join(lines)


def _title(results: Result) -> str:
    cfg = results["config"]
    return f"{cfg['size']} dataset, {cfg['latency_ms']:g} ms added latency ({results['date']})"


def render_glance(sections: t.Sequence[Result]) -> str:
    """Every section's targets in one table, each row naming its section."""
    lines = [
        "## Targets at a glance",
        "",
        "Issue 6 states the peer, incremental, scaling and rate-limit targets for `medium` at 50 ms and the memory "
        "target for `large`; rows from other settings are supporting evidence. A target judged on a stream subset "
        "or against a peer that was cut off, skipped or failed is left undecided.",
        "",
        "| section | target | measured | result |",
        "|---|---|---|---|",
    ]
    for results in sections:
        for x in results.get("targets") or []:
            lines.append(f"| {_title(results)} | {x['target']} | {x['measured']} | {_verdict(x['pass'])} |")
    return "\n".join(lines)


def render(sections: t.Sequence[Result], preface: str = "") -> str:
    body = "\n\n".join(render_section(s) for s in sections)
    intro = (
        "# Benchmark results\n\n"
        "Written by `python -m bench.run` (see `bench/run.py`); the raw figures are in `bench/results/`. "
        "Requests are counted by the simulator; CPU seconds (user + system) and peak RSS come from `wait4` on each "
        "extractor's process; records are the RECORD messages on its stdout.\n\n"
    )
    if preface.strip():
        intro += preface.strip() + "\n\n"
    if len(sections) > 1:
        intro += render_glance(sections) + "\n\n"
    return intro + body + "\n"


def main(argv: t.Sequence[str] | None = None) -> int:
    """Re-render RESULTS.md from raw results: `python -m bench.report OUT.md RESULTS.json… [--note TEXT]`."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("output", type=Path)
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--note", action="append", default=[], help="replaces the note of the n-th results file")
    parser.add_argument("--preface", type=Path, default=None, help="Markdown to put before the sections")
    args = parser.parse_args(argv)
    sections = [json.loads(path.read_text()) for path in args.results]
    for section, note in zip(sections, args.note, strict=False):
        section["note"] = note
    for section in sections:
        section["targets"] = evaluate(section)
    args.output.write_text(render(sections, args.preface.read_text() if args.preface else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
