"""`Bookmark` (tap_gitlab/bookmarks.py): its transitions, and today's STATE shapes read and written back unchanged."""

from __future__ import annotations

import copy
import json

import pytest

from tap_gitlab.bookmarks import (
    Bookmark,
    BranchHeads,
    JobsProgress,
    keyed_partitions,
    listed_partitions,
)

T0 = "2024-01-31T12:00:00.000Z"
T1 = "2024-02-01T08:30:00.000Z"

# Partition entries as runs before this module wrote them (singer-sdk's keys beside the tap's).
SHAPES = {
    "sorted listing": {
        "context": {"project_id": 7},
        "replication_key": "updated_at",
        "replication_key_value": T0,
    },
    "fan-out with a boundary": {
        "context": {"group_id": 1},
        "replication_key": "issue_updated_at",
        "replication_key_value": T0,
        "boundary_value": T0,
        "boundary_ids": [101, 102],
    },
    "fan-out with a stale boundary": {
        "context": {"project_id": 3},
        "replication_key": "merge_request_updated_at",
        "replication_key_value": T1,
        "boundary_value": T0,
        "boundary_ids": [5],
    },
    "jobs mid-read": {
        "context": {"project_id": 2, "source": "parent_pipeline"},
        "listing_progress": {"through": T1, "below_id": 4711},
    },
    "jobs after the pipeline listing": {"context": {"project_id": 2}, "listing_progress": {"through": T1}},
    "commits": {
        "context": {"project_id": 9},
        "replication_key": "committed_date",
        "replication_key_value": T0,
        "branch_heads": {"main": "a" * 40, "HEAD": "a" * 40, "feature/x": "b" * 40},
    },
    "the SDK's own only": {"context": {"group_id": 4}, "progress_markers": {"Note": "unsorted"}},
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_todays_state_shapes_round_trip_unchanged(name: str) -> None:
    state = copy.deepcopy(SHAPES[name])
    Bookmark.from_state(state).to_state(state)
    assert json.dumps(state) == json.dumps(SHAPES[name])  # same keys, same values, same order


def test_reading_today_s_shapes() -> None:
    assert Bookmark.from_state(SHAPES["sorted listing"]) == Bookmark(value=T0)
    assert Bookmark.from_state(SHAPES["fan-out with a boundary"]).boundary() == (T0, frozenset({101, 102}))
    # The bookmark moved on since the boundary was written: no parent at it is known to be done.
    assert Bookmark.from_state(SHAPES["fan-out with a stale boundary"]).boundary() == (T1, frozenset())
    assert Bookmark.from_state(SHAPES["jobs mid-read"]).jobs_progress == JobsProgress(through=T1, below_id=4711)
    assert Bookmark.from_state(SHAPES["jobs after the pipeline listing"]).jobs_progress == JobsProgress(T1)
    heads = Bookmark.from_state(SHAPES["commits"]).branch_heads
    assert heads == {"main": "a" * 40, "HEAD": "a" * 40, "feature/x": "b" * 40}
    assert list(heads) == ["main", "HEAD", "feature/x"]
    assert Bookmark.from_state({}) == Bookmark() == Bookmark.from_state(None)
    assert Bookmark().boundary() == (None, frozenset())


def test_a_fan_out_boundary_grows_at_one_value_and_restarts_at_the_next() -> None:
    """Parents 1 and 2 share `updated_at` T0; the bookmark stays at T0 until parent 3 (T1) has its children out."""
    bookmark = Bookmark()
    bookmark = bookmark.advance(T0, [1])
    assert bookmark.boundary() == (T0, frozenset({1}))
    bookmark = bookmark.advance(T0, [2, 1])  # a parent already known is not added twice
    assert bookmark.boundary_ids == (1, 2)
    bookmark = bookmark.advance(T1, [3])
    assert bookmark == Bookmark(value=T1, boundary_value=T1, boundary_ids=(3,))
    state: dict[str, object] = {"context": {"project_id": 1}, "replication_key_value": T1}
    bookmark.to_state(state)
    assert state == {
        "context": {"project_id": 1},
        "replication_key_value": T1,
        "boundary_value": T1,
        "boundary_ids": [3],
    }


def test_jobs_progress_is_saved_after_each_page_and_cleared_at_the_end() -> None:
    state: dict[str, object] = {"context": {"project_id": 2}}
    bookmark = Bookmark.from_state(state).with_progress(JobsProgress(through=T1))
    bookmark.to_state(state)
    assert state["listing_progress"] == {"through": T1}
    Bookmark.from_state(state).with_progress(JobsProgress(T1, below_id=900)).to_state(state)
    assert state["listing_progress"] == {"through": T1, "below_id": 900}
    Bookmark.from_state(state).advance(T1, [77]).cleared_progress().to_state(state)
    assert state == {
        "context": {"project_id": 2},
        "replication_key_value": T1,
        "boundary_value": T1,
        "boundary_ids": [77],
    }


def test_commits_progress_is_the_branch_heads() -> None:
    state: dict[str, object] = {"context": {"project_id": 9}}
    heads = BranchHeads.of({"HEAD": "c" * 40})
    Bookmark.from_state(state).with_progress(heads).to_state(state)
    assert state == {"context": {"project_id": 9}, "branch_heads": {"HEAD": "c" * 40}}
    moved = BranchHeads.of({"HEAD": "d" * 40, "main": "d" * 40})
    Bookmark.from_state(state).with_progress(moved).to_state(state)
    assert state["branch_heads"] == {"HEAD": "d" * 40, "main": "d" * 40}
    assert Bookmark.from_state(state).jobs_progress is None


def test_flow_keys_partitions_by_context_and_back() -> None:
    stream_state = {"partitions": [SHAPES["sorted listing"], SHAPES["jobs mid-read"]]}
    keyed = keyed_partitions(stream_state)
    assert list(keyed["partitions"]) == ['{"project_id":7}', '{"project_id":2,"source":"parent_pipeline"}']
    assert listed_partitions(keyed) == stream_state
    assert keyed_partitions({"replication_key_value": T0}) == {"replication_key_value": T0}
