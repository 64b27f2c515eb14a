"""The readme stream: each project's README, found through the project's `readme_url`.

Projects without a README cost no request (MeltanoLabs' tap asks every project for README.md and stops on the
first 404); README.rst is found as well as README.md; the content comes out as text, except a README that is
not UTF-8, which keeps GitLab's base64; a README gone since the project was read is simply absent.
"""

from __future__ import annotations

import base64
import re

from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-readme-secret"
FILES = re.compile(r"/projects/(\d+)/repository/files/([^/]+)$")


def _config(sim: GitLabSimulator) -> dict[str, object]:
    return sim_config(sim, TOKEN)


def test_every_readme_once_and_no_request_for_projects_without_one(tmp_path):
    dataset = Dataset.generate(size="small", seed=2)
    projects = dataset.live_projects()
    without = [pid for pid in projects if dataset.projects[pid]["readme_url"] is None]
    rst = [pid for pid in projects if (dataset.projects[pid]["readme_url"] or "").endswith("README.rst")]
    assert without and rst, "the simulator lacks a project without a README or with README.rst"
    binary = next(pid for pid in projects if pid not in without)
    dataset.set_readme(binary, b"\x89PNG\r\n\x1a\n not text \xff")
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = _config(sim)
        run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), ["readme"]))
        assert run.returncode == 0, run.stderr[-3000:]
        records = {record["project_id"]: record for record in run.records["readme"]}
        assert len(records) == len(run.records["readme"])
        assert sorted(run.records["readme"], key=lambda r: r["project_id"]) == sorted(
            dataset.expected("readme"), key=lambda r: r["project_id"]
        )
        assert set(records) == set(projects) - set(without)
        asked = [(int(m.group(1)), m.group(2)) for entry in sim.requests if (m := FILES.search(entry.path))]
        assert sorted(pid for pid, _ in asked) == sorted(records)  # one request per README, none elsewhere
        assert all(entry.status == 200 for entry in sim.requests if FILES.search(entry.path))
        assert {records[pid]["file_path"] for pid in rst} == {"README.rst"}
        text = records[rst[0]]
        assert text["encoding"] == "text" and text["content"].startswith("# ")
        assert text["size"] == len(text["content"].encode())
        kept = records[binary]
        assert kept["encoding"] == "base64"
        assert base64.b64decode(kept["content"]) == b"\x89PNG\r\n\x1a\n not text \xff"


def test_a_readme_gone_since_the_project_was_read_is_absent_without_a_warning(tmp_path):
    dataset = Dataset.generate(size="tiny", seed=2)
    with_readme = [pid for pid in dataset.live_projects() if dataset.projects[pid]["readme_url"]]
    gone = with_readme[0]
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        sim.faults.add("404", path=rf"^/api/v4/projects/{gone}/repository/files/")
        config = _config(sim)
        run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), ["readme"]))
        assert run.returncode == 0, run.stderr[-3000:]
        assert sorted(r["project_id"] for r in run.records["readme"]) == sorted(set(with_readme) - {gone})
        assert "readme" not in "".join(line for line in run.stderr.splitlines() if "WARNING" in line)
