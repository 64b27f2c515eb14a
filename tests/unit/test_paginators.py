"""tap_gitlab/paginators.py: next links followed by path and query only, re-rooted on api_url; each paginator
driven through a fake response sequence."""

from __future__ import annotations

import json
import typing as t
from urllib.parse import parse_qsl, urlsplit

from tap_gitlab.paginators import (
    TIE_BY_ID,
    KeysetPaginator,
    LinkPaginator,
    UpdatedAtSeekPaginator,
    build_url,
    next_page_url,
    reroot,
)
from tap_gitlab.transport import Headers, Response


def _response(headers: dict[str, str], url: str = "http://127.0.0.1:1/api/v4/projects?per_page=100") -> Response:
    return Response(200, Headers({k.lower(): v for k, v in headers.items()}), b"", url)


def test_next_link_to_other_host_is_rerooted_on_api_url():
    link = (
        '<https://gitlab.internal.example/api/v4/projects?id_after=42&pagination=keyset&per_page=100>; rel="next", '
        '<https://gitlab.internal.example/api/v4/projects?page=1>; rel="first"'
    )
    url = next_page_url(_response({"Link": link}), "http://127.0.0.1:9/gitlab/api/v4")
    assert url == "http://127.0.0.1:9/gitlab/api/v4/projects?id_after=42&pagination=keyset&per_page=100"


def test_encoded_paths_survive_rerooting():
    assert (
        reroot("https://x.example/api/v4/projects/a%2Fb/issues?page=2", "https://y.example/api/v4")
        == "https://y.example/api/v4/projects/a%2Fb/issues?page=2"
    )


def test_link_outside_the_api_is_refused():
    assert reroot("https://evil.example/steal?page=2", "https://y.example/api/v4") is None


def test_x_next_page_without_link_replaces_the_page_parameter():
    response = _response({"X-Next-Page": "3"}, "http://127.0.0.1:1/api/v4/projects/1/issues?page=2&per_page=100")
    assert next_page_url(response, "http://127.0.0.1:1/api/v4") == (
        "http://127.0.0.1:1/api/v4/projects/1/issues?page=3&per_page=100"
    )


def test_empty_x_next_page_ends_the_listing():
    assert next_page_url(_response({"X-Next-Page": ""}), "http://127.0.0.1:1/api/v4") is None


# -- the paginators: a fake response sequence per case ----------------------------------------------------------

ROOT = "http://127.0.0.1:9/gitlab/api/v4"  # an API URL on a sub-path, as self-hosted instances have
ELSEWHERE = "https://gitlab.internal.example/api/v4"  # the external URL GitLab builds its links from


def _page(sent: str, records: list[dict[str, t.Any]], headers: dict[str, str] | None = None) -> Response:
    response = _response(headers or {}, sent)
    response.content = json.dumps(records).encode()
    return response


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _read(paginator, path, params, pages):
    """Drive `paginator` as `GitLabClient.pages` does: `pages(url)` answers (records, headers) for a URL."""
    cursor = paginator.fresh()
    url = build_url(ROOT, path, cursor.first(params, path=path, api_root=ROOT))
    sent, selected = [], []
    while url is not None:
        sent.append(url)
        records, headers = pages(url)
        response = _page(url, records, headers)
        chosen = cursor.select(response, records)
        if chosen is not None:
            selected.append(chosen)
        url = cursor.advance(response, records)
        assert cursor.has_more is (url is not None)
    return sent, selected


def test_link_next_is_followed_rerooted_on_a_sub_path_api_url_with_the_filters_kept():
    params = {"updated_after": "2024-01-31T12:00:00.123Z", "state": "opened"}
    # GitLab rebuilds the filter from the parsed DateTime: milliseconds gone (offset_header_builder.rb).
    link = f'<{ELSEWHERE}/projects/1/issues?page=2&per_page=100&state=opened&updated_after=2024-01-31T12%3A00%3A00%2B00%3A00>; rel="next"'

    def pages(url):
        return ([{"id": 1}], {"Link": link}) if "page=2" not in url else ([{"id": 2}], {})

    sent, selected = _read(LinkPaginator(), "/projects/1/issues", params, pages)
    assert sent[0] == f"{ROOT}/projects/1/issues?per_page=100&updated_after=2024-01-31T12%3A00%3A00.123Z&state=opened"
    assert sent[1].startswith(f"{ROOT}/projects/1/issues?")
    assert _query(sent[1]) == {"page": "2", "per_page": "100", **params}
    assert selected == [[{"id": 1}], [{"id": 2}]]


