"""The events stream against GitLab's events finder as its code behaves (app/finders/events_finder.rb).

The simulator caps the listing's count at 10,001 (no next link after page 101 at `per_page=100`, no X-Total),
takes `after`/`before` as whole days of a configurable instance time zone, and drops the events the token
may not see from each page after cutting it. Every test compares the tap's output with the simulator's own
list of events the token may see: records lost must be 0.
"""

from __future__ import annotations

import math

import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.util import DAY, parse_time
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-events-secret-0123"
ZONES = {"-12": -720, "-8": -480, "-3": -180, "+0": 0, "+5:45": 345, "+9": 540, "+14": 840}


def _world(tmp_path, *, zone: int = 0, reads_confidential: bool = True):
    dataset = Dataset.generate(size="small", seed=23)
    dataset.time_zone_offset_minutes = zone
    dataset.token_reads_confidential = reads_confidential
    # A live project with a few events of its own and an issue to comment on.
    pid = next(p for p in sorted(dataset.live_projects()) if 0 < len(dataset.data(p).events) < 100)
    return dataset, pid


def _config(sim, dataset, pid, **settings):
    return sim_config(sim, TOKEN, projects=[dataset.projects[pid]["path_with_namespace"]], **settings)


def _catalog(tmp_path, config):
    return select(discover(tmp_path, config), ["events"])


def _state(pid: int, bookmark: str) -> dict:
    return {
        "bookmarks": {
            "events": {
                "partitions": [
                    {"context": {"project_id": pid}, "replication_key": "created_at", "replication_key_value": bookmark}
                ]
            }
        }
    }


def _ids(records) -> set[int]:
    return {int(r["id"]) for r in records}


def _expected_since(dataset: Dataset, pid: int, bookmark: str | None) -> set[int]:
    low = parse_time(bookmark) if bookmark else None
    return {
        int(e["id"])
        for e in dataset.expected("events", projects=[pid])
        if low is None or (parse_time(e["created_at"]) or 0) >= low
    }


def _event_requests(sim, pid: int):
    return [r for r in sim.requests if r.path.endswith(f"/projects/{pid}/events") and r.status == 200]


def _run(tmp_path, sim, dataset, pid, *, state=None, name="run", **settings):
    config = _config(sim, dataset, pid, **settings)
    run = run_tap(tmp_path / name, config, catalog=_catalog(tmp_path / f"{name}-discover", config), state=state)
    return run


def test_the_simulator_caps_the_events_count_at_10001_and_serves_no_next_link_after_page_101(tmp_path):
    dataset, pid = _world(tmp_path)
    dataset.add_events(pid, 10_150, span=3 * DAY)
    import requests

    with GitLabSimulator(dataset, token=TOKEN) as sim:
        url = f"{sim.base_url}/api/v4/projects/{pid}/events"
        headers = {"PRIVATE-TOKEN": TOKEN}
        answers = {
            page: requests.get(url, params={"per_page": 100, "page": page, "sort": "asc"}, headers=headers, timeout=30)
            for page in (1, 100, 101, 102)
        }
    assert all("X-Total" not in r.headers and "X-Total-Pages" not in r.headers for r in answers.values())
    assert 'rel="next"' in answers[100].headers["Link"] and answers[100].headers["X-Next-Page"] == "101"
    assert 'rel="next"' not in answers[101].headers["Link"] and answers[101].headers["X-Next-Page"] == ""
    assert 'rel="last"' not in answers[101].headers["Link"]
    # Pages are cut from the whole relation: page 102 still holds events, out of range (no links, no prev).
    assert len(answers[102].json()) == 100 and answers[102].headers["X-Prev-Page"] == ""
    assert math.ceil(10_001 / 100) == 101


def test_events_beyond_the_count_cap_since_a_bookmark_are_all_extracted(tmp_path):
    dataset, pid = _world(tmp_path)
    bookmark = dataset.now
    dataset.advance_clock(3600)
    dataset.add_events(pid, 12_500, span=6 * DAY)  # about 2,100 a day: the open window caps, days do not
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        run = _run(tmp_path, sim, dataset, pid, state=_state(pid, bookmark))
    assert run.returncode == 0, run.stderr[-3000:]
    expected = _expected_since(dataset, pid, bookmark)
    got = _ids(run.records["events"])
    assert len(expected) > 12_500 - 1
    assert expected - got == set(), f"records lost: {len(expected - got)}"
    assert len(run.records["events"]) == len(got)  # no duplicates
    assert run.last_state["bookmarks"]["events"]["partitions"][0]["replication_key_value"] == max(
        e["created_at"] for e in dataset.data(pid).events
    )


