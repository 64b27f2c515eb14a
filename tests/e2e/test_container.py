"""The connector image: built from the Dockerfile with podman, then run like Flow runs it.

scripts/podman-setup installs podman (Debian's, with runc) when it is missing and makes the local base image;
where podman cannot be installed or cannot run, these tests skip and say why. The capture runs in the
container against the simulator on the host network (127.0.0.1).

One test does it all, in order: pytest-xdist spreads the tests of a module over its workers, and two
workers building and removing the same image would trip over each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import typing as t
from pathlib import Path

import pytest

from tests.support.flow_harness import check_session, run_connector

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/tap-gitlab:test"
TOKEN = "glpat-container-secret-42"
CONF = str(ROOT / "scripts" / "podman-containers.conf")
MAX_IMAGE_MB = 400


def _env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": CONF}


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=_env(), timeout=timeout, check=False)


@pytest.fixture(scope="module")
def image() -> t.Iterator[dict[str, t.Any]]:
    setup = subprocess.run(
        [str(ROOT / "scripts" / "podman-setup")], capture_output=True, text=True, timeout=900, check=False
    )
    if setup.returncode == 3:
        pytest.skip("podman is not available here: " + (setup.stderr.strip().splitlines() or ["?"])[-1])
    assert setup.returncode == 0, setup.stderr[-3000:]
    base = setup.stdout.strip().splitlines()[-1]
    started = time.monotonic()
    build = subprocess.run(
        ["podman", "build", "--network=host", "--build-arg", f"BASE_IMAGE={base}", "-t", TAG, str(ROOT)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=900,
        check=False,
    )
    seconds = time.monotonic() - started
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    inspect = _podman("image", "inspect", TAG)
    assert inspect.returncode == 0, inspect.stderr
    (info,) = json.loads(inspect.stdout)
    print(f"\nimage {TAG}: {info['Size'] / 1e6:.0f} MB, built in {seconds:.1f} s on base {base}")
    yield info
    _podman("rmi", "--force", TAG)
    for title in ("tap-gitlab", "tap-gitlab-build"):  # the superseded build stage and images
        _podman("image", "prune", "--force", "--filter", f"label=org.opencontainers.image.title={title}")


def _run(*args: str) -> list[str]:
    return ["podman", "run", "-i", "--rm", "--network=host", *args]


def test_the_image_builds_and_runs_spec_discover_and_a_capture_like_flow(image):
    # Labels, entry point, user, size, no build tools.
    config = image["Config"]
    assert config["Labels"]["FLOW_RUNTIME_PROTOCOL"] == "capture"
    assert config["Labels"]["FLOW_RUNTIME_CODEC"] == "json"
    assert config["Entrypoint"] == ["/opt/venv/bin/flow-source-gitlab"]
    assert config["User"] == "10001:10001"
    assert image["Size"] < MAX_IMAGE_MB * 1e6, f"image is {image['Size'] / 1e6:.0f} MB"
    who = _podman("run", "--rm", "--entrypoint", "id", TAG, "-u")
    assert who.stdout.strip() == "10001", who.stderr
    tools = _podman("run", "--rm", "--entrypoint", "sh", TAG, "-c", "ls /opt/venv/bin; command -v gcc cc make || true")
    assert tools.returncode == 0, tools.stderr
    assert "pip" not in tools.stdout.split() and "gcc" not in tools.stdout, tools.stdout

    # The runtime's spec, through the entry point.
    spec = run_connector(None, command=_run(TAG), env=_env(), timeout=120)
    assert spec.returncode == 0, spec.stderr
    (line,) = spec.stdout.splitlines()
    body = json.loads(line)["spec"]
    assert body["protocol"] == 3032023 and body["resourcePathPointers"] == ["/stream"]

    # The plain Singer tap, with its own entry point.
    about = _podman("run", "--rm", "--entrypoint", "tap-gitlab", TAG, "--about", "--format=json")
    assert about.returncode == 0, about.stderr
    assert json.loads(about.stdout)["name"] == "tap-gitlab"

    # Discover and a capture from the container, against the simulator on the host network.
    from tests.gitlab_sim import Dataset, GitLabSimulator

    dataset = Dataset.generate(size="tiny", seed=3)
    streams = ["branches", "issues"]
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        groups = " ".join(dataset.top_group_paths())
        endpoint = {
            "credentials": {"option_title": "PAT Credentials", "personal_access_token": TOKEN},
            "api_url": sim.base_url,
            "groups": groups,
        }
        discover = run_connector(
            {"discover": {"connectorType": "IMAGE", "config": endpoint}}, command=_run(TAG), env=_env()
        )
        assert discover.returncode == 0, discover.stderr
        bindings = {b["resourceConfig"]["stream"]: b for b in discover.of("discovered")[0]["bindings"]}
        request = {
            "open": {
                "capture": {
                    "name": "acmeCo/gitlab",
                    "config": endpoint,
                    "bindings": [
                        {"resourceConfig": bindings[s]["resourceConfig"], "resourcePath": [s], "stateKey": s}
                        for s in streams
                    ],
                },
                "version": "v1",
                "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
                "state": {},
            }
        }
        started = time.monotonic()
        run = run_connector(request, command=_run(TAG), env=_env(), timeout=300)
        print(f"\ncapture in the container: {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, run.stderr[-3000:]
    check_session(run)
    captured = run.captured()
    for index, stream in enumerate(streams):
        fields = [p[1:] for p in bindings[stream]["key"]]
        got = sorted(tuple(doc[f] for f in fields) for doc in captured.get(index, []))
        want = sorted(tuple(rec[f] for f in fields) for rec in dataset.expected(stream))
        assert got == want, stream
    assert TOKEN not in run.stdout + run.stderr + discover.stdout + discover.stderr
