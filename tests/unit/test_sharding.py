"""Sharding's guarantees on partitions: disjoint, complete, stable as the instance grows, instance-wide on shard 0."""

from __future__ import annotations

import collections

import pytest

from tap_gitlab.errors import ConfigError
from tap_gitlab.sharding import UNSHARDED, Shard, parse_shard

PARTITIONS = (
    [{"project_id": pid} for pid in range(1, 2001)]
    + [{"project_id": pid, "source": "parent_pipeline"} for pid in range(1, 2001, 7)]
    + [{"group_id": gid} for gid in range(1, 301)]
    + [None]
)


def _owners(context, count):
    return [index for index in range(count) if Shard(index, count).owns(context)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16])
def test_every_partition_belongs_to_exactly_one_shard(count):
    for context in PARTITIONS:
        assert len(_owners(context, count)) == 1, context


def test_instance_wide_partitions_belong_to_shard_0_only():
    assert _owners(None, 4) == [0]
    assert _owners({}, 4) == [0]


def test_a_projects_hidden_twin_goes_with_the_project():
    for pid in range(1, 500):
        assert _owners({"project_id": pid}, 4) == _owners({"project_id": pid, "source": "parent_pipeline"}, 4)


def test_a_partitions_shard_depends_on_its_id_alone_so_new_projects_move_nothing():
    before = {pid: _owners({"project_id": pid}, 4) for pid in range(1, 1001)}
    # The instance grows to 3,000 projects: the first thousand keep their shards.
    after = {pid: _owners({"project_id": pid}, 4) for pid in range(1, 3001)}
    assert all(after[pid] == owners for pid, owners in before.items())


def test_shards_get_similar_shares_of_sequential_ids():
    counts = collections.Counter(_owners({"project_id": pid}, 4)[0] for pid in range(1, 4001))
    assert set(counts) == {0, 1, 2, 3}
    assert max(counts.values()) < 1.1 * 1000
    assert min(counts.values()) > 0.9 * 1000


def test_groups_and_projects_with_the_same_id_are_hashed_apart():
    differs = sum(_owners({"group_id": n}, 4) != _owners({"project_id": n}, 4) for n in range(1, 201))
    assert differs > 100


def test_an_unsharded_run_owns_everything():
    assert not UNSHARDED.sharded
    assert all(UNSHARDED.owns(context) for context in PARTITIONS)
    assert UNSHARDED.describe() == "unsharded"
    assert Shard(1, 4).describe() == "shard 2 of 4"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, UNSHARDED),
        ("", UNSHARDED),
        ({}, UNSHARDED),
        ({"index": 2, "count": 4}, Shard(2, 4)),
        ({"index": "1", "count": "3"}, Shard(1, 3)),
        ('{"index": 0, "count": 2}', Shard(0, 2)),
        ("3/4", Shard(3, 4)),
        (" 0 / 1 ", Shard(0, 1)),
    ],
)
def test_shard_accepts_an_object_its_json_text_or_index_slash_count(value, expected):
    assert parse_shard(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"index": 4, "count": 4}, "index must be from 0 to 3 for count 4, got 4"),
        ({"index": -1, "count": 4}, "index must be from 0 to 3"),
        ({"index": 0, "count": 0}, "count must be at least 1"),
        ({"count": 4}, "index is missing"),
        ({"index": 0, "count": 4, "of": 2}, "unknown key 'of'"),
        ({"index": True, "count": 4}, "index must be a whole number"),
        ({"index": "a", "count": 4}, "index must be a whole number, got 'a'"),
        ("two", "got 'two'"),
        ("{bad", "is not valid JSON"),
        (3, "got int"),
    ],
)
def test_a_bad_shard_is_one_line_naming_the_setting_and_the_fix(value, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_shard(value)
    message = str(caught.value)
    assert message.startswith("setting 'shard' is not valid (")
    assert fragment in message
    assert message.endswith('use {"index": 0, "count": 4} or the text 0/4')
    assert "\n" not in message
