"""Sharded runs against the simulator: N shards together emit exactly what one unsharded run emits.

Each shard is an independent tap process with its own state (`shard: {index, count}`). The union of their
records equals an unsharded run's, stream by stream and record by record, with no record from two shards;
every partition in a shard's state is one the shard owns; instance-wide streams come from shard 0 only; and a
sharded run sends no ACTIVATE_VERSION (a target's deletion is table-wide: it would remove the other shards'
rows).
"""

from __future__ import annotations

import collections
import json

import pytest

from tap_gitlab.sharding import Shard
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import all_opt_ins, discover, run_tap, select, sim_config

TOKEN = "glpat-sharding-secret-0042"
COUNT = 3


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One unsharded run and the COUNT shards' runs, every stream and opt-in on, over one instance."""
    dataset = Dataset.generate(size="small", seed=7)
    tmp = tmp_path_factory.mktemp("sharding")
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = sim_config(sim, TOKEN, groups=dataset.top_group_paths(), **all_opt_ins())
        catalog = select(discover(tmp, config), None)
        whole = run_tap(tmp / "whole", config, catalog=catalog)
        shards = [
            run_tap(tmp / f"shard{index}", {**config, "shard": {"index": index, "count": COUNT}}, catalog=catalog)
            for index in range(COUNT)
        ]
        again = run_tap(tmp / "again", {**config, "shard": f"1/{COUNT}"}, catalog=catalog, state=shards[1].last_state)
    for run in (whole, *shards, again):
        assert run.returncode == 0, run.stderr[-3000:]
    return whole, shards, again


def _keyed(run, stream):
    keys = run.schemas[stream]["key_properties"]
    return collections.Counter(
        (tuple(record[key] for key in keys), json.dumps(record, sort_keys=True)) for record in run.records[stream]
    )


def test_the_shards_together_emit_exactly_the_unsharded_runs_records(runs):
    whole, shards, _ = runs
    assert sum(len(records) for records in whole.records.values()) > 1000
    for stream in whole.schemas:
        union: collections.Counter = collections.Counter()
        for run in shards:
            union += _keyed(run, stream)
        assert union == _keyed(whole, stream), stream


def test_no_record_comes_from_two_shards(runs):
    _, shards, _ = runs
    for stream in shards[0].schemas:
        keys = shards[0].schemas[stream]["key_properties"]
        owners: dict[tuple, set[int]] = collections.defaultdict(set)
        for index, run in enumerate(shards):
            for record in run.records[stream]:
                owners[tuple(record[key] for key in keys)].add(index)
        assert not [key for key, found in owners.items() if len(found) > 1], stream


def test_every_shard_does_part_of_the_work(runs):
    _, shards, _ = runs
    counts = [sum(len(records) for records in run.records.values()) for run in shards]
    assert all(count > 0 for count in counts), counts
    assert max(counts) < 0.8 * sum(counts), counts


def test_each_shards_state_holds_only_partitions_it_owns(runs):
    _, shards, _ = runs
    for index, run in enumerate(shards):
        shard = Shard(index, COUNT)
        bookmarks = run.last_state["bookmarks"]
        contexts = [entry["context"] for stream in bookmarks.values() for entry in stream.get("partitions", [])]
        assert contexts, index
        assert all(shard.owns(context) for context in contexts), index


def test_instance_wide_streams_come_from_the_first_shard_only(runs):
    whole, shards, _ = runs
    assert whole.records["site_users"]
    assert len(shards[0].records["site_users"]) == len(whole.records["site_users"])
    assert not shards[1].records["site_users"] and not shards[2].records["site_users"]


def test_a_sharded_run_sends_no_activate_version_and_says_why(runs):
    whole, shards, _ = runs
    assert any(message["type"] == "ACTIVATE_VERSION" for message in whole.messages)
    for index, run in enumerate(shards):
        assert not [message for message in run.messages if message["type"] == "ACTIVATE_VERSION"]
        assert f"Sharding: this is shard {index + 1} of {COUNT}" in run.stderr


def test_a_shard_resumes_from_its_own_state(runs):
    _, shards, again = runs
    first = sum(len(records) for records in shards[1].records.values())
    incremental = {
        stream: len(records)
        for stream, records in again.records.items()
        if again.schemas[stream].get("bookmark_properties")
    }
    # Nothing changed: bookmarked streams re-read at most their boundary records.
    assert sum(incremental.values()) < 0.1 * first, incremental
