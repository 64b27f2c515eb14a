"""Next links are followed by path and query only, re-rooted on api_url."""

from __future__ import annotations

import requests

from tap_gitlab.pagination import next_page_url, reroot


def _response(
    headers: dict[str, str], url: str = "http://127.0.0.1:1/api/v4/projects?per_page=100"
) -> requests.Response:
    response = requests.Response()
    response.headers.update(headers)
    response.request = requests.Request("GET", url).prepare()
    return response


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
