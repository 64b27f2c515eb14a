"""Ties and rebuilt links (issue 10, item 7).

GitLab rebuilds offset `Link` URLs from the parsed parameters (`lib/gitlab/pagination/offset_header_builder.rb`
`page_href`), so a `DateTime` filter comes back as `DateTime#to_s`, to the second: `updated_after` widens and
`updated_before` shrinks. Pipelines sorted by `updated_at` have no id tie-break (`app/finders/ci/
pipelines_finder.rb` `sort_items`), so records at one timestamp come in another order on every request. With
more than a page of records at one timestamp, the tap loses none and emits at most one page twice.
"""

from __future__ import annotations

import collections
import random
from urllib.parse import parse_qs, parse_qsl, urlsplit

import requests

from tap_gitlab.paginators import END, TIE_BY_ID, UpdatedAtSeek, keep_filters
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.routes import rebuilt_pairs, shuffle_ties
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-ties-secret-0123456789"
T = "2025-06-01T10:00:00.250Z"


def _p(id_: int, updated_at: str = T) -> dict:
    return {"id": id_, "updated_at": updated_at}


# -- the simulator plays GitLab ------------------------------------------------------------------------------


def test_simulator_links_carry_datetime_parameters_to_the_second_as_rails_writes_them():
    pairs = [("updated_after", "2025-06-01T10:00:00.250Z"), ("updated_before", "2025-06-01T12:00:00.999+02:00")]
    assert rebuilt_pairs([*pairs, ("page", "2"), ("ref", "main")]) == [
        ("updated_after", "2025-06-01T10:00:00+00:00"),
        ("updated_before", "2025-06-01T12:00:00+02:00"),
        ("page", "2"),
        ("ref", "main"),
    ]


def test_simulator_orders_tied_records_differently_per_request_and_reproducibly():
    records = [{"id": i, "updated_at": T if 2 <= i < 300 else f"x{i:04d}"} for i in range(302)]
    first = [r["id"] for r in shuffle_ties(records, "updated_at", 0, 100, random.Random("7/ties/1"))]
    second = [r["id"] for r in shuffle_ties(records, "updated_at", 0, 100, random.Random("7/ties/2"))]
    again = [r["id"] for r in shuffle_ties(records, "updated_at", 0, 100, random.Random("7/ties/1"))]
    assert first[:2] == second[:2] == [0, 1]  # untied records keep their place
    assert first != second and first == again
    assert set(first[2:]) != set(second[2:])  # the same offset page holds other records


def test_simulator_pipeline_next_link_loses_the_milliseconds_of_updated_after():
    dataset = Dataset.generate(size="small", seed=11)
    pid = dataset.live_projects()[0]
    for _ in range(3):
        dataset.create_pipeline(pid, updated_at=T)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        response = requests.get(
            f"{sim.api_url}/projects/{pid}/pipelines",
            params={"updated_after": T, "order_by": "updated_at", "sort": "asc", "per_page": 1},
            headers={"PRIVATE-TOKEN": TOKEN},
            timeout=10,
        )
    link = response.links["next"]["url"]
    assert parse_qs(urlsplit(link).query)["updated_after"] == ["2025-06-01T10:00:00+00:00"]


# -- the tap's seek ------------------------------------------------------------------------------------------


def test_next_link_keeps_the_tap_filters_and_takes_only_the_page_from_gitlab():
    sent = "http://h/api/v4/projects/1/pipelines?order_by=updated_at&sort=asc&updated_after=2025-06-01T10%3A00%3A00.250Z&page=1&per_page=100"
    link = "http://h/api/v4/projects/1/pipelines?order_by=updated_at&page=2&per_page=100&sort=asc&updated_after=2025-06-01T10%3A00%3A00%2B00%3A00"
    query = dict(parse_qsl(urlsplit(keep_filters(link, sent)).query))
    assert query["updated_after"] == "2025-06-01T10:00:00.250Z"
    assert query["page"] == "2"