def test_link_paginator_falls_back_to_x_next_page_when_the_link_is_missing():
    def pages(url):
        page = int(_query(url).get("page", 1))
        return [{"id": page}], ({"X-Next-Page": str(page + 1)} if page < 3 else {"X-Next-Page": ""})

    sent, selected = _read(LinkPaginator(), "/projects/1/labels", {}, pages)
    assert [_query(url).get("page") for url in sent] == [None, "2", "3"]
    assert selected == [[{"id": 1}], [{"id": 2}], [{"id": 3}]]


def test_an_empty_page_ends_the_listing_even_with_a_next_link():
    """Commits send a next link after a full last page."""
    link = f'<{ELSEWHERE}/projects/1/repository/commits?page=2>; rel="next"'
    sent, selected = _read(LinkPaginator(), "/projects/1/repository/commits", {}, lambda url: ([], {"Link": link}))
    assert len(sent) == 1 and selected == [[]]


def test_a_link_outside_the_api_ends_the_listing():
    link = '<https://evil.example/steal?page=2>; rel="next"'
    sent, _ = _read(LinkPaginator(), "/projects", {}, lambda url: ([{"id": 1}], {"Link": link}))
    assert len(sent) == 1


def test_the_paginators_ordering_wins_over_the_listings_params_and_keeps_their_place():
    query = LinkPaginator(order_by="created_at", sort="asc").fresh().first({"sort": "desc", "x": 1}, path="/p")
    assert list(query.items()) == [("per_page", 100), ("sort", "asc"), ("x", 1), ("order_by", "created_at")]
    assert LinkPaginator().fresh().first({"per_page": 20}) == {"per_page": 20}


def test_keyset_desc_sends_keyset_and_follows_the_cursor_links():
    def pages(url):
        after = _query(url).get("id_before")
        if after is None:
            return [{"id": 9}, {"id": 8}], {
                "Link": f'<{ELSEWHERE}/projects/1/jobs?id_before=8&pagination=keyset&per_page=100>; rel="next"'
            }
        return [{"id": 7}], {}

    sent, selected = _read(KeysetPaginator(), "/projects/1/jobs", {"order_by": "created_at"}, pages)
    assert _query(sent[0]) == {"per_page": "100", "pagination": "keyset", "order_by": "id", "sort": "desc"}
    assert _query(sent[1]) == {
        "id_before": "8",
        "pagination": "keyset",
        "per_page": "100",
        "order_by": "id",
        "sort": "desc",
    }
    assert selected == [[{"id": 9}, {"id": 8}], [{"id": 7}]]
    assert KeysetPaginator(order_by="id", sort="asc").params == {
        "pagination": "keyset",
        "order_by": "id",
        "sort": "asc",
    }


def _rec(id_, at):
    return {"id": id_, "updated_at": at}


T1, T2, T3 = "2024-01-01T00:00:01.000Z", "2024-01-01T00:00:02.000Z", "2024-01-01T00:00:03.000Z"


def test_seek_moves_the_filter_then_reads_a_tie_block_by_id_then_goes_on_after_it():
    """Pages: T1,T2 | a full page at T2 (no progress) | the block of T2, by id | the rest after T2 + 1 ms."""
    next_link = {"Link": f'<{ELSEWHERE}/projects/7/pipelines?page=2>; rel="next"'}

    def pages(url):
        query = _query(url)
        if "updated_before" in query:  # the block of T2, in the tie order
            assert (query["order_by"], query["sort"]) == ("id", "asc")
            return ([_rec(2, T2), _rec(3, T2)], next_link) if query["page"] == "1" else ([_rec(4, T2)], {})
        after = query.get("updated_after")
        if after is None:
            return [_rec(1, T1), _rec(2, T2)], next_link
        if after == T2:
            return [_rec(2, T2), _rec(3, T2)], next_link  # no progress: everything at T2
        assert after == "2024-01-01T00:00:02.001Z"
        return [_rec(5, T3)], {}

    sent, selected = _read(UpdatedAtSeekPaginator(tie_order=TIE_BY_ID), "/projects/7/pipelines", {}, pages)
    queries = [_query(url) for url in sent]
    assert queries[0] == {"per_page": "100", "order_by": "updated_at", "sort": "asc"}
    assert queries[1]["updated_after"] == T2
    assert queries[2] == {
        "per_page": "100",
        "order_by": "id",
        "sort": "asc",
        "updated_after": T2,
        "updated_before": "2024-01-01T00:00:02.000999Z",
        "page": "1",
    }
    assert queries[3]["page"] == "2"
    assert queries[4]["updated_after"] == "2024-01-01T00:00:02.001Z" and "updated_before" not in queries[4]
    ids = [record["id"] for page in selected for record in page]
    assert ids == [1, 2, 3, 4, 5]  # nothing twice, nothing lost


