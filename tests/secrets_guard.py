"""Suite-wide secret guard: no token of the suite may appear in any tap output or registered log.

A pytest plugin (registered in tests/conftest.py). At the end of the session it scans

- `tests.tap_harness.OUTPUTS`: the stdout and stderr of every tap run of the session, and
- every file registered with `register_log(path)` (log files written by tests),

for every secret in `tests.tap_harness.KNOWN_SECRETS`: `run_tap` adds each config's `private_token` and
`credentials` tokens, secrets and client id; tests add others (rotated OAuth tokens) with `register_secret`.
Any hit fails the session (exit code 1), naming where the leak is but never printing the secret.

With pytest-xdist each worker has its own OUTPUTS and secrets: each worker checks its own at its session
finish and hands the findings to the controller (`workeroutput`), which fails the whole run. A worker's own
exit status is not used by xdist, hence the hand-over.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import tap_harness

# Shorter values are too likely to occur by chance ("app", "secret"); the suite's tokens are all longer.
MIN_SECRET_LENGTH = 8
_WORKER_KEY = "secrets_guard_leaks"
_WORKER_COUNT_KEY = "secrets_guard_checked"

LOG_FILES: list[Path] = []
_EXTRA_OUTPUTS: list[tuple[str, str]] = []  # (where, text) registered by tests that run the tap otherwise
_findings: list[str] = []
_checked = {"sources": 0, "secrets": 0}


@dataclass(frozen=True)
class Leak:
    """One secret found in one place; `excerpt` has the secret replaced by `<SECRET>`."""

    where: str
    secret_hint: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: secret {self.secret_hint} in: {self.excerpt}"


def register_secret(value: str | None) -> None:
    """Add a secret the tap may hold without it being in a config (e.g. a token rotated by OAuth refresh)."""
    if value:
        tap_harness.KNOWN_SECRETS.add(value)


def register_log(path: str | Path) -> None:
    """Have the guard scan this file at the end of the session."""
    LOG_FILES.append(Path(path))


def register_output(where: str, text: str) -> None:
    """Have the guard scan this text (output of a process not run through `run_tap`)."""
    _EXTRA_OUTPUTS.append((where, text))


def hint(secret: str) -> str:
    """A recognisable but useless part of a secret: its first 4 characters and its length."""
    return f"{secret[:4]}…({len(secret)} chars)"


def find_leaks(sources: t.Iterable[tuple[str, str]], secrets: t.Iterable[str]) -> list[Leak]:
    """Every (source, secret) pair where the secret occurs in the source's text."""
    checked = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    leaks = []
    for where, text in sources:
        for secret in checked:
            index = text.find(secret)
            if index < 0:
                continue
            excerpt = text[max(0, index - 80) : index + len(secret) + 80]
            for other in checked:
                excerpt = excerpt.replace(other, "<SECRET>")
            leaks.append(Leak(where, hint(secret), " ".join(excerpt.split())))
    return leaks


def sources() -> list[tuple[str, str]]:
    """Everything the guard scans: tap outputs, extra outputs and registered log files."""
    found: list[tuple[str, str]] = []
    for number, (stdout, stderr) in enumerate(tap_harness.OUTPUTS, 1):
        found.append((f"tap run #{number} stdout", stdout))
        found.append((f"tap run #{number} stderr", stderr))
    found.extend(_EXTRA_OUTPUTS)
    for path in LOG_FILES:
        try:
            found.append((f"log file {path}", path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue  # a test's temporary file that is already gone
    return found


def check() -> list[Leak]:
    """The leaks of this process's session so far."""
    return find_leaks(sources(), tap_harness.KNOWN_SECRETS)


# -- pytest hooks ---------------------------------------------------------------------------------------------


def pytest_testnodedown(node: t.Any, error: t.Any) -> None:
    """Controller side of xdist: collect what a worker found."""
    output = getattr(node, "workeroutput", None) or {}
    worker = (getattr(node, "workerinput", None) or {}).get("workerid", "?")
    _findings.extend(f"[{worker}] {leak}" for leak in output.get(_WORKER_KEY, []))
    for key, value in output.get(_WORKER_COUNT_KEY, {}).items():
        _checked[key] += value


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = [str(leak) for leak in check()]
    counts = {"sources": len(sources()), "secrets": len(tap_harness.KNOWN_SECRETS)}
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller decides the exit status
        workeroutput[_WORKER_KEY] = leaks
        workeroutput[_WORKER_COUNT_KEY] = counts
        return
    for key, value in counts.items():
        _checked[key] += value
    _findings.extend(leaks)
    if _findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    if getattr(terminalreporter.config, "workeroutput", None) is not None:
        return
    if not _findings:
        if _checked["sources"]:
            terminalreporter.write_line(
                f"secrets guard: none of {_checked['secrets']} secrets in {_checked['sources']} outputs and logs"
            )
        return
    terminalreporter.section("secrets guard: SECRETS LEAKED", sep="=", red=True, bold=True)
    for finding in _findings:
        terminalreporter.write_line(finding)
    terminalreporter.write_line(f"{len(_findings)} leak(s): the session fails")
