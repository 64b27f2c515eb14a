"""Issue 10 item 6: endpoint rate limits beside the global one.

GitLab's application rate limiter (`lib/gitlab/application_rate_limiter.rb`, `lib/api/helpers/rate_limiter.rb`)
limits some endpoints per user: `GET /projects/:id/jobs` (`:jobs_index`, 600 a minute by default) and the
project/group lookups and listings. Its 429 is JSON, the `RateLimit-*` headers (Rack::Attack's, the global
limit) do not describe it, and `Retry-After` is the whole interval in current versions, absent in older ones.
The simulator models it (tests/gitlab_sim/app_limits.py) with small thresholds; the tap learns each limit
from its first 429s and paces that endpoint alone. The 429s are counted, with the learning and without it.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tap_gitlab.client import GitLabClient
from tap_gitlab.errors import RunStopped
from tap_gitlab.ratelimit import KNOWN_LIMITS, EndpointGovernor, route_template
from tap_gitlab.settings import normalize
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.gitlab_sim.app_limits import MESSAGE, ApplicationRateLimiter
from tests.support.tap_harness import discover, run_tap, select, sim_config

TOKEN = "glpat-endpoint-limits-0123456789"
JOBS = "GET /projects/:id/jobs"
THRESHOLD = 5  # jobs listings per window (GitLab's default: 600 a minute)
INTERVAL = 2  # seconds per window (GitLab's: 60)
WORKERS = 8
PROJECT_JOBS = re.compile(r"/projects/[^/]+/jobs$")


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(size="small", seed=11)


def _sim(dataset: Dataset, threshold: int = THRESHOLD, interval: int = INTERVAL, **limiter: t.Any) -> GitLabSimulator:
    limits = ApplicationRateLimiter({"jobs_index": threshold}, {"jobs_index": interval}, **limiter)
    # The global limit is on too (generous): its RateLimit-* headers come on every answer, the endpoint's 429 too.
    return GitLabSimulator(dataset, token=TOKEN, rate_limit_per_minute=1_000_000, app_rate_limits=limits)


def _client(sim: GitLabSimulator, endpoints: EndpointGovernor | None = None, workers: int = WORKERS) -> GitLabClient:
    settings = normalize(
        {"api_url": sim.base_url, "private_token": TOKEN, "requests_per_minute": 100000, "max_concurrency": workers}
    )
    client = GitLabClient(settings)
    if endpoints is not None:
        client.endpoints = endpoints
    return client


def _jobs_urls(client: GitLabClient, dataset: Dataset, count: int) -> list[str]:
    projects = dataset.live_projects()
    return [
        client.url(f"/projects/{projects[i % len(projects)]}/jobs", {"per_page": 100, "page": 1 + i // len(projects)})
        for i in range(count)
    ]


def _fetch(client: GitLabClient, urls: list[str], workers: int = WORKERS) -> list[t.Any]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda url: client.get_json(url)[0], urls))


def _jobs_log(sim: GitLabSimulator) -> list[t.Any]:
    time.sleep(0.05)  # the simulator logs an answer just after sending it
    return [entry for entry in sim.requests if entry.path.endswith("/jobs")]


def _run(
    dataset: Dataset,
    count: int,
    *,
    learn: bool,
    threshold: int = THRESHOLD,
    interval: int = INTERVAL,
    workers: int = WORKERS,
) -> tuple[list[t.Any], t.Any]:
    """Fetch `count` job listings with `workers` threads under the modelled limit: (simulator log, client)."""
    with _sim(dataset, threshold, interval) as sim:
        client = _client(sim, workers=workers)
        urls = _jobs_urls(client, dataset, count)
        sim.app_limits, limits = None, sim.app_limits
        reference = _fetch(client, urls, workers)  # the same listings without the limit
        sim.clear_requests()
        sim.app_limits = limits
        client = _client(sim, None if learn else EndpointGovernor(learn=False), workers)
        bodies = _fetch(client, urls, workers)
        assert bodies == reference  # every listing read, each whole
        return _jobs_log(sim), client


def measure(count: int, threshold: int, interval: int, workers: int) -> str:
    """One line: the 429s and seconds of `count` job listings under a modelled limit, learned and blind."""
    dataset = Dataset.generate(size="small", seed=11)
    figures = []
    for learn in (True, False):
        started = time.monotonic()
        log, _ = _run(dataset, count, learn=learn, threshold=threshold, interval=interval, workers=workers)
        throttled = sum(1 for entry in log if entry.status == 429)
        figures.append(
            f"{'with' if learn else 'without'} learning {throttled} 429s in {time.monotonic() - started:.0f} s"
        )
    return f"{count} job listings, {workers} workers, limit {threshold} per {interval} s: " + "; ".join(figures)


def test_the_simulator_answers_an_exceeded_endpoint_limit_as_gitlab_does(dataset):
    """`too_many_requests!({ error: ... }, retry_after: interval)`: JSON, the whole interval, per user; no
    RateLimit-* headers of its own (with the global limit off there are none at all)."""
    limits = ApplicationRateLimiter({"jobs_index": 2}, {"jobs_index": 60})
    with GitLabSimulator(dataset, token=TOKEN, app_rate_limits=limits) as sim:
        sim.add_token("glpat-second-user-0123456789", user_id=2)
        jobs = f"{sim.api_url}/projects/{dataset.live_projects()[0]}/jobs"
        answers = [requests.get(jobs, headers={"PRIVATE-TOKEN": TOKEN}, timeout=10) for _ in range(4)]
        other_user = requests.get(jobs, headers={"PRIVATE-TOKEN": "glpat-second-user-0123456789"}, timeout=10)
        missing = requests.get(f"{sim.api_url}/projects/999999/jobs", headers={"PRIVATE-TOKEN": TOKEN}, timeout=10)
        pipelines = requests.get(jobs.replace("/jobs", "/pipelines"), headers={"PRIVATE-TOKEN": TOKEN}, timeout=10)
    assert [answer.status_code for answer in answers] == [200, 200, 429, 429]
    limited = answers[2]
    assert limited.json() == {"message": {"error": MESSAGE}}
    assert limited.headers["Retry-After"] == "60"
    assert not [name for name in limited.headers if name.lower().startswith("ratelimit")]
    assert other_user.status_code == 200  # the counter is per user
    assert missing.status_code == 429  # the check comes before the project is looked up
    assert pipelines.status_code == 200  # another endpoint
    assert limits.throttled == {"jobs_index": 3}


def test_an_older_simulated_gitlab_sends_no_retry_after(dataset):
    limits = ApplicationRateLimiter({"jobs_index": 1}, retry_after=False)
    with GitLabSimulator(dataset, token=TOKEN, app_rate_limits=limits) as sim:
        jobs = f"{sim.api_url}/projects/{dataset.live_projects()[0]}/jobs"
        answers = [requests.get(jobs, headers={"PRIVATE-TOKEN": TOKEN}, timeout=10) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [200, 429]
    assert "Retry-After" not in answers[1].headers
    assert answers[1].json() == {"message": {"error": MESSAGE}}


def test_routes_are_keyed_by_their_template():
    assert route_template("GET", "/projects/12/jobs") == JOBS
    assert route_template("GET", "/projects/group%2Fsub%2Fapp/jobs") == JOBS
    assert route_template("GET", "/projects/12/pipelines/7/jobs") == "GET /projects/:id/pipelines/:pipeline_id/jobs"
    assert route_template("GET", "/groups/4/projects") == "GET /groups/:id/projects"
    assert set(KNOWN_LIMITS) >= {JOBS, "GET /projects", "GET /projects/:id", "GET /groups/:id/projects"}
    assert KNOWN_LIMITS[JOBS].key == "jobs_index" and KNOWN_LIMITS[JOBS].interval == 60
    assert KNOWN_LIMITS["GET /projects"].interval == 600  # projects_api: 10 minutes


def test_a_modelled_jobs_limit_is_learned_and_paced_so_few_429s_come(dataset):
    count = 24
    learned_log, client = _run(dataset, count, learn=True)
    blind_log, _ = _run(dataset, count, learn=False)
    learned = sum(1 for entry in learned_log if entry.status == 429)
    blind = sum(1 for entry in blind_log if entry.status == 429)
    print(
        f"\n{count} job listings, {WORKERS} workers, limit {THRESHOLD} per {INTERVAL} s: "
        f"429s with learning {learned}, without {blind}"
    )
    assert 1 <= learned <= WORKERS  # only the requests already sent when the first 429 came
    assert learned < blind
    limit = client.endpoints.limit(JOBS)
    assert limit is not None and 1 <= limit <= THRESHOLD
    report = client.endpoints.report()[JOBS]
    assert report["key"] == "jobs_index" and report["interval"] == INTERVAL and report["throttled"] == learned
    # Paced: once the first 429's wait is over, no window of GitLab's saw more than the limit.
    first = min(entry.time for entry in learned_log if entry.status == 429)
    per_window: dict[int, int] = {}
    for entry in learned_log:
        if entry.time > first + INTERVAL + 0.5:
            window = int(entry.time) // INTERVAL
            per_window[window] = per_window.get(window, 0) + 1
    assert per_window and max(per_window.values()) <= THRESHOLD


def test_an_older_gitlab_without_retry_after_is_waited_out_with_the_interval_of_its_key(dataset):
    """No Retry-After: the wait ends where GitLab's window for `jobs_index` does (its interval from the code;
    here the simulator's 2 s stands for GitLab's 60 s)."""
    known = {JOBS: dataclasses.replace(KNOWN_LIMITS[JOBS], interval=INTERVAL)}
    with _sim(dataset, retry_after=False) as sim:
        client = _client(sim, EndpointGovernor(known))
        urls = _jobs_urls(client, dataset, 20)
        started = time.monotonic()
        bodies = _fetch(client, urls)
        took = time.monotonic() - started
        log = _jobs_log(sim)
    assert all(isinstance(body, list) for body in bodies) and len(bodies) == 20
    throttled = sum(1 for entry in log if entry.status == 429)
    print(f"\nolder GitLab (no Retry-After), 20 listings: {throttled} 429s, {took:.1f} s")
    assert 1 <= throttled <= WORKERS
    assert client.endpoints.report()[JOBS]["interval"] == INTERVAL
    assert 1 <= (client.endpoints.limit(JOBS) or 0) <= THRESHOLD


def test_an_unknown_limit_without_retry_after_backs_off_and_learns_its_window(dataset):
    with _sim(dataset, retry_after=False) as sim:
        client = _client(sim, EndpointGovernor({}))  # the tap knows no key for this endpoint
        bodies = _fetch(client, _jobs_urls(client, dataset, 20))
        log = _jobs_log(sim)
    assert len(bodies) == 20
    throttled = sum(1 for entry in log if entry.status == 429)
    print(f"\nunknown limit (no Retry-After), 20 listings: {throttled} 429s")
    report = client.endpoints.report()[JOBS]
    assert report["key"] is None
    assert 1 <= report["interval"] <= 2 * INTERVAL  # learned from when the window reopened
    assert throttled <= 2 * WORKERS


def test_other_endpoints_go_on_at_full_speed_while_one_endpoint_waits(dataset):
    limits = ApplicationRateLimiter({"jobs_index": 1}, {"jobs_index": 30})
    with GitLabSimulator(dataset, token=TOKEN, app_rate_limits=limits) as sim:
        client = _client(sim)
        project = dataset.live_projects()[0]
        client.get_json(client.url(f"/projects/{project}/jobs"))
        raised: list[BaseException] = []

        def limited() -> None:
            try:
                client.get_json(client.url(f"/projects/{project}/jobs", {"page": 2}))
            except BaseException as exc:
                raised.append(exc)

        waiting = threading.Thread(target=limited)
        waiting.start()
        while not any(entry.status == 429 for entry in sim.requests):
            time.sleep(0.01)
        started = time.monotonic()
        for path in ("pipelines", "labels", "milestones", "releases", "issues"):
            body, _ = client.get_json(client.url(f"/projects/{project}/{path}"))
            assert isinstance(body, list)
        took = time.monotonic() - started
        client.close()  # the jobs request waits 30 s (Retry-After) otherwise
        waiting.join(timeout=10)
        log = _jobs_log(sim)
    assert took < 2.0
    assert [type(exc) for exc in raised] == [RunStopped]
    assert [entry.status for entry in log] == [200, 429]  # not re-sent during its wait


def test_a_global_429_still_pauses_every_endpoint_and_teaches_no_endpoint_limit(dataset):
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        sim.faults.add("429_reset_only", path=r"/labels$", times=1, retry_after=2)
        client = _client(sim)
        project = dataset.live_projects()[0]
        first = threading.Thread(target=lambda: client.get_json(client.url(f"/projects/{project}/labels")))
        first.start()
        while not sim.requests:
            time.sleep(0.01)
        started = time.monotonic()
        client.get_json(client.url(f"/projects/{project}/milestones"))
        took = time.monotonic() - started
        first.join(timeout=30)
    assert took >= 0.5  # Rack::Attack's limit is the user's, for every endpoint
    assert client.endpoints.report() == {}


def test_a_tap_run_under_a_jobs_limit_completes_with_every_job_and_few_429s(tmp_path, dataset):
    limits = ApplicationRateLimiter({"jobs_index": 6}, {"jobs_index": INTERVAL})
    with GitLabSimulator(dataset, token=TOKEN, app_rate_limits=limits) as sim:
        config = sim_config(sim, TOKEN)
        catalog = select(discover(tmp_path, config), ["jobs"])
        sim.app_limits = None
        baseline = run_tap(tmp_path / "baseline", config, catalog=catalog)
        sim.app_limits = limits
        sim.clear_requests()
        limited = run_tap(tmp_path / "limited", config, catalog=catalog)
        log = _jobs_log(sim)
    assert baseline.returncode == 0, baseline.stderr[-2000:]
    assert limited.returncode == 0, limited.stderr[-2000:]
    ids = sorted(record["id"] for record in limited.records["jobs"])
    assert ids and ids == sorted(record["id"] for record in baseline.records["jobs"])
    listings = [entry for entry in log if PROJECT_JOBS.search(entry.path)]
    throttled = sum(1 for entry in listings if entry.status == 429)
    print(f"\ntap run, jobs stream, limit 6 per {INTERVAL} s: {len(listings)} project job listings, {throttled} 429s")
    assert 1 <= throttled <= 4  # the tap's 4 workers
    assert "pacing that endpoint" in limited.stderr


if __name__ == "__main__":
    # python -m tests.integration.test_endpoint_rate_limits LISTINGS THRESHOLD INTERVAL WORKERS (e.g. 600 60 6 16)
    import sys

    print(measure(*(int(arg) for arg in sys.argv[1:5])))
