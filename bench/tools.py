"""How each extractor is configured, given a catalog, and started against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

from bench.peers import BENCH_DIR, PEERS

# Peer stream name -> our stream name, for the streams both have (the comparison's stream set).
PEER_STREAMS: dict[str, dict[str, str]] = {
    "airbyte": {
        "groups": "groups",
        "group_milestones": "group_milestones",
        "group_members": "group_members",
        "group_labels": "group_labels",
        "group_issue_boards": "group_issue_boards",
        "epics": "epics",
        "epic_issues": "epic_issues",
        "projects": "projects",
        "project_milestones": "project_milestones",
        "project_members": "project_members",
        "project_labels": "project_labels",
        "branches": "branches",
        "releases": "releases",
        "tags": "tags",
        "users": "users",  # GET /projects/:id/users in all three
        "deployments": "deployments",
        "commits": "commits",
        "issues": "issues",
        "merge_requests": "merge_requests",
        "merge_request_commits": "merge_request_commits",
        "pipelines": "pipelines",
        "pipelines_extended": "pipelines_extended",
        "jobs": "jobs",
    },
    "singer-io": {
        "groups": "groups",
        "projects": "projects",
        "branches": "branches",
        "commits": "commits",
        "issues": "issues",
        "users": "users",  # GET /projects/:id/users
        "group_milestones": "group_milestones",
        "project_milestones": "project_milestones",
    },
}

AIRBYTE_INCREMENTAL = {"commits", "issues", "merge_requests", "pipelines"}


@dataclass
class Scope:
    """What the benchmark instance holds, as the extractors are told about it."""

    api_url: str
    token: str
    top_groups: list[str]  # full paths of top-level groups
    all_groups: list[str]  # full paths of every group, subgroups included
    projects: list[str]  # path_with_namespace of every project below the top groups
    start_date: str


def our_command() -> list[str]:
    script = Path(sys.executable).parent / "tap-gitlab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_gitlab"]


def our_config(scope: Scope, *, workers: int, requests_per_minute: int) -> dict[str, t.Any]:
    return {
        "api_url": scope.api_url,
        "private_token": scope.token,
        "groups": scope.top_groups,
        "start_date": scope.start_date,
        "max_concurrency": workers,
        "requests_per_minute": requests_per_minute,
    }


def airbyte_config(scope: Scope) -> dict[str, t.Any]:
    # groups_list (not the legacy strings, which make it rewrite the config); subgroups come automatically.
    return {
        "credentials": {"auth_type": "access_token", "access_token": scope.token},
        "api_url": scope.api_url,
        "start_date": scope.start_date,
        "groups_list": scope.top_groups,
    }


def singer_io_config(scope: Scope) -> dict[str, t.Any]:
    # It does not expand subgroups: name every group; its projects come from each group's listing.
    return {
        "api_url": scope.api_url,
        "private_token": scope.token,
        "start_date": scope.start_date,
        "groups": " ".join(scope.all_groups),
        "projects": "",
    }


def peer_command(peer: str) -> list[str]:
    if peer == "airbyte":
        return [str(PEERS["airbyte"].bin / "source-gitlab")]
    if peer == "singer-io":
        # -I: isolated mode, so neither PYTHONPATH nor this repository can shadow its `tap_gitlab` package.
        return [str(PEERS["singer-io"].bin / "python"), "-I", str(BENCH_DIR / "singer_io_launcher.py")]
    raise ValueError(peer)


def write_json(path: Path, data: t.Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def peer_env() -> dict[str, str]:
    """The environment for a peer: no PYTHONPATH (it could shadow its packages), no DEPLOYMENT_MODE=cloud."""
    drop = {"PYTHONPATH", "PYTHONHOME", "DEPLOYMENT_MODE"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TAP_GITLAB_")}


def _discover_output(command: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"discovery failed: {' '.join(command[:2])}…: {proc.stderr[-2000:]}")
    return proc.stdout


def our_catalog(config_path: Path, work: Path) -> dict[str, t.Any]:
    return json.loads(_discover_output([*our_command(), "--config", str(config_path), "--discover"], work))


def select_singer(catalog: dict[str, t.Any], streams: t.Collection[str]) -> dict[str, t.Any]:
    """A copy of a Singer catalog with exactly `streams` selected (top-level metadata); others stay listed."""
    entries = []
    for entry in catalog["streams"]:
        entry = json.loads(json.dumps(entry))
        chosen = entry["tap_stream_id"] in streams
        entry["selected"] = chosen
        metadata = entry.setdefault("metadata", [])
        top = next((m for m in metadata if not m.get("breadcrumb")), None)
        if top is None:
            top = {"breadcrumb": [], "metadata": {}}
            metadata.append(top)
        top["metadata"]["selected"] = chosen
        entries.append(entry)
    return {"streams": entries}


def singer_io_catalog(config_path: Path, work: Path) -> dict[str, t.Any]:
    out = _discover_output([*peer_command("singer-io"), "-c", str(config_path), "--discover"], work, env=peer_env())
    return t.cast(dict[str, t.Any], json.loads(out))


def airbyte_catalog(config_path: Path, work: Path) -> dict[str, t.Any]:
    out = _discover_output([*peer_command("airbyte"), "discover", "--config", str(config_path)], work, env=peer_env())
    for line in out.splitlines():
        if '"CATALOG"' not in line:
            continue
        message = json.loads(line)
        streams = []
        for stream in message["catalog"]["streams"]:
            incremental = stream["name"] in AIRBYTE_INCREMENTAL and "incremental" in stream["supported_sync_modes"]
            configured: dict[str, t.Any] = {
                "stream": stream,
                "sync_mode": "incremental" if incremental else "full_refresh",
                "destination_sync_mode": "append",
            }
            if incremental and stream.get("default_cursor_field"):
                configured["cursor_field"] = stream["default_cursor_field"]
            streams.append(configured)
        return {"streams": streams}
    raise RuntimeError("airbyte discover printed no CATALOG")
