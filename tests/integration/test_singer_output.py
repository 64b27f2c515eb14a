"""The tap's own Singer writers (tap_gitlab/singer_output.py) write what singer-sdk's writers write, on a real sync.

The tap runs twice on one simulator, all default streams: once as it is, once with singer-sdk's own message and
STATE writers (`TAP_GITLAB_SDK_WRITER=1`, the test-only switch). stdout is compared byte for byte, with
`time_extracted`, the run's version and the SDK's signpost (timestamps of the run) masked.

The simulator shuffles pipelines with equal `updated_at` on every request (GitLab does: routes.py
`unordered_ties`), so the order of tied pipelines, of their fan-out children and the parent ids in STATE can
differ between any two runs. The lines of the streams fed by the pipeline listing are therefore compared after
sorting; STATE lines are compared in order as values without those streams' bookmarks (their bytes are
pinned by tests/unit/test_singer_output.py), and every other line in order, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

from tap_gitlab import singer_output
from tap_gitlab.streams import STREAMS
from tests.conftest import SIM_TOKEN
from tests.support.tap_harness import OUTPUTS, register_secrets, sim_config

# Streams whose records come from (or through) the pipeline listing, where the simulator shuffles ties.
TIED = {spec.name for spec in STREAMS if spec.name == "pipelines" or (spec.parent and "pipelines" in spec.parent.path)}
MASKS = (
    (re.compile(r'"time_extracted":"[^"]*"'), '"time_extracted":"T"'),
    (re.compile(r'"version":\d+'), '"version":0'),
    (re.compile(r'"replication_key_signpost":"[^"]*"'), '"replication_key_signpost":"T"'),
)


def sync(tmp: Path, config: dict[str, t.Any], *, sdk_writer: bool) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.json").write_text(json.dumps(config))
    register_secrets(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITLAB_")}
    if sdk_writer:
        env[singer_output.SDK_WRITER_ENV] = "1"
    command = [sys.executable, "-m", "tap_gitlab", "--config", str(tmp / "config.json")]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
    OUTPUTS.append((proc.stdout, proc.stderr))
    (tmp / "stdout.jsonl").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def split(stdout: str) -> tuple[list[t.Any], list[str], list[str]]:
    """(lines in order, lines of tied streams sorted, STATE bookmarks of tied streams sorted), masked.

    Lines in order are the raw text, but for STATE lines: their value without the tied streams' bookmarks.
    """
    ordered: list[t.Any] = []
    tied, tied_states = [], []
    for line in stdout.splitlines(keepends=True):
        for mask, replacement in MASKS:
            line = mask.sub(replacement, line)
        message = json.loads(line)
        if message.get("stream") in TIED:
            tied.append(line)
        elif message["type"] == "STATE":
            bookmarks = message["value"].get("bookmarks", {})
            for name in sorted(TIED & bookmarks.keys()):
                tied_states.append(json.dumps(bookmarks.pop(name), sort_keys=True))
            ordered.append(message)
        else:
            ordered.append(line)
    return ordered, sorted(tied), sorted(tied_states)


def test_the_tap_writes_singer_sdks_bytes(gitlab_sim, gitlab_dataset, tmp_path: Path) -> None:
    config = sim_config(gitlab_sim, SIM_TOKEN, groups=gitlab_dataset.top_group_paths())
    ours = sync(tmp_path / "ours", config, sdk_writer=False)
    sdk = sync(tmp_path / "sdk", config, sdk_writer=True)
    assert ours.count('"type":"RECORD"') > 1000 and ours.count('"type":"STATE"') > 10
    ours_ordered, ours_tied, ours_tied_states = split(ours)
    sdk_ordered, sdk_tied, sdk_tied_states = split(sdk)
    assert ours_ordered == sdk_ordered
    assert ours_tied == sdk_tied
    assert len(ours_tied_states) == len(sdk_tied_states)
    if ours_tied_states != sdk_tied_states:  # ties came in another order: at least the same streams' bookmarks
        assert {s.split(":")[0] for s in ours_tied_states} == {s.split(":")[0] for s in sdk_tied_states}
