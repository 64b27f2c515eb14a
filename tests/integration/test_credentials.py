"""No credential GitLab hands out reaches a record, and fields GitLab adds later are carried, not lost.

GitLab returns the runner registration token `runners_token` in every project object to users who can admin
the project (lib/api/entities/project.rb) and in `GET /groups/:id` to owners (lib/api/entities/group_detail.rb);
older versions send a pull mirror's `import_url` with the user and password GitLab keeps for it
(app/models/project.rb `Project#import_url`). The simulator does the same for its token, a maintainer and owner
everywhere. The tap drops credential fields and scrubs passwords from URLs in one place
(tap_gitlab/conform.py), and the suite's secrets guard fails any run whose output holds such a value.
"""

from __future__ import annotations

import json
import re
import typing as t

import pytest
import requests

from tap_gitlab.conform import Conformer, is_credential, scrub_url
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support import secrets_guard
from tests.support.flow_harness import run_connector
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-credentials-suite-token-0001"
RUNNER_TOKEN = secrets_guard.CREDENTIAL_PATTERNS["a runner registration token"]
URL_PASSWORD = secrets_guard.CREDENTIAL_PATTERNS["a URL with a password"]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(size="small", seed=11)


@pytest.fixture(scope="module")
def sim(dataset: Dataset) -> t.Iterator[GitLabSimulator]:
    with GitLabSimulator(dataset, token=TOKEN) as server:
        yield server


def _get(sim: GitLabSimulator, path: str, **params: t.Any) -> t.Any:
    response = requests.get(sim.api_url + path, headers={"PRIVATE-TOKEN": TOKEN}, params=params, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response.json()


def _mirrors(dataset: Dataset) -> list[int]:
    return [pid for pid in dataset.live_projects() if dataset.projects[pid]["import_url"]]


# -- the simulator answers as GitLab does for a maintainer and owner ----------------------------------------


def test_simulator_returns_runners_tokens_and_mirror_passwords_as_gitlab_does_for_a_maintainer(sim, dataset):
    pid = dataset.live_projects()[0]
    project = _get(sim, f"/projects/{pid}")
    assert RUNNER_TOKEN.fullmatch(project["runners_token"])
    listed = _get(sim, f"/groups/{project['namespace']['id']}/projects", per_page=100)
    assert all(RUNNER_TOKEN.fullmatch(p["runners_token"]) for p in listed)
    gid = dataset.top_group_of(project["namespace"]["id"])
    group = _get(sim, f"/groups/{gid}", with_projects="false")
    assert RUNNER_TOKEN.fullmatch(group["runners_token"])
    # Entities::Group (listings, descendant groups) has no runners_token: only GroupDetail does.
    assert all("runners_token" not in g for g in _get(sim, f"/groups/{gid}/descendant_groups"))
    mirrors = _mirrors(dataset)
    assert mirrors, "the simulator has no pull mirror"
    assert URL_PASSWORD.match(_get(sim, f"/projects/{mirrors[0]}")["import_url"])


# -- the tap never emits them --------------------------------------------------------------------------------


def test_no_credential_reaches_a_record_or_a_log_and_the_summary_says_which_were_dropped(sim, dataset, tmp_path):
    config = sim_config(sim, TOKEN, groups=" ".join(dataset.top_group_paths()))
    streams = ["projects", "groups", "environments", "deployments"]
    run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), streams))
    assert run.returncode == 0, run.stderr[-3000:]
    projects = {record["id"]: record for record in run.records["projects"]}
    assert set(projects) == set(dataset.live_projects())
    assert run.records["groups"] and run.records["environments"]
    for stream in streams:
        for record in run.records[stream]:
            assert not _credential_keys(record), (stream, record["id"])
    # The mirror's URL stays, without its user and password.
    for pid in _mirrors(dataset):
        sent = dataset.projects[pid]["import_url"]
        assert projects[pid]["import_url"] == re.sub(r"//[^/@]+@", "//", sent)
        assert "@" not in projects[pid]["import_url"]
    assert secrets_guard.find_credentials([("stdout", run.stdout), ("stderr", run.stderr)]) == []
    summary = [line for line in run.stderr.splitlines() if "credential fields never emitted" in line]
    assert any("Summary: projects:" in line and "runners_token" in line for line in summary)
    assert any("Summary: groups:" in line and "runners_token" in line for line in summary)
    assert "runners_token" not in run.schemas["projects"]["schema"]["properties"]
    assert "runners_token" not in run.schemas["groups"]["schema"]["properties"]


def _credential_keys(value: t.Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        found = [f"{path}.{k}" for k in value if is_credential(k)]
        return found + [p for k, v in value.items() for p in _credential_keys(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for item in value for p in _credential_keys(item, path)]
    return []


def test_credentials_are_dropped_wherever_they_occur_even_in_fields_the_schema_does_not_know():
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "web_url": {"type": ["string", "null"]}}}
    conformer = Conformer(schema)
    record = {
        "id": 1,
        "runners_token": "GR1348941abcdefghijklmnopqrst",
        "web_url": "https://bot:hunter2hunter2@gitlab.example.com/g/p",
        "new_thing": {"registration_token": "x" * 24, "hook_url": "https://u:pw12345@h.example/x", "ok": 1},
    }
    out = conformer.conform("s", record, __import__("logging").getLogger("t"))
    assert out == {
        "id": 1,
        "web_url": "https://gitlab.example.com/g/p",
        "new_thing": {"hook_url": "https://h.example/x", "ok": 1},
    }
    assert list(conformer.credentials) == ["runners_token", "new_thing.registration_token"]


