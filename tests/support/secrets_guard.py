"""Suite-wide secret guard: no token of the suite may appear in any tap output or registered log.

A pytest plugin (registered in tests/conftest.py). At the end of the session it scans

- `tests.support.tap_harness.OUTPUTS`: the stdout and stderr of every tap run of the session, and
- every file registered with `register_log(path)` (log files written by tests),

for every secret in `tests.support.tap_harness.KNOWN_SECRETS`: `run_tap` adds each config's `private_token` and
`credentials` tokens, secrets and client id; tests add others (rotated OAuth tokens) with `register_secret`.
Any hit fails the session (exit code 1), naming where the leak is but never printing the secret.

Besides the suite's own secrets, it looks for credentials GitLab itself hands out (`CREDENTIAL_PATTERNS`): the
tokens of GitLab's formats (a project's or group's runner registration token `runners_token`, which GitLab
returns to maintainers and owners, runner, deploy, CI job and trigger tokens, personal access tokens) and URLs
with a user and password (a mirror's `import_url`). The simulator returns such values as GitLab does; none may
reach a record, a log or any other output (tap_gitlab/conform.py drops them).

With pytest-xdist each worker has its own OUTPUTS and secrets: each worker checks its own at its session
finish and hands the findings to the controller (`workeroutput`), which fails the whole run. A worker's own
exit status is not used by xdist, hence the hand-over.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import tap_harness

# Shorter values are too likely to occur by chance ("app", "secret"); the suite's tokens are all longer.
MIN_SECRET_LENGTH = 8
_WORKER_KEY = "secrets_guard_leaks"
_WORKER_COUNT_KEY = "secrets_guard_checked"

# GitLab's token formats: registration tokens start with `RUNNERS_TOKEN_PREFIX = 'GR1348941'`
# (app/models/concerns/runners_token_prefixable.rb); runner authentication tokens with `glrt-`, deploy tokens
# `gldt-`, CI job tokens `glcbt-`, pipeline trigger tokens `glptt-`, personal access tokens `glpat-`; each with
# at least the 20 characters GitLab's tokens have after the prefix. And URLs whose authority carries a password
# (redactions such as `***` or `<redacted>` do not count).
CREDENTIAL_PATTERNS: dict[str, re.Pattern[str]] = {
    "a runner registration token": re.compile(r"GR1348941[0-9A-Za-z_-]{20,}"),
    "a GitLab token": re.compile(r"\b(?:glrt|gldt|glcbt|glptt|glpat)-[0-9A-Za-z_-]{20,}"),
    "a URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/@:\"'<>]+:[^\s/@\"'*<>\[\]]{4,}@"),
}

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


def _redacted(text: str) -> str:
    for pattern in CREDENTIAL_PATTERNS.values():
        text = pattern.sub("<SECRET>", text)
    return text


def find_credentials(sources: t.Iterable[tuple[str, str]]) -> list[Leak]:
    """Every (source, credential) where a value of one of GitLab's credential formats occurs in the source."""
    leaks = []
    for where, text in sources:
        for kind, pattern in CREDENTIAL_PATTERNS.items():
            for match in pattern.finditer(text):
                value = match.group(0)
                start, end = match.span()
                excerpt = _redacted(text[max(0, start - 80) : start]) + "<SECRET>" + _redacted(text[end : end + 80])
                leaks.append(Leak(where, f"{kind} {hint(value)}", " ".join(excerpt.split())))
                break  # one finding per kind and source is enough to fail, and to find
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
    scanned = sources()
    return find_leaks(scanned, tap_harness.KNOWN_SECRETS) + find_credentials(scanned)


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