def test_seek_on_an_endpoint_that_ignores_the_filter_goes_on_by_offset():
    offset_link = {"Link": f'<{ELSEWHERE}/projects/1/issues?page=2>; rel="next"'}

    def pages(url):
        query = _query(url)
        if query.get("page") == "2":
            return [_rec(3, T3)], {}
        if "updated_after" in query:
            return [_rec(1, T1)], offset_link  # older than the filter: it was ignored
        return [_rec(1, T1), _rec(2, T2)], offset_link

    sent, selected = _read(UpdatedAtSeekPaginator(), "/projects/1/issues", {}, pages)
    assert len(sent) == 3 and _query(sent[2])["page"] == "2"
    assert selected == [[_rec(1, T1), _rec(2, T2)], [_rec(3, T3)]]  # the ignored page is dropped


def test_a_declaration_is_never_read_with_each_listing_gets_a_fresh_copy():
    declared = UpdatedAtSeekPaginator()
    one, two = declared.fresh(), declared.fresh()
    one.first({}, path="/a", api_root=ROOT)
    one.select(_page(f"{ROOT}/a", [_rec(1, T1)]), [_rec(1, T1)])
    two.first({}, path="/b", api_root=ROOT)
    assert two.select(_page(f"{ROOT}/b", [_rec(1, T1)]), [_rec(1, T1)]) == [_rec(1, T1)]
    assert declared.params == {"order_by": "updated_at", "sort": "asc"}


class _Listing:
    """A transport answering each request from `answer(url) -> (records, headers)` (no network); records the
    URLs sent."""

    def __init__(self, answer: t.Callable[[str], tuple[list[t.Any], dict[str, str]]]) -> None:
        self.answer, self.sent = answer, []

    def send(self, method: str, url: str, headers: t.Mapping[str, str]) -> Response:
        self.sent.append(url)
        records, extra = self.answer(url)
        return _page(url, records, {"Content-Type": "application/json", **extra})


def test_client_pages_uses_a_given_paginator_as_declared_and_infers_one_without():
    from tap_gitlab.client import GitLabClient
    from tap_gitlab.settings import normalize

    client = GitLabClient(normalize({"api_url": "https://gitlab.example.test", "private_token": "glpat-x" * 3}))
    link = {"Link": '<https://gitlab.example.test/api/v4/projects/1/jobs?id_before=8&per_page=100>; rel="next"'}
    adapter = _Listing(lambda url: ([{"id": 9}], link) if "id_before" not in url else ([{"id": 7}], {}))
    client.transport = adapter
    pages = list(client.pages("/projects/1/jobs", {"scope": "success", "sort": "asc"}, KeysetPaginator()))
    assert [page.records for page in pages] == [[{"id": 9}], [{"id": 7}]]
    assert _query(adapter.sent[0]) == {
        "per_page": "100",
        "scope": "success",
        "sort": "desc",
        "pagination": "keyset",
        "order_by": "id",
    }
    assert _query(adapter.sent[1])["id_before"] == "8" and _query(adapter.sent[1])["scope"] == "success"


def test_build_url_writes_the_query_urlencode_writes():
    """`build_url` skips urlencode's work for plain keys and values; the query must be the same for any params."""
    import datetime as dt
    import random
    import string
    from urllib.parse import urlencode

    from tap_gitlab.paginators import build_url

    rng = random.Random(7)
    alphabet = string.printable + "éü日本😀"

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))

    def value(depth: int = 0) -> t.Any:
        return rng.choice(
            [
                text,
                lambda: "".join(rng.choice(string.ascii_letters + "_.-~") for _ in range(5)),
                lambda: rng.randint(-(10**20), 10**20),
                lambda: rng.choice([True, False, None]),
                lambda: [value(depth + 1) for _ in range(rng.randint(0, 3))] if depth < 2 else "x",
                rng.random,
                lambda: dt.datetime(2024, 1, 1, 12, 30),
                lambda: b"a b&c",
            ]
        )()

    for _ in range(5000):
        params = {text() or "k": value() for _ in range(rng.randint(0, 5))}
        query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
        assert build_url(ROOT, "/p", params) == f"{ROOT}/p" + (f"?{query}" if query else "")
