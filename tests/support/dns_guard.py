"""Keep tap subprocesses off the network: any name lookup other than 127.0.0.1/localhost fails and is logged.

`block_dns(monkeypatch, folder)` puts a `sitecustomize.py` on the PYTHONPATH of the tap processes started
afterwards (run_tap passes the environment on). Its `socket.getaddrinfo` refuses every other host name with
`socket.gaierror`, as an unresolvable name would, and appends the name to the returned log file, so a test
can both exercise "unresolvable host" and prove the tap never tried to reach another host.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SITECUSTOMIZE = """
import ipaddress
import os
import socket

_real_getaddrinfo = socket.getaddrinfo
_LOG = os.environ["TAP_TEST_DNS_LOG"]


def _guarded_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name != "localhost":
        try:
            ipaddress.ip_address(name)
        except ValueError:
            with open(_LOG, "a", encoding="utf-8") as log:
                log.write(name + "\\n")
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (blocked by the test DNS guard)")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo
"""


def block_dns(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Block name lookups in tap processes started from now on; return the log of attempted names."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    log = folder / "dns-lookups.log"
    log.write_text("")
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(folder) + (os.pathsep + existing if existing else ""))
    monkeypatch.setenv("TAP_TEST_DNS_LOG", str(log))
    return log


def lookups(log: Path) -> list[str]:
    """Host names the tap tried to resolve."""
    return [line for line in log.read_text().splitlines() if line]
