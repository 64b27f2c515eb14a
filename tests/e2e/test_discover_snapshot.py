"""`tap-gitlab --discover` is pinned: a change to any stream's schema, keys or metadata shows up in review.

Regenerate after an intended change with `UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/e2e/test_discover_snapshot.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support.tap_harness import discover

SNAPSHOT = Path(__file__).parent / "snapshots" / "discover.json"
# Discovery needs no API call: nothing listens here, and nothing may be asked.
CONFIG = {"api_url": "https://127.0.0.1:9", "private_token": "glpat-discover-snapshot"}


def test_discover_output_matches_the_snapshot(tmp_path):
    catalog = discover(tmp_path, CONFIG)
    text = json.dumps(catalog, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_SNAPSHOTS=1"
    assert text == SNAPSHOT.read_text(), "discover output changed; if intended, regenerate the snapshot"


def test_discovered_keys_and_replication_follow_the_stream_classes(tmp_path):
    from tap_gitlab.streams import STREAMS

    catalog = discover(tmp_path, CONFIG)
    entries = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert set(entries) == {stream.name for stream in STREAMS}
    for stream in STREAMS:
        entry = entries[stream.name]
        top = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        assert top["table-key-properties"] == list(stream.keys), stream.name
        assert entry["key_properties"] == list(stream.keys), stream.name
        if stream.replication_key:
            assert entry["replication_method"] == "INCREMENTAL", stream.name
            assert entry["replication_key"] == stream.replication_key, stream.name
            assert top["valid-replication-keys"] == [stream.replication_key], stream.name
        else:
            assert entry["replication_method"] == "FULL_TABLE", stream.name
        for key in stream.keys:
            assert key in entry["schema"]["properties"], (stream.name, key)