def test_a_full_read_of_a_project_with_more_events_than_the_cap_loses_none(tmp_path):
    dataset, pid = _world(tmp_path)
    dataset.add_events(pid, 10_400, span=10 * DAY)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        run = _run(tmp_path, sim, dataset, pid)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = _expected_since(dataset, pid, None)
    got = _ids(run.records["events"])
    assert expected - got == set(), f"records lost: {len(expected - got)}"
    assert len(run.records["events"]) == len(expected)


@pytest.mark.parametrize("zone", ["-12", "+5:45", "+14"])
def test_a_day_with_more_than_10100_events_is_extracted_in_any_zone(tmp_path, zone):
    dataset, pid = _world(tmp_path, zone=ZONES[zone])
    bookmark = dataset.now
    dataset.add_events(pid, 10_350, span=3 * 3600)  # one afternoon
    dataset.advance_clock(2 * DAY)
    dataset.add_events(pid, 40, span=3600)  # and a few two days later
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        run = _run(tmp_path, sim, dataset, pid, state=_state(pid, bookmark))
        requests = _event_requests(sim, pid)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = _expected_since(dataset, pid, bookmark)
    got = _ids(run.records["events"])
    assert expected - got == set(), f"records lost: {len(expected - got)}"
    assert len(run.records["events"]) == len(got)
    assert [r for r in requests if int(r.query.get("page", "1")) > 101], "the day over the cap was read past page 101"
    # Pages already read are skipped, not read again: about 20 requests over one read of every page.
    assert len(requests) <= math.ceil(len(expected) / 100) + 25


def test_a_day_over_the_cap_with_hidden_events_between_loses_none(tmp_path):
    dataset, pid = _world(tmp_path, zone=ZONES["-12"], reads_confidential=False)
    bookmark = dataset.now
    for _ in range(4):  # 18,000 events in four hours, a third of them on a confidential issue
        dataset.add_events(pid, 3_000, span=1800)
        dataset.add_events(pid, 1_500, span=900, confidential=True)
    dataset.advance_clock(DAY)
    dataset.add_events(pid, 20, span=60)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        run = _run(tmp_path, sim, dataset, pid, state=_state(pid, bookmark))
    assert run.returncode == 0, run.stderr[-3000:]
    expected = _expected_since(dataset, pid, bookmark)
    got = _ids(run.records["events"])
    assert len(expected) >= 12_020
    assert expected - got == set(), f"records lost: {len(expected - got)}"
    assert got <= _ids(dataset.expected("events", projects=[pid]))  # nothing the token may not see


