"""Run the real `tap-gitlab` command (a subprocess, as Meltano and the Flow adapter do) and parse its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# Every stdout/stderr of every tap run in the suite, for the suite-wide "no token anywhere" check.
OUTPUTS: list[tuple[str, str]] = []
# Every secret any tap run of the suite was given (see tests/support/secrets_guard.py); run_tap adds the config's.
KNOWN_SECRETS: set[str] = set()
SECRET_KEYS = ("private_token", "access_token", "personal_access_token", "refresh_token", "client_secret", "client_id")


def all_opt_ins() -> dict[str, bool]:
    """Every opt-in stream's setting, on: the configuration of tests that cover every stream."""
    from tap_gitlab.streams import STREAMS

    return {spec.opt_in: True for spec in STREAMS if spec.opt_in}


def sim_config(sim: t.Any, token: str, **settings: t.Any) -> dict[str, t.Any]:
    """A config for the simulator `sim`: 4 workers, no request budget to wait on, plus `settings`."""
    return {
        "api_url": sim.base_url,
        "private_token": token,
        "max_concurrency": 4,
        "requests_per_minute": 100000,
        **settings,
    }


def register_secrets(config: t.Any) -> None:
    """Remember every secret value of a config (private_token, credentials.*token / *secret / client_id)."""
    if isinstance(config, dict):
        for key, value in config.items():
            if key in SECRET_KEYS and isinstance(value, str) and value.strip():
                KNOWN_SECRETS.add(value.strip())
            else:
                register_secrets(value)


@dataclass
class TapRun:
    """The outcome of one tap run."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, t.Any]] = field(default_factory=list)

    @property
    def records(self) -> dict[str, list[dict[str, t.Any]]]:
        result: dict[str, list[dict[str, t.Any]]] = defaultdict(list)
        for message in self.messages:
            if message.get("type") == "RECORD":
                result[message["stream"]].append(message["record"])
        return result

    @property
    def schemas(self) -> dict[str, dict[str, t.Any]]:
        return {m["stream"]: m for m in self.messages if m.get("type") == "SCHEMA"}

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m.get("type") == "STATE"]

    @property
    def last_state(self) -> dict[str, t.Any]:
        states = self.states
        return states[-1] if states else {}

    @property
    def last_stderr_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run_tap(
    tmp_path: Path,
    config: dict[str, t.Any],
    *,
    catalog: dict[str, t.Any] | None = None,
    state: dict[str, t.Any] | None = None,
    args: t.Sequence[str] = (),
    timeout: float = 600,
) -> TapRun:
    """Run `python -m tap_gitlab --config … [--catalog …] [--state …]` and parse stdout as Singer messages."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    register_secrets(config)
    command = [sys.executable, "-m", "tap_gitlab", "--config", str(config_path), *args]
    if catalog is not None:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITLAB_")}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    OUTPUTS.append((proc.stdout, proc.stderr))
    messages = []
    if "--discover" not in args and "--about" not in args:
        for line in proc.stdout.splitlines():
            if line.strip():
                messages.append(json.loads(line))
    return TapRun(proc.returncode, proc.stdout, proc.stderr, messages)


def discover(tmp_path: Path, config: dict[str, t.Any]) -> dict[str, t.Any]:
    run = run_tap(tmp_path / "discover", config, args=["--discover"])
    assert run.returncode == 0, run.stderr[-2000:]
    return t.cast(dict[str, t.Any], json.loads(run.stdout))


def select(catalog: dict[str, t.Any], streams: t.Iterable[str] | None) -> dict[str, t.Any]:
    """A copy of `catalog` with exactly `streams` selected (all when None)."""
    wanted = None if streams is None else set(streams)
    catalog = json.loads(json.dumps(catalog))
    for entry in catalog["streams"]:
        chosen = wanted is None or entry["tap_stream_id"] in wanted
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = chosen
    return catalog