@pytest.mark.parametrize(
    ("url", "scrubbed"),
    [
        ("https://mirror-bot:s3cret@git.example.com/a.git", "https://git.example.com/a.git"),
        ("https://glpat-xxxxxxxxxxxxxxxxxxxx@git.example.com/a.git", "https://git.example.com/a.git"),
        ("ssh://git:pw@git.example.com/a.git", "ssh://git@git.example.com/a.git"),
        ("ssh://git@git.example.com/a.git", "ssh://git@git.example.com/a.git"),
        ("git@gitlab.example.com:g/p.git", "git@gitlab.example.com:g/p.git"),
        ("https://gitlab.example.com/g/p", "https://gitlab.example.com/g/p"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
    ],
)
def test_urls_lose_their_password_and_http_urls_their_user(url, scrubbed):
    assert scrub_url(url) == scrubbed


# -- the guard ----------------------------------------------------------------------------------------------


def test_guard_finds_gitlab_credentials_in_any_output_without_printing_them():
    planted = "GR1348941" + "Zq3" * 7
    text = json.dumps({"runners_token": planted, "import_url": "https://bot:pa55word99@git.example.com/x.git"})
    leaks = secrets_guard.find_credentials([("tap run #9 stdout", text), ("clean", "https://gitlab.example.com")])
    assert {leak.where for leak in leaks} == {"tap run #9 stdout"}
    assert len(leaks) == 2
    assert all(planted not in str(leak) and "pa55word99" not in str(leak) for leak in leaks)
    harmless = "git@gitlab.example.com:g/p.git https://user:***@host https://x:<redacted>@y glpat-short"
    assert secrets_guard.find_credentials([("fine", harmless)]) == []


# -- fields GitLab adds later ---------------------------------------------------------------------------------


def test_a_field_gitlab_adds_later_is_carried_and_named_once_per_stream_in_the_summary(tmp_path):
    dataset = Dataset.generate(size="tiny", seed=11)
    pid = dataset.live_projects()[0]
    dataset.projects[pid]["duo_agent_platform_enabled"] = True  # a field newer than our schemas
    dataset.projects[pid]["namespace"]["new_namespace_flag"] = "x"
    issue = dataset.data(pid).issues[0]
    dataset.update_issue(pid, issue["iid"], work_item_status={"name": "In progress", "category": "started"})
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = sim_config(sim, TOKEN, projects=dataset.projects[pid]["path_with_namespace"])
        run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), ["projects", "issues"]))
    assert run.returncode == 0, run.stderr[-3000:]
    (project,) = run.records["projects"]
    assert project["duo_agent_platform_enabled"] is True
    assert project["namespace"]["new_namespace_flag"] == "x"
    changed = next(r for r in run.records["issues"] if r["iid"] == issue["iid"])
    assert changed["work_item_status"] == {"name": "In progress", "category": "started"}
    summary = [line for line in run.stderr.splitlines() if "fields not in the schema" in line]
    projects_line = next(line for line in summary if "Summary: projects:" in line)
    assert "duo_agent_platform_enabled" in projects_line and "namespace.new_namespace_flag" in projects_line
    issues_line = next(line for line in summary if "Summary: issues:" in line)
    assert "work_item_status" in issues_line
    # Named once when first met and once in the summary, however many records carry it.
    assert run.stderr.count("work_item_status") == 2


def test_flow_documents_carry_every_field_gitlab_sent(tmp_path):
    dataset = Dataset.generate(size="tiny", seed=11)
    pid = dataset.live_projects()[0]
    issue = dataset.data(pid).issues[0]
    dataset.update_issue(pid, issue["iid"], work_item_status={"name": "Done", "category": "done"})
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = {
            "credentials": {"auth_type": "access_token", "access_token": TOKEN},
            "api_url": sim.base_url,
            "projects": dataset.projects[pid]["path_with_namespace"],
            "max_concurrency": 4,
        }
        binding = {
            "resourceConfig": {"stream": "issues", "syncMode": "incremental", "_meta": {"path": ["issues"]}},
            "resourcePath": ["issues"],
            "stateKey": "issues",
            "collection": {"name": "acmeCo/gitlab/issues", "key": ["/id"], "writeSchema": {"type": "object"}},
        }
        request = {
            "open": {
                "capture": {"name": "acmeCo/gitlab", "connectorType": "IMAGE", "config": config, "bindings": [binding]},
                "version": "v1",
                "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
                "state": {},
            }
        }
        run = run_connector(request)
    assert run.returncode == 0, run.stderr[-3000:]
    docs = run.captured()[0]
    served = {i["iid"]: i for i in dataset.data(pid).issues}
    assert {doc["iid"] for doc in docs} == set(served)
    changed = next(doc for doc in docs if doc["iid"] == issue["iid"])
    assert changed["work_item_status"] == {"name": "Done", "category": "done"}
    for doc in docs:  # every field GitLab sent, not only those the schema knows
        assert set(served[doc["iid"]]) <= set(doc), sorted(set(served[doc["iid"]]) - set(doc))
    assert secrets_guard.find_credentials([("flow stdout", run.stdout), ("flow stderr", run.stderr)]) == []
