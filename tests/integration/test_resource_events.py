"""Resource events (opt-in `fetch_resource_events`): the label, state and milestone history of issues and
merge requests, read for the parents changed since each stream's bookmark.

A full run emits exactly the simulator's events, each id once and tied to its parent; a label added to an
issue and a merge request closed between runs come out in the next run, which reads the events of only the
parents that changed; with the setting off nothing is requested.
"""

from __future__ import annotations

import collections
import re

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-resource-events-secret"
KINDS = ("label", "state", "milestone")
STREAMS = [f"{prefix}_{kind}_events" for prefix in ("issue", "merge_request") for kind in KINDS]
EVENTS = re.compile(r"/projects/(\d+)/(issues|merge_requests)/(\d+)/resource_(label|state|milestone)_events$")


def _config(sim: GitLabSimulator, **settings: object) -> dict[str, object]:
    return sim_config(sim, TOKEN, fetch_resource_events=True, **settings)


def test_full_then_incremental(tmp_path):
    dataset = Dataset.generate(size="small", seed=4)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim, groups=dataset.top_group_paths())
        catalog = select(discover(tmp_path, config), STREAMS)
        first = run_tap(tmp_path / "first", config, catalog=catalog)
        assert first.returncode == 0, first.stderr[-3000:]
        for name in STREAMS:
            ids = [record["id"] for record in first.records[name]]
            assert ids, f"{name}: the simulator has none: the test would prove nothing"
            assert [i for i, n in collections.Counter(ids).items() if n > 1] == [], name
            assert sorted(ids) == sorted(e["id"] for e in dataset.expected(name, groups=dataset.top_group_paths()))
        closed = next(r for r in first.records["issue_state_events"] if r["state"] == "closed")
        issue = dataset.data(closed["project_id"]).issue_by_iid[closed["issue_iid"]]
        assert closed["resource_id"] == issue["id"] and closed["created_at"] == issue["closed_at"]
        assert {r["state"] for r in first.records["merge_request_state_events"]} <= {"closed", "merged"}
        first_asked = [m for entry in sim.requests if (m := EVENTS.search(entry.path))]
        issues_and_mrs = len(dataset.expected("issues", groups=dataset.top_group_paths())) + len(
            dataset.expected("merge_requests", groups=dataset.top_group_paths())
        )
        assert len(first_asked) == 3 * issues_and_mrs  # one request per kind and parent on a first run

        project_id = closed["project_id"]
        data = dataset.data(project_id)
        iid = next(i["iid"] for i in data.issues if "regression" not in i["labels"])
        dataset.advance_clock(60)
        labels = [*data.issue_by_iid[iid]["labels"], "regression"]
        dataset.update_issue(project_id, iid, labels=labels)
        mr = next(m for m in data.merge_requests if m["state"] == "opened")
        dataset.update_merge_request(
            project_id, mr["iid"], state="closed", closed_at=dataset.now, closed_by=dataset.user_basic[1]
        )

        sim.clear_requests()
        second = run_tap(tmp_path / "second", config, catalog=catalog, state=first.last_state)
        assert second.returncode == 0, second.stderr[-3000:]
        added = [r for r in second.records["issue_label_events"] if r["issue_iid"] == iid]
        assert [r["label"]["name"] for r in added if r["project_id"] == project_id][-1] == "regression"
        assert any(
            r["merge_request_iid"] == mr["iid"] and r["state"] == "closed"
            for r in second.records["merge_request_state_events"]
        )
        asked = {(int(m.group(1)), m.group(2), int(m.group(3))) for e in sim.requests if (m := EVENTS.search(e.path))}
        # The two changed parents, plus at most the parent GitLab lists again at each partition's bookmark.
        assert {(project_id, "issues", iid), (project_id, "merge_requests", mr["iid"])} <= asked
        assert len(asked) <= 2 + 2 * len(dataset.top_group_paths()), sorted(asked)


def test_off_by_default(tmp_path):
    dataset = Dataset.generate(size="tiny", seed=4)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        del config["fetch_resource_events"]
        run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), STREAMS))
        assert run.returncode == 0, run.stderr[-3000:]
        assert not any(EVENTS.search(entry.path) for entry in sim.requests)
        assert all(not run.records.get(name) for name in STREAMS)
        # Selected, but off: no SCHEMA (no empty table in a target), and one line naming the setting.
        assert "issue_label_events" not in run.schemas
        assert "Opt-in streams whose setting is off, not extracted: " in run.stderr
        assert "issue_label_events (fetch_resource_events)" in run.stderr