def test_a_page_entirely_at_one_timestamp_reads_that_timestamp_as_a_block_in_id_order_then_seeks_past_it():
    query = {"order_by": "updated_at", "sort": "asc", "per_page": 100}
    seek = UpdatedAtSeek(query, TIE_BY_ID)  # pipelines: no id tie-break
    assert seek is not None
    assert seek.accept([_p(i) for i in range(100)]) == [_p(i) for i in range(100)]
    assert seek.next_query(True) == {**query, "updated_after": T}
    assert seek.accept([_p(i) for i in range(50, 150)]) == [_p(i) for i in range(100, 150)]
    block = seek.next_query(True)  # no progress: the block of T, in a total order, by offset
    assert block == {
        **query,
        "order_by": "id",
        "updated_after": T,
        "updated_before": "2025-06-01T10:00:00.250999Z",
        "page": 1,
    }
    assert seek.accept([_p(i) for i in range(100)], total=350) == []
    assert seek.next_query(True)["page"] == 2
    assert seek.accept([_p(i) for i in range(100, 200)], total=350) == [_p(i) for i in range(150, 200)]
    assert seek.next_query(True)["page"] == 3
    assert seek.accept([_p(i) for i in range(200, 300)], total=350) == [_p(i) for i in range(200, 300)]
    assert seek.next_query(True)["page"] == 4
    assert seek.accept([_p(i) for i in range(300, 350)], total=350) == [_p(i) for i in range(300, 350)]
    after = seek.next_query(False)  # the block is done: on at T + 1 ms, in the listing's own order
    assert after == {**query, "updated_after": "2025-06-01T10:00:00.251Z"}
    assert seek.accept([_p(400, "2025-06-01T10:00:01.000Z")]) == [_p(400, "2025-06-01T10:00:01.000Z")]
    assert seek.next_query(False) is END


def test_issue_blocks_keep_the_listing_order_gitlab_breaks_ties_in():
    query = {"order_by": "updated_at", "sort": "asc"}
    seek = UpdatedAtSeek(query)
    assert seek is not None
    seek.accept([_p(i) for i in range(100)])
    seek.next_query(True)
    seek.accept([_p(i) for i in range(100)])
    block = seek.next_query(True)
    assert block is not None and block != END
    assert block["order_by"] == "updated_at"  # issues and merge requests: id tie-break (issuable.rb)


def test_a_block_that_loses_records_while_read_is_read_again_from_its_first_page():
    seek = UpdatedAtSeek({"order_by": "updated_at", "sort": "asc"}, TIE_BY_ID)
    assert seek is not None
    seek.accept([_p(i) for i in range(100)])
    seek.next_query(True)
    seek.accept([_p(i) for i in range(100)])
    assert seek.next_query(True)["page"] == 1
    seek.accept([_p(i) for i in range(100)], total=250)
    assert seek.next_query(True)["page"] == 2
    # Record 5 was updated away: every later offset moved one place, record 100 is on no page now.
    assert seek.accept([_p(i) for i in range(101, 201)], total=249) == [_p(i) for i in range(101, 201)]
    assert seek.next_query(True)["page"] == 1
    assert seek.accept([*(_p(i) for i in range(5)), *(_p(i) for i in range(6, 101))], total=249) == [_p(100)]


def test_a_block_stays_inside_the_listing_window():
    query = {"order_by": "updated_at", "sort": "asc", "updated_before": "2025-06-01T10:00:00.250400Z"}
    seek = UpdatedAtSeek(query)
    assert seek is not None
    seek.accept([_p(i) for i in range(100)])
    seek.next_query(True)
    seek.accept([_p(i) for i in range(100)])
    block = seek.next_query(True)
    assert isinstance(block, dict) and block["updated_before"] == "2025-06-01T10:00:00.250400Z"
    seek.accept([_p(i) for i in range(100)], total=100)
    assert seek.next_query(False) is END  # T + 1 ms is past the window


# -- end to end -----------------------------------------------------------------------------------------------


def test_350_pipelines_at_one_updated_at_lose_none_and_repeat_at_most_one_page(tmp_path):
    dataset = Dataset.generate(size="small", seed=11)
    pid = dataset.live_projects()[0]
    path = dataset.projects[pid]["path_with_namespace"]
    tied = {dataset.create_pipeline(pid, updated_at=T)["id"] for _ in range(350)}
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = sim_config(sim, TOKEN, projects=path)
        catalog = select(discover(tmp_path, config), ["pipelines"])
        sim.clear_requests()
        run = run_tap(tmp_path / "run", config, catalog=catalog)
        requests_made = [entry.query for entry in sim.requests if entry.path.endswith("/pipelines")]
    assert run.returncode == 0, run.stderr[-3000:]
    expected = {p["id"] for p in dataset.expected("pipelines", projects=[path])}
    got = collections.Counter(record["id"] for record in run.records["pipelines"])
    lost = expected - set(got)
    duplicates = sum(n - 1 for n in got.values())
    print(f"pipelines: {len(expected)} expected ({len(tied)} at {T}), lost {len(lost)}, duplicates {duplicates}")
    assert not lost
    assert duplicates <= 100
    assert tied <= set(got)
    # The block was read by id with the exact filter, never by a link's second-precision timestamp.
    assert any(
        q.get("order_by") == "id" and q.get("updated_before") == "2025-06-01T10:00:00.250999Z" for q in requests_made
    )
    assert all("+00:00" not in (q.get("updated_after") or "") for q in requests_made)
