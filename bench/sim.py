"""The GitLab simulator as a child process (its CLI), its admin endpoints, and the benchmark's scope."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import typing as t
import urllib.parse
import urllib.request
from pathlib import Path

from bench.tools import Scope

READY = "GitLab simulator ready:"


class SimProcess:
    """`python -m tests.gitlab_sim …` on an ephemeral port, until `stop()`."""

    def __init__(
        self,
        *,
        size: str,
        seed: int,
        token: str,
        latency_ms: float,
        rate_limit_per_minute: int | None = None,
        module: str = "tests.gitlab_sim",
        cwd: Path | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 900,
    ) -> None:
        command = [sys.executable, "-m", module, "--port", "0", "--size", size, "--seed", str(seed)]
        command += ["--token", token, "--latency-ms", f"{latency_ms:g}"]
        if rate_limit_per_minute:
            command += ["--rate-limit-per-minute", str(rate_limit_per_minute)]
        self.token = token
        self._log_path = log_path
        self._log = log_path.open("w") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=cwd,
            start_new_session=True,
        )
        self.base_url = self._wait_ready(startup_timeout)
        # Keep draining stdout so the simulator never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_ready(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        timer = threading.Timer(timeout, self.stop)
        timer.daemon = True
        timer.start()
        try:
            for line in self.proc.stdout:
                if line.startswith(READY):
                    return line[len(READY) :].split()[0].rstrip("/")
                if time.monotonic() > deadline:
                    break
        finally:
            timer.cancel()
        self.stop()
        tail = self._log_path.read_text()[-2000:] if self._log_path else ""
        raise RuntimeError(f"the simulator did not start (exit code {self.proc.poll()}): {tail}")

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self._log is not subprocess.DEVNULL:
            t.cast(t.IO[str], self._log).close()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin endpoints (no auth) --------------------------------------------------------------------------

    def stats(self) -> dict[str, t.Any]:
        with urllib.request.urlopen(f"{self.base_url}/__sim/stats", timeout=30) as response:
            return t.cast(dict[str, t.Any], json.load(response))

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.base_url}/__sim/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def churn(self, fraction: float) -> dict[str, int]:
        """Change `fraction` of the issues, merge requests and pipelines (`Dataset.churn`); what changed."""
        request = urllib.request.Request(f"{self.base_url}/__sim/churn?fraction={fraction}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=600) as response:
            return t.cast(dict[str, int], json.load(response))

    # -- the API, to learn the instance's groups and projects -------------------------------------------

    def _get_all(self, path: str, params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        items: list[dict[str, t.Any]] = []
        page: str | None = "1"
        while page:
            query = urllib.parse.urlencode({**params, "per_page": 100, "page": page})
            request = urllib.request.Request(
                f"{self.base_url}/api/v4/{path}?{query}", headers={"PRIVATE-TOKEN": self.token}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                items.extend(json.load(response))
                page = response.headers.get("X-Next-Page") or None
        return items

    def scope(self, start_date: str | None = None) -> Scope:
        """Top groups, all groups and all projects, read through the API (before stats are reset)."""
        groups = self._get_all("groups", {"all_available": "true"})
        top = [g for g in groups if not g.get("parent_id")]
        projects: list[dict[str, t.Any]] = []
        for group in top:
            projects += self._get_all(f"groups/{group['id']}/projects", {"include_subgroups": "true"})
        if start_date is None:
            # The instance's first day: a start date before the data only adds empty date windows.
            dates = [x["created_at"] for x in groups + projects if x.get("created_at")]
            start_date = (min(dates)[:10] + "T00:00:00Z") if dates else "2020-01-01T00:00:00Z"
        return Scope(
            api_url=self.base_url,
            token=self.token,
            top_groups=sorted(g["full_path"] for g in top),
            all_groups=sorted(g["full_path"] for g in groups),
            projects=sorted(p["path_with_namespace"] for p in projects),
            start_date=start_date,
        )
