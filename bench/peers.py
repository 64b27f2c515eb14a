"""Peer extractors: their pinned versions, and the virtualenvs the benchmark installs them into.

Each peer lives in its own virtualenv under `bench/.venvs/`; pip runs with its normal configuration.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"


@dataclass(frozen=True)
class Peer:
    name: str
    requirement: str
    python: str  # interpreter that creates the virtualenv
    command: str  # console script inside the virtualenv (or "" when run through a launcher)

    @property
    def venv(self) -> Path:
        return VENVS_DIR / self.name

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


PEERS: dict[str, Peer] = {
    # Airbyte 4.3.7 needs Python < 3.12 (on 3.12 pip silently resolves an unrelated 2.1.1).
    "airbyte": Peer("airbyte", "airbyte-source-gitlab==4.3.7", "python3.11", "source-gitlab"),
    "singer-io": Peer("singer-io", "tap-gitlab==1.0.1", "python3", ""),
}


def _installed(peer: Peer) -> bool:
    """True when the virtualenv holds exactly the pinned version."""
    pip = peer.bin / "pip"
    if not pip.exists():
        return False
    name, _, version = peer.requirement.partition("==")
    out = subprocess.run([str(pip), "show", name], capture_output=True, text=True, check=False)
    return out.returncode == 0 and f"Version: {version}" in out.stdout


def ensure_peer(peer: Peer, log=print) -> Path:
    """Create or update the peer's virtualenv; returns its bin directory."""
    if _installed(peer):
        return peer.bin
    python = shutil.which(peer.python) or (sys.executable if peer.python == "python3" else None)
    if python is None:
        raise RuntimeError(f"{peer.name}: {peer.python} not found (needed to create its virtualenv)")
    log(f"installing {peer.requirement} into {peer.venv} ({peer.python})")
    if not (peer.bin / "python").exists():
        subprocess.run([python, "-m", "venv", str(peer.venv)], check=True)
    log_path = VENVS_DIR / f"{peer.name}.pip.log"
    with log_path.open("w") as pip_log:
        install = subprocess.run(
            [str(peer.bin / "pip"), "install", peer.requirement], stdout=pip_log, stderr=subprocess.STDOUT, check=False
        )
    if install.returncode != 0:
        raise RuntimeError(f"{peer.name}: pip install {peer.requirement} failed; see {log_path}")
    if not _installed(peer):
        raise RuntimeError(f"{peer.name}: {peer.requirement} did not install")
    return peer.bin


if __name__ == "__main__":  # pragma: no cover - manual use: python -m bench.peers [names]
    for name in sys.argv[1:] or list(PEERS):
        print(ensure_peer(PEERS[name]))
