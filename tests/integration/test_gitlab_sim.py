"""The simulator behaves like GitLab: checked with an independent client and against the reference.

Sections cited are those of ../shared/reference/gitlab-api-v4.md.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import gitlab
import pytest
import requests

from tests.conftest import SIM_TOKEN
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.routes import Listing, Request


def _get(sim, path, token=SIM_TOKEN, **params):
    headers = {"PRIVATE-TOKEN": token} if token else {}
    return requests.get(f"{sim.base_url}/api/v4{path}", headers=headers, params=params, timeout=10)


def _links(response):
    return requests.utils.parse_header_links(response.headers.get("Link", "")) if response.headers.get("Link") else []


def _rel(response, rel):
    return next((link["url"] for link in _links(response) if link["rel"] == rel), None)


@pytest.fixture
def fresh_sim():
    """A simulator on its own dataset, for tests that mutate data."""
    with GitLabSimulator(Dataset.generate(size="small", seed=11), token=SIM_TOKEN) as sim:
        yield sim


# -- fidelity with python-gitlab --------------------------------------------------------------------------------------


def test_python_gitlab_lists_exactly_the_dataset(gitlab_sim, gitlab_dataset):
    ds = gitlab_dataset
    gl = gitlab.Gitlab(gitlab_sim.base_url, private_token=SIM_TOKEN)
    projects = gl.projects.list(get_all=True, per_page=5)
    assert sorted(p.id for p in projects) == sorted(ds.live_projects())
    keyset = list(gl.projects.list(iterator=True, pagination="keyset", order_by="id", sort="asc", per_page=4))
    assert [p.id for p in keyset] == sorted(ds.live_projects())
    pid = 1
    issues = gl.projects.get(pid).issues.list(get_all=True)
    assert sorted(i.iid for i in issues) == sorted(i["iid"] for i in ds.data(pid).issues)
    mrs = gl.projects.get(pid).mergerequests.list(get_all=True, state="all")
    assert len(mrs) == len(ds.data(pid).merge_requests)
    commits = gl.projects.get(pid).commits.list(get_all=True, per_page=100)
    assert len(commits) == len(ds.data(pid).commits)
    branches = gl.projects.get(pid).branches.list(get_all=True)
    assert {b.name for b in branches} == {b["name"] for b in ds.data(pid).branches}
    members = gl.projects.get(pid).members.list(get_all=True)
    assert {m.id for m in members} == {m["id"] for m in ds.data(pid).members}
    top = next(g for g in ds.groups.values() if g["parent_id"] is None)
    group = gl.groups.get(top["id"])
    group_projects = group.projects.list(get_all=True, include_subgroups=True, with_shared=False)
    assert sorted(p.id for p in group_projects) == sorted(
        ds.group_project_ids(top["id"], include_subgroups=True, with_shared=False)
    )
    assert len(gl.groups.list(get_all=True)) == len(ds.groups)
    users = list(gl.users.list(iterator=True, pagination="keyset", order_by="id", sort="asc"))
    assert len(users) == len(ds.users)
    assert len(group.issues.list(get_all=True, non_archived=False)) == sum(
        len(ds.data(p).issues)
        for p in ds.group_project_ids(top["id"], include_subgroups=True, with_shared=False)
        if (p, "issues") not in ds.forbidden
    )


def test_expected_matches_a_full_listing(gitlab_sim, gitlab_dataset):
    """expected('issues') is what the group-level listings (archived included) return."""
    tops = [g["id"] for g in gitlab_dataset.groups.values() if g["parent_id"] is None]
    got = []
    for gid in tops:
        url = f"{gitlab_sim.base_url}/api/v4/groups/{gid}/issues"
        params = {"per_page": 100, "non_archived": "false", "order_by": "updated_at", "sort": "asc"}
        while url:
            r = requests.get(url, headers={"PRIVATE-TOKEN": SIM_TOKEN}, params=params, timeout=10)
            got += r.json()
            url, params = _rel(r, "next"), None
    expected = gitlab_dataset.expected("issues")
    assert sorted(i["id"] for i in got) == sorted(i["id"] for i in expected)
    assert len(gitlab_dataset.expected("languages")) >= len(gitlab_dataset.live_projects())
    jobs = gitlab_dataset.expected("jobs")
    assert all({"project_id", "pipeline_id"} <= set(j) for j in jobs)
    assert len(gitlab_dataset.expected("commits", all_branches=True)) > len(gitlab_dataset.expected("commits"))


# -- pagination (§3) ----------------------------------------------------------------------------------------------------


def test_offset_headers_first_middle_last_and_link_params(gitlab_sim, gitlab_dataset):
    total = len(gitlab_dataset.data(1).issues)
    pages = -(-total // 7)
    first = _get(gitlab_sim, "/projects/1/issues", per_page=7, state="", labels="", order_by="id", sort="asc")
    assert first.headers["X-Page"] == "1"
    assert first.headers["X-Per-Page"] == "7"
    assert first.headers["X-Prev-Page"] == ""
    assert first.headers["X-Next-Page"] == "2"
    assert first.headers["X-Total"] == str(total)
    assert first.headers["X-Total-Pages"] == str(pages)
    assert [link["rel"] for link in _links(first)] == ["next", "first", "last"]
    query = parse_qs(urlsplit(_rel(first, "next")).query, keep_blank_values=True)
    assert query == {
        "order_by": ["id"],
        "sort": ["asc"],
        "state": [""],
        "labels": [""],
        "page": ["2"],
        "per_page": ["7"],
    }
    middle = requests.get(_rel(first, "next"), headers={"PRIVATE-TOKEN": SIM_TOKEN}, timeout=10)
    assert [link["rel"] for link in _links(middle)] == ["prev", "next", "first", "last"]
    assert middle.headers["X-Prev-Page"] == "1"
    last = _get(gitlab_sim, "/projects/1/issues", per_page=7, page=pages)
    assert last.headers["X-Next-Page"] == ""
    assert len(last.json()) == total - 7 * (pages - 1)
    assert [link["rel"] for link in _links(last)] == ["prev", "first", "last"]
    clamped = _get(gitlab_sim, "/projects/1/issues", per_page=500)
    assert clamped.headers["X-Per-Page"] == "100"


def test_no_totals_above_10000(gitlab_sim):
    """§3.1 "More than 10,000 records": no X-Total, X-Total-Pages or rel=last (unit-level, 10,001 rows)."""
    rows = [{"id": i} for i in range(10_001)]
    req = Request("GET", "/things", [("per_page", "100")], {"per_page": "100"}, {}, "/api/v4/things")
    items, headers = gitlab_sim.routes.paginate(req, Listing(rows))
    names = dict(headers)
    assert len(items) == 100
    assert "X-Total" not in names and "X-Total-Pages" not in names
    assert 'rel="last"' not in names["Link"] and 'rel="next"' in names["Link"]
    req = Request("GET", "/things", [("per_page", "100")], {"per_page": "100"}, {}, "/api/v4/things")
    _, headers = gitlab_sim.routes.paginate(req, Listing(rows[:10_000]))
    assert dict(headers)["X-Total"] == "10000"


def test_commits_have_no_totals_and_a_trailing_empty_page(gitlab_sim, gitlab_dataset):
    total = len(gitlab_dataset.data(2).commits)
    r = _get(gitlab_sim, "/projects/2/repository/commits", per_page=total)
    assert len(r.json()) == total
    assert "X-Total" not in r.headers and r.headers["X-Next-Page"] == "2"
    assert 'rel="last"' not in r.headers["Link"]
    after = requests.get(_rel(r, "next"), headers={"PRIVATE-TOKEN": SIM_TOKEN}, timeout=10)
    assert after.json() == [] and after.headers["X-Next-Page"] == ""


def test_keyset_projects_and_jobs(gitlab_sim, gitlab_dataset):
    r = _get(gitlab_sim, "/projects", pagination="keyset", order_by="id", sort="asc", per_page=5)
    assert "X-Total" not in r.headers and "X-Page" not in r.headers
    assert [link["rel"] for link in _links(r)] == ["next"]
    assert parse_qs(urlsplit(_rel(r, "next")).query)["id_after"] == [str(r.json()[-1]["id"])]
    ids, url, params = (
        [],
        f"{gitlab_sim.base_url}/api/v4/projects/1/jobs",
        {"pagination": "keyset", "order_by": "id", "sort": "desc", "per_page": 7},
    )
    while url:
        page = requests.get(url, headers={"PRIVATE-TOKEN": SIM_TOKEN}, params=params, timeout=10)
        ids += [j["id"] for j in page.json()]
        assert "cursor" in (_rel(page, "next") or "cursor")
        url, params = _rel(page, "next"), None
    assert ids == sorted((j["id"] for j in gitlab_dataset.data(1).jobs), reverse=True)


def test_405_offset_cap_and_unsupported_keyset(gitlab_sim):
    r = _get(gitlab_sim, "/users", page=2501, per_page=20)
    assert r.status_code == 405
    assert r.json() == {
        "error": "Offset pagination has a maximum allowed offset of 50000 for requests that return "
        "objects of type User. Remaining records can be retrieved using keyset pagination."
    }
    assert _get(gitlab_sim, "/projects", page=501, per_page=100).status_code == 405
    assert _get(gitlab_sim, "/projects", page=500, per_page=100).status_code == 200
    r = _get(gitlab_sim, "/projects", pagination="keyset", order_by="name")
    assert r.status_code == 405
    assert r.json() == {"error": "Keyset pagination is not yet available for this type of request"}
    assert _get(gitlab_sim, "/projects/1/jobs", pagination="keyset", order_by="id", sort="asc").status_code == 405


# -- filters and ordering -----------------------------------------------------------------------------------------------


def test_updated_after_is_inclusive_and_sorted_with_id_tie_break(gitlab_sim, gitlab_dataset):
    issues = gitlab_dataset.data(1).issues
    boundary = sorted(i["updated_at"] for i in issues)[len(issues) // 2]
    r = _get(gitlab_sim, "/projects/1/issues", updated_after=boundary, order_by="updated_at", sort="asc", per_page=100)
    got = r.json()
    assert {i["id"] for i in got} == {i["id"] for i in issues if i["updated_at"] >= boundary}
    assert boundary in {i["updated_at"] for i in got}
    assert [(i["updated_at"], i["id"]) for i in got] == sorted((i["updated_at"], i["id"]) for i in got)
    # Several records share an updated_at instant somewhere in the dataset (ties are exercised).
    stamps = [i["updated_at"] for p in gitlab_dataset.live_projects() for i in gitlab_dataset.data(p).issues]
    assert len(stamps) > len(set(stamps))
    desc = _get(gitlab_sim, "/projects/1/issues", order_by="updated_at", sort="desc", per_page=100).json()
    assert [(i["updated_at"], i["id"]) for i in desc] == sorted(
        ((i["updated_at"], i["id"]) for i in desc), reverse=True
    )
    with_offset = boundary.replace("Z", "+00:00").replace("+", "%2B")
    assert len(
        requests.get(
            f"{gitlab_sim.base_url}/api/v4/projects/1/issues?per_page=100&updated_after={with_offset}",
            headers={"PRIVATE-TOKEN": SIM_TOKEN},
            timeout=10,
        ).json()
    ) == len(got)


def test_group_filters_subgroups_shared_and_archived(gitlab_sim, gitlab_dataset):
    ds = gitlab_dataset
    target = next(g for g, pids in ds.shared_into.items() if pids)
    shared = set(ds.shared_into[target])
    with_shared = {p["id"] for p in _get(gitlab_sim, f"/groups/{target}/projects", per_page=100).json()}
    without = {
        p["id"] for p in _get(gitlab_sim, f"/groups/{target}/projects", per_page=100, with_shared="false").json()
    }
    assert shared <= with_shared and not shared & without
    top = next(g for g in ds.groups if ds.group_children[g] and ds.group_children[ds.group_children[g][0]])
    direct = _get(gitlab_sim, f"/groups/{top}/projects", with_shared="false", per_page=100).json()
    deep = _get(
        gitlab_sim, f"/groups/{top}/projects", with_shared="false", include_subgroups="true", per_page=100
    ).json()
    assert len(deep) > len(direct)
    assert all(p["namespace"]["id"] == top for p in direct)
    descendants = _get(gitlab_sim, f"/groups/{top}/descendant_groups").json()
    assert {g["id"] for g in descendants} == set(ds.descendants(top))
    assert len(_get(gitlab_sim, f"/groups/{top}/subgroups").json()) == len(ds.group_children[top])
    archived = [p for p in ds.live_projects() if ds.projects[p]["archived"]]
    assert archived
    listed = {p["id"] for p in _get(gitlab_sim, "/projects", archived="false", per_page=100).json()}
    assert not set(archived) & listed


def test_validation_errors_and_exclusive_event_dates(gitlab_sim, gitlab_dataset):
    r = _get(gitlab_sim, "/projects/1/deployments", updated_after="2024-01-01T00:00:00Z")
    assert r.status_code == 400
    assert r.json() == {"message": "400 Bad request - `updated_at` filter requires `updated_at` sort"}
    ok = _get(gitlab_sim, "/projects/1/deployments", updated_after="2024-01-01T00:00:00Z", order_by="updated_at")
    assert ok.status_code == 200
    r = _get(gitlab_sim, "/projects", updated_after="2024-01-01T00:00:00Z")
    assert r.json() == {"message": "400 Bad request - `updated_at` filter and `updated_at` sorting must be paired"}
    event = gitlab_dataset.data(1).events[len(gitlab_dataset.data(1).events) // 2]
    day = event["created_at"][:10]
    after = _get(gitlab_sim, "/projects/1/events", after=day, per_page=100, sort="asc").json()
    assert all(e["created_at"][:10] > day for e in after)
    assert _get(gitlab_sim, "/projects/1/issues", order_by="bogus").json() == {
        "error": "order_by does not have a valid value"
    }


def test_pipeline_jobs_hide_retried_unless_asked(gitlab_sim, gitlab_dataset):
    d = gitlab_dataset.data(1)
    pipeline = next(p for p, jobs in d.jobs_by_pipeline.items() if any(j["id"] in d.retried_jobs for j in jobs))
    default = _get(gitlab_sim, f"/projects/1/pipelines/{pipeline}/jobs").json()
    every = _get(gitlab_sim, f"/projects/1/pipelines/{pipeline}/jobs", include_retried="true").json()
    assert len(every) == len(default) + 1
    assert [j["id"] for j in every] == sorted((j["id"] for j in every), reverse=True)


def test_child_pipelines_are_listed_only_when_asked_for_since_17(fresh_sim):
    """§6.8, gotcha 17: `source=parent_pipeline` lists only child pipelines; the default listing hides them."""
    ds = fresh_sim.dataset
    pid = next(p for p in ds.live_projects() if ds.data(p).child_pipelines)
    d = ds.data(pid)
    child = next(iter(d.child_pipelines))
    parent = d.pipeline_by_id[d.child_pipelines[child]]
    assert parent["source"] != "parent_pipeline" and parent["created_at"] <= d.pipeline_by_id[child]["created_at"]
    every = {p["id"] for p in d.pipelines}
    default = {p["id"] for p in _get(fresh_sim, f"/projects/{pid}/pipelines", per_page=100).json()}
    children = {
        p["id"] for p in _get(fresh_sim, f"/projects/{pid}/pipelines", per_page=100, source="parent_pipeline").json()
    }
    assert children == set(d.child_pipelines) and default == every - children
    assert _get(fresh_sim, f"/projects/{pid}/pipelines/{child}").json()["source"] == "parent_pipeline"
    jobs = {j["id"] for j in _get(fresh_sim, f"/projects/{pid}/pipelines/{child}/jobs", include_retried="true").json()}
    assert jobs and jobs == {j["id"] for j in d.jobs_by_pipeline[child]}
    listed: set[int] = set()
    for page in range(1, 10):
        listed |= {j["id"] for j in _get(fresh_sim, f"/projects/{pid}/jobs", per_page=100, page=page).json()}
    assert jobs <= listed
    assert _get(fresh_sim, "/version").json()["version"].startswith("17.")
    ds.list_child_pipelines(True)  # GitLab 16: the default listing includes them
    assert {p["id"] for p in _get(fresh_sim, f"/projects/{pid}/pipelines", per_page=100).json()} == every
    assert _get(fresh_sim, "/version").json()["version"].startswith("16.")
    new = ds.create_pipeline(pid, parent_id=parent["id"])
    assert new["source"] == "parent_pipeline" and (new["ref"], new["sha"]) == (parent["ref"], parent["sha"])


# -- auth and errors (§1.1, §2) -------------------------------------------------------------------------------------------


def test_auth_errors(gitlab_sim):
    assert _get(gitlab_sim, "/projects", token=None).json() == {"message": "401 Unauthorized"}
    r = _get(gitlab_sim, "/projects", token="wrong")
    assert r.status_code == 401 and r.json() == {"message": "401 Unauthorized"}
    gitlab_sim.add_token("t2", scopes=["read_user"])
    assert _get(gitlab_sim, "/user", token="t2").status_code == 200
    r = _get(gitlab_sim, "/projects", token="t2")
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    bearer = requests.get(
        f"{gitlab_sim.base_url}/api/v4/user", headers={"Authorization": f"Bearer {SIM_TOKEN}"}, timeout=10
    )
    assert bearer.status_code == 200
    assert _get(gitlab_sim, "/nowhere").json() == {"error": "404 Not Found"}
    assert _get(gitlab_sim, "/projects/424242").json() == {"message": "404 Project Not Found"}
    assert _get(gitlab_sim, "/groups/424242").json() == {"message": "404 Group Not Found"}
    assert _get(gitlab_sim, "/projects/1/merge_requests/99999/commits").json() == {
        "message": "404 Merge Request Not Found"
    }
    logged = gitlab_sim.requests
    assert logged[0].status == 401 and not logged[0].authenticated
    assert logged[1].authenticated and logged[0].path == "/api/v4/projects"


def test_features_forbidden_and_licences(fresh_sim):
    ds = fresh_sim.dataset
    disabled = next(pid for pid, feature in ds.forbidden if feature == "issues")
    assert _get(fresh_sim, f"/projects/{disabled}/issues").json() == {"message": "403 Forbidden"}
    fresh_sim.forbid(1, "merge_requests")
    assert _get(fresh_sim, "/projects/1/merge_requests").status_code == 403
    assert _get(fresh_sim, "/projects/1/issues").status_code == 200
    unlicensed = next(g for g in ds.groups if g not in ds.epics_licensed)
    assert _get(fresh_sim, f"/groups/{unlicensed}/epics").status_code == 403
    assert all(e["group_id"] in ds.epics_licensed for e in ds.expected("epics"))


def test_project_by_path_and_301_after_rename(fresh_sim):
    ds = fresh_sim.dataset
    old = ds.projects[2]["path_with_namespace"]
    encoded = old.replace("/", "%2F")
    assert (
        requests.get(
            f"{fresh_sim.base_url}/api/v4/projects/{encoded}", headers={"PRIVATE-TOKEN": SIM_TOKEN}, timeout=10
        ).json()["id"]
        == 2
    )
    ds.rename_project(2, "renamed")
    r = requests.get(
        f"{fresh_sim.base_url}/api/v4/projects/{encoded}/issues?per_page=3",
        headers={"PRIVATE-TOKEN": SIM_TOKEN},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 301
    assert r.headers["Location"] == f"{fresh_sim.base_url}/api/v4/projects/2/issues?per_page=3"
    assert r.text.startswith("This resource has been moved permanently to ")
    ds.delete_project(2)
    assert _get(fresh_sim, "/projects/2/issues").json() == {"message": "404 Project Not Found"}
    assert 2 not in {p["id"] for p in _get(fresh_sim, "/projects", per_page=100).json()}


def test_oauth_refresh_rotates_and_old_refresh_token_is_invalid(fresh_sim):
    fresh_sim.oauth_client("app", "secret", "rt-1", access_token_ttl=7200, access_token="at-1")
    oauth_url = f"{fresh_sim.base_url}/oauth/token"
    assert (
        requests.get(
            f"{fresh_sim.base_url}/api/v4/user", headers={"Authorization": "Bearer at-1"}, timeout=10
        ).status_code
        == 200
    )
    fresh_sim.expire_access_token("at-1")
    r = requests.get(f"{fresh_sim.base_url}/api/v4/user", headers={"Authorization": "Bearer at-1"}, timeout=10)
    assert (
        r.status_code == 401
        and r.json()["error"] == "invalid_token"
        and "invalid_token" in r.headers["WWW-Authenticate"]
    )
    form = {"grant_type": "refresh_token", "client_id": "app", "client_secret": "secret", "refresh_token": "rt-1"}
    fresh = requests.post(oauth_url, data=form, timeout=10).json()
    assert set(fresh) == {"access_token", "token_type", "expires_in", "refresh_token", "created_at", "scope"}
    assert fresh["expires_in"] == 7200 and fresh["token_type"].lower() == "bearer"
    assert (
        requests.get(
            f"{fresh_sim.base_url}/api/v4/user",
            headers={"Authorization": f"Bearer {fresh['access_token']}"},
            timeout=10,
        ).status_code
        == 200
    )
    again = requests.post(oauth_url, data=form, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    rotated = requests.post(oauth_url, json={**form, "refresh_token": fresh["refresh_token"]}, timeout=10)
    assert rotated.status_code == 200
    assert fresh_sim.oauth_refreshes == 2


# -- prefix, external URL, TLS, rate limit, faults ----------------------------------------------------------------------


def test_sub_path_prefix_and_external_url(gitlab_dataset):
    with GitLabSimulator(
        gitlab_dataset, token=SIM_TOKEN, path_prefix="/gitlab", external_url="https://gitlab.corp.example/gitlab"
    ) as sim:
        assert sim.base_url.endswith("/gitlab")
        r = _get(sim, "/projects", per_page=2, archived="false")
        assert r.status_code == 200
        assert _rel(r, "next").startswith("https://gitlab.corp.example/gitlab/api/v4/projects?")
        assert "archived=false" in _rel(r, "next")
        bare = requests.get(
            f"http://127.0.0.1:{sim.port}/api/v4/projects", headers={"PRIVATE-TOKEN": SIM_TOKEN}, timeout=10
        )
        assert bare.status_code == 404
        assert sim.requests[-1].path == "/api/v4/projects" or sim.requests[-2].path == "/api/v4/projects"


def test_tls(gitlab_dataset, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    ca.cert_pem.write_to_path(ca_file)
    with GitLabSimulator(gitlab_dataset, token=SIM_TOKEN, tls=(str(cert_file), str(key_file))) as sim:
        assert sim.base_url.startswith("https://")
        r = requests.get(
            f"{sim.base_url}/api/v4/version", headers={"PRIVATE-TOKEN": SIM_TOKEN}, verify=str(ca_file), timeout=10
        )
        assert r.json()["version"]


def test_rate_limit_headers_and_429(gitlab_dataset):
    with GitLabSimulator(gitlab_dataset, token=SIM_TOKEN, rate_limit_per_minute=3) as sim:
        first = _get(sim, "/version")
        if first.headers["RateLimit-Observed"] != "1":  # crossed a minute boundary: try once more
            first = _get(sim, "/version")
        assert first.headers["RateLimit-Limit"] == "3"
        assert int(first.headers["RateLimit-Remaining"]) == 3 - int(first.headers["RateLimit-Observed"])
        assert int(first.headers["RateLimit-Reset"]) % 60 == 0
        responses = [_get(sim, "/version") for _ in range(4)]
        limited = [r for r in responses if r.status_code == 429]
        assert limited
        assert limited[0].text == "Retry later\n" and limited[0].headers["Content-Type"].startswith("text/plain")
        assert int(limited[0].headers["Retry-After"]) >= 1 and "RateLimit-ResetTime" in limited[0].headers


def test_fault_kinds(gitlab_sim):
    faults = gitlab_sim.faults
    for kind, status in (("500", 500), ("502", 502), ("503", 503), ("504", 504), ("403", 403), ("404", 404)):
        faults.add(kind, path=r"/version$", times=1)
        assert _get(gitlab_sim, "/version").status_code == status
    faults.add("429_retry_after", path="/version", times=1, retry_after=7)
    r = _get(gitlab_sim, "/version")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and "message" in r.json()
    faults.add("429_reset_only", path="/version", times=1)
    r = _get(gitlab_sim, "/version")
    assert r.status_code == 429 and "Retry-After" not in r.headers and "RateLimit-Reset" in r.headers
    faults.add("429_plain", path="/version", times=1)
    r = _get(gitlab_sim, "/version")
    assert r.text == "Retry later\n" and "RateLimit-Reset" not in r.headers
    faults.add("html", path="/version", times=1)
    r = _get(gitlab_sim, "/version")
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    faults.add("reset", path="/version", times=1)
    with pytest.raises(requests.ConnectionError):
        _get(gitlab_sim, "/version")
    faults.add("truncated", path="/version", times=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        _get(gitlab_sim, "/version")
    faults.add("truncated", path="/version", times=1, mode="invalid_json")
    with pytest.raises(ValueError):
        _get(gitlab_sim, "/version").json()
    faults.add("timeout", path="/version", times=1, delay_s=0.5)
    with pytest.raises(requests.Timeout):
        requests.get(f"{gitlab_sim.base_url}/api/v4/version", headers={"PRIVATE-TOKEN": SIM_TOKEN}, timeout=0.2)
    rule = faults.add("503", path="/projects$", every=2, after=1)
    statuses = [_get(gitlab_sim, "/projects").status_code for _ in range(5)]
    assert statuses == [200, 503, 200, 503, 200] and rule.fired == 2
    faults.clear()
    assert _get(gitlab_sim, "/version").status_code == 200
    deadline = time.monotonic() + 3
    while "timeout" not in {e.fault for e in gitlab_sim.requests} and time.monotonic() < deadline:
        time.sleep(0.05)  # the stalled answer is logged when it is finally written
    assert {"500", "reset", "timeout"} <= {e.fault for e in gitlab_sim.requests if e.fault}
    faults.set_latency(30)
    started = time.monotonic()
    _get(gitlab_sim, "/version")
    assert time.monotonic() - started >= 0.03
    faults.set_latency(0)


# -- mutations, determinism, sizes, CLI -------------------------------------------------------------------------------


def test_mutations_are_visible_and_land_in_the_same_second(fresh_sim):
    ds = fresh_sim.dataset
    latest = max(i["updated_at"] for p in ds.live_projects() for i in ds.data(p).issues)
    changed = ds.update_issue(1, 1, title="changed")
    assert changed["updated_at"][:19] == latest[:19] and changed["updated_at"] > latest
    got = _get(fresh_sim, "/projects/1/issues", updated_after=changed["updated_at"]).json()
    assert [(i["iid"], i["title"]) for i in got] == [(1, "changed")]
    created = ds.create_issue(1, title="brand new")
    assert {i["iid"] for i in _get(fresh_sim, "/projects/1/issues", updated_after=changed["updated_at"]).json()} == {
        1,
        created["iid"],
    }
    ds.advance_clock(3600)
    note = ds.add_issue_note(1, 2)
    assert ds.data(1).issue_by_iid[2]["updated_at"] == note["created_at"] > changed["updated_at"]
    commit = ds.add_merge_request_commit(1, 1)
    assert _get(fresh_sim, "/projects/1/merge_requests/1/commits").json()[0]["id"] == commit["id"]
    pipeline = ds.create_pipeline(1)
    job = ds.add_job(1, pipeline["id"])
    assert _get(fresh_sim, f"/projects/1/pipelines/{pipeline['id']}/jobs").json()[0]["id"] == job["id"]
    assert ds.approve_merge_request(1, 1)["approved"]
    assert ds.create_deployment(1)["id"] in {
        d["id"]
        for d in _get(
            fresh_sim,
            "/projects/1/deployments",
            per_page=100,
            order_by="updated_at",
            updated_after=changed["updated_at"],
        ).json()
    }


def test_a_page_is_one_snapshot_while_records_change(fresh_sim):
    """Records change in place; a page rendered after a change must not show a new `updated_at` at its old place."""
    ds = fresh_sim.dataset
    project = max(ds.live_projects(), key=lambda p: len(ds.data(p).issues))
    iids = sorted(ds.data(project).issue_by_iid)
    stop = threading.Event()

    def mutate():
        rng = random.Random(3)
        while not stop.is_set():
            ds.update_issue(project, rng.choice(iids), title="edited")
            time.sleep(0.0005)

    render = fresh_sim.routes.encode

    def slow_render(listing, items):
        time.sleep(0.002)  # widens the gap between building a listing and rendering its page
        return render(listing, items)

    fresh_sim.routes.encode = slow_render
    writer = threading.Thread(target=mutate, daemon=True)
    writer.start()
    unsorted = []
    try:
        with requests.Session() as session:
            session.headers["PRIVATE-TOKEN"] = SIM_TOKEN
            for _ in range(150):
                page = session.get(
                    f"{fresh_sim.base_url}/api/v4/projects/{project}/issues",
                    params={"order_by": "updated_at", "sort": "asc", "per_page": 100},
                    timeout=10,
                ).json()
                stamps = [(i["updated_at"], i["id"]) for i in page]
                if stamps != sorted(stamps):
                    unsorted.append(stamps)
    finally:
        stop.set()
        writer.join(10)
    assert len(iids) > 20
    assert not unsorted, f"{len(unsorted)} of 150 pages out of updated_at order"


def test_same_seed_same_data_and_sizes():
    a, b = Dataset.generate("small", seed=3), Dataset.generate("small", seed=3)
    for stream in ("groups", "projects", "issues", "merge_request_commits", "jobs", "commits", "epic_issues"):
        assert json.dumps(a.expected(stream)) == json.dumps(b.expected(stream)), stream
    assert json.dumps(Dataset.generate("small", seed=4).expected("issues")) != json.dumps(a.expected("issues"))
    tiny = Dataset.generate("tiny", seed=1)
    assert len(tiny.groups) == 1 and len(tiny.live_projects()) == 2
    medium = Dataset.generate("medium", seed=1)
    counts = medium.counts()
    assert counts["projects"] >= 50 and medium.total_records() >= 100_000
    tops = [g for g in medium.groups.values() if g["parent_id"] is None]
    assert len(tops) >= 3 and any(g["full_path"].count("/") >= 2 for g in medium.groups.values())
    one = medium.data(1)
    assert len(one.issues) == medium.plans[1].counts["issues"]
    assert len(one.jobs) == medium.plans[1].counts["jobs"]
    large = Dataset.generate("large", seed=1)
    assert large.total_records() >= 1_000_000
    assert large.generated_projects() == 0  # declared lazily: no project's records built until read


def test_cli_prints_ready_line_and_serves_stats():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.gitlab_sim", "--port", "0", "--size", "tiny", "--token", "T"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("GitLab simulator ready: http://127.0.0.1:") and line.strip().endswith("token=T")
        base = line.split()[3]
        assert requests.get(f"{base}/api/v4/projects", headers={"PRIVATE-TOKEN": "T"}, timeout=10).status_code == 200
        stats = requests.get(f"{base}/__sim/stats", timeout=10).json()
        assert stats["requests"] == 1 and stats["by_status"] == {"200": 1}
        requests.post(f"{base}/__sim/reset", timeout=10)
        assert requests.get(f"{base}/__sim/stats", timeout=10).json()["requests"] == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_keep_alive_one_connection_many_requests(gitlab_sim):
    with requests.Session() as session:
        session.headers["PRIVATE-TOKEN"] = SIM_TOKEN
        for _ in range(20):
            assert session.get(f"{gitlab_sim.base_url}/api/v4/projects/1/issues").status_code == 200
    sock = socket.create_connection(("127.0.0.1", gitlab_sim.port))
    sock.close()