@pytest.mark.parametrize("zone", list(ZONES))
def test_no_event_after_the_bookmark_is_lost_in_any_instance_zone(tmp_path, zone):
    dataset, pid = _world(tmp_path, zone=ZONES[zone])
    # A bookmark early in a UTC day, then events every 5 minutes for two days: a window computed in UTC
    # starts up to 12 hours late on an instance west of UTC and up to 14 hours early east of it.
    start = parse_time(dataset.now) or 0
    bookmark_epoch = (start // DAY + 1) * DAY + 3 * 3600  # 03:00 UTC the next day
    dataset.advance_clock(bookmark_epoch - start - 600)
    dataset.add_events(pid, 600, span=2 * DAY)
    bookmark = dataset.data(pid).events[-600 + 10]["created_at"]
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        run = _run(tmp_path, sim, dataset, pid, state=_state(pid, bookmark))
        requests = _event_requests(sim, pid)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = _expected_since(dataset, pid, bookmark)
    got = _ids(run.records["events"])
    assert expected - got == set(), f"zone {zone}: records lost: {len(expected - got)}"
    assert min(parse_time(r["created_at"]) or 0 for r in run.records["events"]) >= (parse_time(bookmark) or 0)
    # One listing (a single `after`) of at most the 600 new events and the few before the bookmark.
    assert len({r.query.get("after") for r in requests}) == 1
    assert len(requests) <= math.ceil((600 + len(dataset.data(pid).events) - 600) / 100)


def test_empty_and_short_pages_with_next_links_are_followed_to_the_end(tmp_path):
    dataset, pid = _world(tmp_path, reads_confidential=False)
    bookmark = dataset.now
    dataset.advance_clock(60)
    dataset.add_events(pid, 250, span=600, confidential=True)  # comments the token may not read
    dataset.add_events(pid, 30, span=60)
    dataset.add_events(pid, 120, span=600, confidential=True)
    dataset.add_events(pid, 5, span=60)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        run = _run(tmp_path, sim, dataset, pid, state=_state(pid, bookmark))
        requests = _event_requests(sim, pid)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = _expected_since(dataset, pid, bookmark)
    got = _ids(run.records["events"])
    assert len(expected) >= 35
    assert expected - got == set(), f"records lost: {len(expected - got)}"
    assert not any(
        r.get("target_type") == "Note" and r["note"]["noteable_iid"] == dataset.data(pid).issues[-1]["iid"]
        for r in run.records["events"]
    )
    assert len(requests) >= 4  # the empty first pages and the short ones were followed


def test_a_run_stopped_mid_listing_resumes_from_its_last_state_and_loses_nothing(tmp_path):
    dataset, pid = _world(tmp_path)
    bookmark = dataset.now
    dataset.advance_clock(60)
    dataset.add_events(pid, 11_000, span=4 * DAY)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        # Page 40 of the first window fails for good: the run stops there, as a crash would.
        sim.faults.add("500", path=f"/projects/{pid}/events$", after=39, times=None)
        first = _run(tmp_path, sim, dataset, pid, state=_state(pid, bookmark), name="first")
        assert first.returncode != 0
        assert first.states, "a STATE came out before the failure"
        sim.faults.clear()
        second = _run(tmp_path, sim, dataset, pid, state=first.last_state, name="second")
    assert second.returncode == 0, second.stderr[-3000:]
    expected = _expected_since(dataset, pid, bookmark)
    got = _ids(first.records["events"]) | _ids(second.records["events"])
    assert expected - got == set(), f"records lost: {len(expected - got)}"
    resumed_at = first.last_state["bookmarks"]["events"]["partitions"][0]["replication_key_value"]
    assert min(r["created_at"] for r in second.records["events"]) >= resumed_at
    duplicates = len(first.records["events"]) + len(second.records["events"]) - len(got)
    assert duplicates <= 100


def test_a_small_project_costs_one_request_as_a_single_listing_did(tmp_path):
    dataset, pid = _world(tmp_path)
    events = dataset.data(pid).events
    assert 0 < len(events) < 100
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        full = _run(tmp_path, sim, dataset, pid, name="full")
        full_requests = len(_event_requests(sim, pid))
        dataset.advance_clock(60)
        dataset.add_events(pid, 3, span=10)
        second = _run(tmp_path, sim, dataset, pid, state=full.last_state, name="second")
        second_requests = len(_event_requests(sim, pid)) - full_requests
    assert full.returncode == 0 and second.returncode == 0
    assert _ids(full.records["events"]) == _expected_since(dataset, pid, None) - {e["id"] for e in events[-3:]}
    assert {e["id"] for e in events[-3:]} <= _ids(second.records["events"])
    assert full_requests == 1
    assert second_requests == 1


@pytest.mark.parametrize("kill_after", [2_500, 10_060, 10_330])
def test_sigkill_mid_listing_over_the_cap_then_resume_loses_nothing(tmp_path, kill_after):
    """SIGKILL as tests/integration/test_resume.py does (the lines after the kill point are lost), inside the first window,
    at the cap, and inside the day's pages past it; the resumed run starts from the last STATE read."""
    from tests.integration.test_resume import run_segment

    dataset, pid = _world(tmp_path, zone=ZONES["+14"])
    bookmark = dataset.now
    dataset.add_events(pid, 10_350, span=3 * 3600)
    dataset.advance_clock(2 * DAY)
    dataset.add_events(pid, 40, span=3600)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim, dataset, pid)
        catalog = _catalog(tmp_path / "discover", config)
        first = run_segment(tmp_path / "first", config, catalog, _state(pid, bookmark), kill_after)
        assert first.killed and first.last_state is not None
        second = run_segment(tmp_path / "second", config, catalog, first.last_state, None)
    assert second.returncode == 0, second.stderr[-3000:]
    emitted = [r for stream, r in first.records + second.records if stream == "events"]
    expected = _expected_since(dataset, pid, bookmark)
    assert expected - _ids(emitted) == set(), f"records lost: {len(expected - _ids(emitted))}"
    assert len(emitted) - len(_ids(emitted)) <= 100  # re-read after the resume: at most a page
