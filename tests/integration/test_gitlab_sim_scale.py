"""The simulator at scale: python-gitlab pages a 100,000-record instance, and the million-record one is lazy.

python-gitlab is an independent client with its own pagination; it must get exactly the dataset's records
from the medium instance (reference §3: offset pagination past 10,000 records, where totals disappear).
The large instance must be the same for the same seed, project by project, and serving one project must not
build the others (the server pages through it without loading more than it serves).
"""

from __future__ import annotations

import hashlib
import json
import resource
import time

import gitlab
import pytest

from tests.gitlab_sim import Dataset, GitLabSimulator

TOKEN = "glpat-scale-tests"


@pytest.fixture(scope="module")
def medium():
    return Dataset.generate("medium", seed=1)


def test_python_gitlab_pages_the_medium_instance_exactly(medium):
    assert medium.total_records() >= 100_000
    with GitLabSimulator(medium, token=TOKEN) as sim:
        gl = gitlab.Gitlab(sim.base_url, private_token=TOKEN, per_page=100)
        projects = gl.projects.list(iterator=True, pagination="keyset", order_by="id", sort="asc")
        assert sorted(p.id for p in projects) == sorted(medium.live_projects())
        issues = merge_requests = 0
        for top in (g for g in medium.groups.values() if g["parent_id"] is None):
            group = gl.groups.get(top["id"])
            issues += sum(1 for _ in group.issues.list(iterator=True, non_archived=False, scope="all"))
            merge_requests += sum(
                1 for _ in group.mergerequests.list(iterator=True, non_archived=False, scope="all", state="all")
            )
        assert issues == len(medium.expected("issues"))
        assert merge_requests == len(medium.expected("merge_requests"))
        commits = sum(
            1 for pid in medium.live_projects() for _ in gl.projects.get(pid, lazy=True).commits.list(iterator=True)
        )
        assert commits == len(medium.expected("commits"))
        assert issues + merge_requests + commits > 30_000


def test_large_instance_is_deterministic_and_built_only_where_served():
    started = time.monotonic()
    first = Dataset.generate("large", seed=5)
    planned = time.monotonic() - started
    assert first.total_records() >= 1_000_000
    assert planned < 10, planned
    second = Dataset.generate("large", seed=5)
    pid = sorted(first.live_projects())[-1]

    def digest(dataset):
        data = dataset.data(pid)
        text = json.dumps([data.issues, data.merge_requests, data.commits, data.jobs], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    assert digest(first) == digest(second)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with GitLabSimulator(first, token=TOKEN) as sim:
        gl = gitlab.Gitlab(sim.base_url, private_token=TOKEN, per_page=100)
        served = sum(1 for _ in gl.projects.get(pid, lazy=True).issues.list(iterator=True, scope="all"))
    assert served == len(first.data(pid).issues)
    assert first.generated_projects() == 1  # only the project that was asked for was built
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 500, grown_mb
