"""The simulator's GraphQL API (tests/gitlab_sim/graphql/) against its REST routes and GitLab's rules."""

from __future__ import annotations

import time

import pytest
import requests
from graphql import get_operation_ast, parse

from tests.conftest import SIM_TOKEN
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.graphql import complexity
from tests.gitlab_sim.graphql.endpoint import SDL
from tests.gitlab_sim.graphql.resolvers import attach

USER = "id username name state avatarUrl webUrl"


def _gql(sim, query, variables=None, token=SIM_TOKEN, headers=None):
    h = {"PRIVATE-TOKEN": token} if token else {}
    h.update(headers or {})
    body = {"query": query, "variables": variables or {}}
    return requests.post(f"{sim.base_url}/api/graphql", json=body, headers=h, timeout=30)


def _rest(sim, path, **params):
    r = requests.get(f"{sim.api_url}{path}", headers={"PRIVATE-TOKEN": SIM_TOKEN}, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _seconds(ts):
    """A REST timestamp at GraphQL's precision (time_type.rb `iso8601`: whole seconds, zone kept)."""
    if ts is None:
        return None
    return ts[:19] + ("Z" if ts.endswith("Z") else ts[-6:])


def _user(u):
    return {
        "id": f"gid://gitlab/User/{u['id']}",
        "username": u["username"],
        "name": u["name"],
        "state": u["state"],
        "avatarUrl": u["avatar_url"],
        "webUrl": u["web_url"],
    }


@pytest.fixture
def fresh_sim():
    with GitLabSimulator(Dataset.generate(size="small", seed=11), token=SIM_TOKEN) as sim:
        yield sim


def _project(ds):
    pid = max(ds.live_projects(), key=lambda p: len(ds.data(p).merge_requests))
    return pid, ds.projects[pid]["path_with_namespace"]


MR_QUERY = """query($p: ID!, $after: String) { project(fullPath: $p) {
  mergeRequests(first: 5, after: $after, sort: UPDATED_ASC) { count pageInfo { hasNextPage endCursor }
    nodes { id iid projectId title state updatedAt createdAt approved approvalsRequired approvalsLeft commitCount
      approvedBy { nodes { USER_FIELDS } }
      commits(first: 100) { nodes { id sha shortId fullTitle message authorName authorEmail authoredDate
        committerName committerEmail committedDate webUrl parentSha } }
      notes(first: 100) { nodes { id body system internal createdAt updatedAt resolvable resolved resolvedAt
        noteableId noteableType author { USER_FIELDS } resolvedBy { USER_FIELDS } position { newPath newLine diffRefs { headSha } } } }
    } } } }""".replace("USER_FIELDS", USER)


def test_merge_requests_commits_notes_and_approvals_match_rest(gitlab_sim, gitlab_dataset):
    pid, full = _project(gitlab_dataset)
    rest = sorted(_rest(gitlab_sim, f"/projects/{pid}/merge_requests", per_page=100), key=lambda m: m["updated_at"])
    seen, after = [], None
    while True:
        r = _gql(gitlab_sim, MR_QUERY, {"p": full, "after": after})
        assert r.status_code == 200 and "errors" not in r.json(), r.text
        conn = r.json()["data"]["project"]["mergeRequests"]
        assert conn["count"] == len(rest)
        seen += conn["nodes"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert [int(m["iid"]) for m in seen] == [m["iid"] for m in rest]
    for node, mr in list(zip(seen, rest, strict=True))[:8]:
        iid = mr["iid"]
        assert node["id"] == f"gid://gitlab/MergeRequest/{mr['id']}" and node["iid"] == str(iid)
        assert (node["title"], node["state"], node["projectId"]) == (mr["title"], mr["state"], pid)
        assert node["updatedAt"] == _seconds(mr["updated_at"]) and node["createdAt"] == _seconds(mr["created_at"])
        approvals = _rest(gitlab_sim, f"/projects/{pid}/merge_requests/{iid}/approvals")
        assert node["approved"] == approvals["approved"]
        assert (node["approvalsRequired"], node["approvalsLeft"]) == (
            approvals["approvals_required"],
            approvals["approvals_left"],
        )
        assert node["approvedBy"]["nodes"] == [_user(a["user"]) for a in approvals["approved_by"]]
        commits = _rest(gitlab_sim, f"/projects/{pid}/merge_requests/{iid}/commits", per_page=100)
        assert node["commitCount"] == len(commits)
        for gc, c in zip(node["commits"]["nodes"], commits, strict=True):
            assert gc["id"] == f"gid://gitlab/Commit/{c['id']}"
            assert (gc["sha"], gc["shortId"], gc["fullTitle"], gc["message"]) == (
                c["id"],
                c["short_id"],
                c["title"],
                c["message"],
            )
            assert (gc["authorName"], gc["authorEmail"], gc["committerEmail"]) == (
                c["author_name"],
                c["author_email"],
                c["committer_email"],
            )
            assert gc["authoredDate"] == _seconds(c["authored_date"])
            assert gc["committedDate"] == _seconds(c["committed_date"])
            assert gc["webUrl"] == c["web_url"] and gc["parentSha"] == (c["parent_ids"] or [None])[0]
        notes = _rest(gitlab_sim, f"/projects/{pid}/merge_requests/{iid}/notes", per_page=100, sort="asc")
        assert len(node["notes"]["nodes"]) == len(notes)
        for gn, n in zip(node["notes"]["nodes"], notes, strict=True):
            assert gn["id"] == f"gid://gitlab/{n['type'] or 'Note'}/{n['id']}"
            assert (gn["body"], gn["system"], gn["internal"], gn["resolvable"]) == (
                n["body"],
                n["system"],
                n["internal"],
                n["resolvable"],
            )
            assert (gn["noteableId"], gn["noteableType"]) == (n["noteable_id"], n["noteable_type"])
            assert gn["createdAt"] == _seconds(n["created_at"]) and gn["updatedAt"] == _seconds(n["updated_at"])
            assert gn["author"] == _user(n["author"])
            if n["resolvable"]:
                assert gn["resolved"] == n["resolved"] and gn["resolvedAt"] == _seconds(n["resolved_at"])
                assert gn["resolvedBy"] == (_user(n["resolved_by"]) if n["resolved_by"] else None)
            if n.get("position"):
                assert gn["position"]["newPath"] == n["position"]["new_path"]
                assert gn["position"]["diffRefs"]["headSha"] == n["position"]["head_sha"]


def test_issues_and_their_notes_match_rest(gitlab_sim, gitlab_dataset):
    pid, full = _project(gitlab_dataset)
    q = """query($p: ID!) { project(fullPath: $p) { issues(first: 100, sort: CREATED_ASC) { count
        nodes { id iid title state confidential createdAt updatedAt webUrl author { username }
          notes { count nodes { id body createdAt } } } } } }"""
    r = _gql(gitlab_sim, q, {"p": full})
    nodes = r.json()["data"]["project"]["issues"]["nodes"]
    rest = _rest(gitlab_sim, f"/projects/{pid}/issues", per_page=100, sort="asc")
    assert [int(i["iid"]) for i in nodes] == [i["iid"] for i in rest]
    for node, issue in zip(nodes[:10], rest[:10], strict=True):
        assert node["id"] == f"gid://gitlab/Issue/{issue['id']}" and node["updatedAt"] == _seconds(issue["updated_at"])
        assert (node["title"], node["state"], node["webUrl"]) == (issue["title"], issue["state"], issue["web_url"])
        notes = _rest(gitlab_sim, f"/projects/{pid}/issues/{issue['iid']}/notes", per_page=100, sort="asc")
        assert [n["body"] for n in node["notes"]["nodes"]] == [n["body"] for n in notes]
        assert node["notes"]["count"] == len(notes)


def test_pipelines_jobs_and_bridges_match_rest(gitlab_sim, gitlab_dataset):
    pid, full = _project(gitlab_dataset)
    q = """query($p: ID!) { project(fullPath: $p) { pipelines(first: 20) { count nodes {
        id iid sha ref refPath status source createdAt updatedAt startedAt finishedAt committedAt duration
        queuedDuration coverage yamlErrorMessages path user { username } detailedStatus { text group detailsPath }
        downstream { nodes { id sourceJob { id name kind } } }
        jobs(first: 100) { nodes { id name kind status stage { name } createdAt } } } } } }"""
    r = _gql(gitlab_sim, q, {"p": full})
    assert "errors" not in r.json(), r.text
    for node in r.json()["data"]["project"]["pipelines"]["nodes"][:10]:
        pl_id = int(node["id"].rsplit("/", 1)[1])
        assert node["id"] == f"gid://gitlab/Ci::Pipeline/{pl_id}"
        p = _rest(gitlab_sim, f"/projects/{pid}/pipelines/{pl_id}")
        assert (node["iid"], node["sha"], node["ref"], node["source"]) == (
            str(p["iid"]),
            p["sha"],
            p["ref"],
            p["source"],
        )
        assert node["status"] == p["status"].upper() and node["refPath"] == f"refs/heads/{p['ref']}"
        for key in ("created_at", "updated_at", "started_at", "finished_at", "committed_at"):
            camel = key.split("_")[0] + "At"
            assert node[camel] == _seconds(p[key])
        assert node["duration"] == p["duration"] and node["queuedDuration"] == float(p["queued_duration"])
        assert node["coverage"] == (float(p["coverage"]) if p["coverage"] is not None else None)
        assert node["detailedStatus"]["text"] == p["detailed_status"]["text"]
        assert node["user"]["username"] == p["user"]["username"] and p["web_url"].endswith(node["path"])
        jobs = _rest(gitlab_sim, f"/projects/{pid}/pipelines/{pl_id}/jobs", per_page=100, include_retried="true")
        bridges = _rest(gitlab_sim, f"/projects/{pid}/pipelines/{pl_id}/trigger_jobs", per_page=100)
        builds = [j for j in node["jobs"]["nodes"] if j["kind"] == "BUILD"]
        assert sorted(int(j["id"].rsplit("/", 1)[1]) for j in builds) == sorted(j["id"] for j in jobs)
        gql_bridges = [j for j in node["jobs"]["nodes"] if j["kind"] == "BRIDGE"]
        assert sorted(j["id"] for j in gql_bridges) == sorted(f"gid://gitlab/Ci::Bridge/{b['id']}" for b in bridges)
        by_child = {b["downstream_pipeline"]["id"]: b for b in bridges}
        for child in node["downstream"]["nodes"]:
            bridge = by_child[int(child["id"].rsplit("/", 1)[1])]
            assert child["sourceJob"] == {
                "id": f"gid://gitlab/Ci::Bridge/{bridge['id']}",
                "name": bridge["name"],
                "kind": "BRIDGE",
            }


def test_cursor_paging_over_more_than_100_notes_and_the_page_size_cap(fresh_sim):
    ds = fresh_sim.dataset
    pid, full = _project(ds)
    iid = ds.data(pid).issues[0]["iid"]
    for k in range(130):
        ds.add_issue_note(pid, iid, body=f"note {k}")
    total = len(ds.data(pid).issue_notes[iid])
    q = """query($p: ID!, $iid: String, $after: String, $n: Int) { project(fullPath: $p) { issue(iid: $iid) {
        notes(first: $n, after: $after) { count pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id } } } } }"""
    seen, after, pages = [], None, 0
    while True:
        conn = _gql(fresh_sim, q, {"p": full, "iid": str(iid), "after": after, "n": 500}).json()["data"]
        conn = conn["project"]["issue"]["notes"]
        assert len(conn["nodes"]) <= 100 and conn["count"] == total  # first: 500 is cut to the max page size
        seen += [n["id"] for n in conn["nodes"]]
        pages += 1
        assert conn["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == 2 and len(seen) == len(set(seen)) == total > 100
    rest = _rest(fresh_sim, f"/projects/{pid}/issues/{iid}/notes", per_page=100, sort="asc")
    rest += _rest(fresh_sim, f"/projects/{pid}/issues/{iid}/notes", per_page=100, sort="asc", page=2)
    assert [int(s.rsplit("/", 1)[1]) for s in seen] == [n["id"] for n in rest]


def test_validation_errors_have_graphql_rubys_wording_and_shape(gitlab_sim):
    q = '{ project(fullPath: "a/b") { foo mergeRequests(bar: 1, first: "x") { count } } }'
    r = _gql(gitlab_sim, q)
    assert r.status_code == 200 and "data" not in r.json()
    errors = r.json()["errors"]
    assert errors[0] == {
        "message": "Field 'foo' doesn't exist on type 'Project'",
        "locations": [{"line": 1, "column": 30}],
        "path": ["query", "project", "foo"],
        "extensions": {"code": "undefinedField", "typeName": "Project", "fieldName": "foo"},
    }
    assert errors[1]["message"] == "Field 'mergeRequests' doesn't accept argument 'bar'"
    assert errors[1]["extensions"] == {
        "code": "argumentNotAccepted",
        "name": "mergeRequests",
        "typeName": "Field",
        "argumentName": "bar",
    }
    assert errors[2]["message"] == (
        "Argument 'first' on Field 'mergeRequests' has an invalid value (\"x\"). Expected type 'Int'."
    )
    assert errors[2]["extensions"]["code"] == "argumentLiteralsIncompatible"
    parse_error = _gql(gitlab_sim, '{ project(fullPath: "a/b") { id } } }').json()
    assert parse_error["errors"][0]["message"] == 'Parse error on "}" (RCURLY) at [1, 37]'


def test_complexity_and_depth_limits(gitlab_sim, gitlab_dataset):
    _pid, full = _project(gitlab_dataset)
    conn = (
        f"mergeRequests {{ nodes {{ notes {{ nodes {{ id body author {{ {USER} }} resolvedBy {{ {USER} }} }} }} }} }}"
    )
    too_complex = "query($p: ID!) { project(fullPath: $p) { " + " ".join(f"{a}: {conn}" for a in "abcd") + " } }"
    r = _gql(gitlab_sim, too_complex, {"p": full})
    assert r.status_code == 200 and "data" not in r.json()
    # per alias: notes.nodes 1 + 2 + 7 + 7 = 17; notes (17 + 1) x 2 = 36 (no `first`: 100 x 1%);
    # mergeRequests (1 + 36 + 1 + sort 1) x 2 = 78; four of them and project's 1: 313
    assert r.json() == {"errors": [{"message": "Query has complexity of 313, which exceeds max complexity of 250"}]}
    deep = '{ project(fullPath: "x") { pipelines { nodes { %s id } } } }'
    inner = "upstream { " * 17 + "id" + " }" * 17
    r = _gql(gitlab_sim, deep % inner)
    assert r.json() == {"errors": [{"message": "Query has depth of 21, which exceeds max depth of 20"}]}
    ok = _gql(gitlab_sim, "{ queryComplexity { score limit } }").json()
    assert ok == {"data": {"queryComplexity": {"score": 3, "limit": 250}}}
    anonymous = _gql(gitlab_sim, "{ queryComplexity { score limit } }", token=None).json()
    assert anonymous["data"]["queryComplexity"]["limit"] == 200
    inner = "upstream { " * 12 + "id" + " }" * 12
    assert _gql(gitlab_sim, deep % inner, token=None).json() == {
        "errors": [{"message": "Query has depth of 16, which exceeds max depth of 15"}]
    }


def test_worked_example_complexity_is_113():
    """graphql-research.md §2.4: 20 merge requests x {commits(100), approvedBy, notes(100)} = 113."""
    schema = attach(__import__("graphql").build_schema(SDL))
    q = """query($p: ID!, $after: String, $since: Time) { project(fullPath: $p) {
      mergeRequests(first: 20, after: $after, updatedAfter: $since, sort: UPDATED_ASC) {
        pageInfo { hasNextPage endCursor }
        nodes { iid
          commits(first: 100) { pageInfo { hasNextPage endCursor }
            nodes { sha shortId title message authorName authorEmail authoredDate
                    committerName committerEmail committedDate webUrl parentSha } }
          approvedBy { nodes { id username name state avatarUrl webUrl } }
          notes(first: 100) { pageInfo { hasNextPage endCursor }
            nodes { id body system internal createdAt updatedAt resolvable resolved resolvedAt noteableId noteableType
                    author { id username name state avatarUrl webUrl }
                    resolvedBy { id username name state avatarUrl webUrl } } } } } } }"""
    doc = parse(q)
    score, depth = complexity.analyze(schema, doc, get_operation_ast(doc), {"p": "a/b"})
    assert (score, depth) == (113, 7)  # project > mergeRequests > nodes > notes > nodes > author > id
    big = q.replace("first: 20", "first: 100")
    doc = parse(big)
    assert complexity.analyze(schema, doc, get_operation_ast(doc), {})[0] == 189


def test_query_too_large_auth_and_anonymous_access(gitlab_sim, gitlab_dataset):
    pid, full = _project(gitlab_dataset)
    big = "{ queryComplexity { score } }" + " " * 10_000
    r = _gql(gitlab_sim, big)
    assert r.status_code == 422 and r.json() == {"errors": [{"message": "Query too large"}]}
    r = _gql(gitlab_sim, "{ currentUser { username } }", token="glpat-wrong")
    assert r.status_code == 401 and r.json() == {"errors": [{"message": "Invalid token"}]}
    bearer = _gql(gitlab_sim, "{ currentUser { id } }", token=None, headers={"Authorization": f"Bearer {SIM_TOKEN}"})
    assert bearer.json() == {"data": {"currentUser": {"id": "gid://gitlab/User/1"}}}
    q = "query($p: ID!) { project(fullPath: $p) { id } }"
    assert _gql(gitlab_sim, q, {"p": full}).json()["data"]["project"]["id"] == f"gid://gitlab/Project/{pid}"
    visible = gitlab_dataset.projects[pid]["visibility"] == "public"
    anonymous = _gql(gitlab_sim, q, {"p": full}, token=None).json()["data"]["project"]
    assert (anonymous is not None) == visible
    assert _gql(gitlab_sim, q, {"p": "no/such"}).json() == {"data": {"project": None}}
    got = requests.get(
        f"{gitlab_sim.base_url}/api/graphql",
        params={"query": "{ currentUser { username } }"},
        headers={"PRIVATE-TOKEN": SIM_TOKEN},
        timeout=10,
    )
    assert got.status_code == 200 and got.json()["data"]["currentUser"]["username"]


def test_each_request_counts_once_in_the_api_throttle_and_stats(gitlab_dataset):
    with GitLabSimulator(gitlab_dataset, token=SIM_TOKEN, rate_limit_per_minute=3) as sim:
        q = "{ queryComplexity { score } }"
        statuses = [_gql(sim, q).status_code for _ in range(2)]
        statuses.append(requests.get(f"{sim.api_url}/version", headers={"PRIVATE-TOKEN": SIM_TOKEN}).status_code)
        last = _gql(sim, q)
        assert statuses == [200, 200, 200] and last.status_code == 429 and last.text == "Retry later\n"
        assert last.headers["RateLimit-Name"] == "throttle_authenticated_api"
        deadline = time.time() + 5
        while sim.stats()["requests"] < 4 and time.time() < deadline:  # the server records after answering
            time.sleep(0.01)
        stats = sim.stats()
        assert stats["by_endpoint"]["POST /api/graphql"] == 3 and stats["requests"] == 4
        assert [e.path for e in sim.requests].count("/api/graphql") == 3


def test_faults_partial_data_complexity_and_statement_timeout(fresh_sim):
    _pid, full = _project(fresh_sim.dataset)
    q = """query($p: ID!) { project(fullPath: $p) { mergeRequests(first: 2) { nodes { iid
        commits { nodes { sha } } } } } }"""
    fresh_sim.graphql.fault("field_timeout", field="MergeRequest.commits", times=1)
    body = _gql(fresh_sim, q, {"p": full}).json()
    nodes = body["data"]["project"]["mergeRequests"]["nodes"]
    assert [n["commits"] for n in nodes] == [None, None]
    assert body["errors"][0]["message"] == "Timeout on MergeRequest.commits"
    assert body["errors"][0]["path"] == ["project", "mergeRequests", "nodes", 0, "commits"]
    assert "errors" not in _gql(fresh_sim, q, {"p": full}).json()  # times=1
    fresh_sim.graphql.fault("complexity", score=346, times=1)
    assert _gql(fresh_sim, q, {"p": full}).json() == {
        "errors": [{"message": "Query has complexity of 346, which exceeds max complexity of 250"}]
    }
    fresh_sim.graphql.fault("statement_timeout", times=1)
    r = _gql(fresh_sim, q, {"p": full})
    assert r.status_code == 503
    assert r.json() == {
        "errors": [{"message": "Request timed out. Please try a less complex query or a smaller set of records."}]
    }
    fresh_sim.faults.add("502", path="^/api/graphql$", times=1)  # the HTTP faults of faults.py apply too
    assert _gql(fresh_sim, q, {"p": full}).status_code == 502
    assert _gql(fresh_sim, q, {"p": full}).status_code == 200


def test_switches_no_graphql_and_a_missing_field(fresh_sim):
    q = '{ project(fullPath: "a/b") { mergeRequests { nodes { approvedBy { nodes { id } } } } } }'
    fresh_sim.graphql.missing_fields = {"MergeRequest.approvedBy"}
    err = _gql(fresh_sim, q).json()["errors"][0]
    assert err["message"] == "Field 'approvedBy' doesn't exist on type 'MergeRequest'"
    fresh_sim.graphql.missing_fields = set()
    assert "errors" not in _gql(fresh_sim, q).json()
    fresh_sim.graphql.enabled = False
    r = _gql(fresh_sim, q)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
