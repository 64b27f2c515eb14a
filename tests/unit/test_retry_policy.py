"""Issue 10 item 8: one retry budget per request.

The policy object (`tap_gitlab/retry.py`) bounds the attempts of one request in all, whatever fails and in
whichever layer; before, `get_json` retried around `request()`, which retried by itself (up to 64 attempts of
one URL). Unit tests of the budget and the waits, then the client under faults that do not go away: the
number of attempts of the one URL is counted.
"""

from __future__ import annotations

import email.utils
import json
import time
import typing as t

import pytest

from tap_gitlab.client import MAX_TRANSIENT_ATTEMPTS, GitLabClient
from tap_gitlab.errors import GitLabAPIError
from tap_gitlab.retry import DEFAULT_POLICY, RetryPolicy, reset_after, retry_after, status_kind
from tap_gitlab.settings import normalize
from tap_gitlab.transport import Headers, Response
from tests.gitlab_sim import Dataset, GitLabSimulator

TOKEN = "glpat-retry-policy-0123456789"
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)  # the real budget, without the real waits


# -- the policy object ------------------------------------------------------------------------------------------


def test_one_request_has_eight_attempts_in_all():
    budget = DEFAULT_POLICY.budget()
    assert [budget.spend("transient") for _ in range(8)] == [True] * 7 + [False]
    assert budget.attempts == 8


def test_failures_of_different_kinds_draw_from_the_same_budget():
    budget = DEFAULT_POLICY.budget()
    spent = [budget.spend(kind) for kind in ("transient", "server_error", "transient", "refused")]
    spent += [budget.spend(kind) for kind in ("statement_timeout", "transient", "server_error")]
    assert spent == [True] * 7
    assert budget.spend("html") is False  # the 8th failure of the request, although its first HTML page


@pytest.mark.parametrize(
    ("kind", "share"),
    [("server_error", 4), ("statement_timeout", 3), ("refused", 4), ("html", 2), ("transient", 8)],
)
def test_some_kinds_have_a_smaller_share_of_the_budget(kind, share):
    budget = DEFAULT_POLICY.budget()
    results = [budget.spend(kind) for _ in range(share)]
    assert results == [True] * (share - 1) + [False]
    assert DEFAULT_POLICY.limit(kind) == share


def test_budgets_of_different_requests_are_independent():
    first, second = DEFAULT_POLICY.budget(), DEFAULT_POLICY.budget()
    for _ in range(7):
        first.spend("transient")
    assert second.spend("transient") is True
    assert second.attempts == 1


def test_backoff_doubles_from_the_base_and_stays_within_its_bounds():
    policy = RetryPolicy(base_delay=0.5, max_delay=60.0)
    lowest = [policy.backoff(n, rng=lambda: 0.0) for n in range(1, 12)]
    highest = [policy.backoff(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert highest[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert max(highest) == 60.0  # capped
    assert all(low == high / 2 for low, high in zip(lowest, highest, strict=True))  # jitter: half to all
    assert all(0.25 <= policy.backoff(n) <= 60.0 for n in range(1, 30))


def test_retry_after_is_honoured_instead_of_the_backoff_and_capped():
    policy = RetryPolicy(max_retry_after=900.0)
    assert policy.delay(5, 7.0) == 7.0
    assert policy.delay(1, 0.0) == 0.0
    assert policy.delay(1, 86_400.0) == 900.0  # some GitLab limits ask for a day
    assert policy.delay(1, -3.0) == 0.0
    assert policy.delay(3, None, rng=lambda: 1.0) == 2.0


def test_a_reduced_policy_only_ever_lowers_shares():
    reduced = DEFAULT_POLICY.reduced(max_server_errors=2, max_statement_timeouts=5)
    assert (reduced.max_server_errors, reduced.max_statement_timeouts) == (2, 3)
    assert reduced.max_attempts == DEFAULT_POLICY.max_attempts and reduced.base_delay == DEFAULT_POLICY.base_delay
    assert FAST.reduced(max_server_errors=2).max_delay == FAST.max_delay  # the waits of the policy reduced


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        *[(429, "transient"), (502, "transient"), (503, "transient"), (504, "transient"), (408, "statement_timeout")],
        *[(500, "server_error"), (501, "server_error"), (400, None), (404, None), (422, None), (200, None)],
    ],
)
def test_status_kinds(status, kind):
    assert status_kind(status) == kind


def test_server_given_waits_are_read_from_retry_after_then_ratelimit_reset():
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert 50 < retry_after({"Retry-After": email.utils.formatdate(time.time() + 60, usegmt=True)}) <= 60
    assert reset_after({"Retry-After": "3", "RateLimit-Reset": str(int(time.time()) + 60)}) == 3.0
    assert 55 < reset_after({"RateLimit-Reset": str(int(time.time()) + 60)}) <= 60
    assert reset_after({"RateLimit-Reset": "x"}) is None


def test_get_json_is_the_one_retry_loop_not_a_loop_around_it():
    """`get_json` no longer retries around `request`: one loop (in `request`), one budget."""
    import ast
    import inspect
    import textwrap

    for method in (GitLabClient.get_json, GitLabClient.get_object):
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
        assert not [node for node in ast.walk(tree) if isinstance(node, (ast.While, ast.For))]
    loops = ast.parse(textwrap.dedent(inspect.getsource(GitLabClient.request)))
    assert len([node for node in ast.walk(loops) if isinstance(node, (ast.While, ast.For))]) == 1


# -- the client: attempts per URL under faults that do not go away ----------------------------------------------


@pytest.fixture(scope="module")
def sim():
    with GitLabSimulator(Dataset.generate(size="tiny", seed=5), token=TOKEN) as server:
        yield server


def _client(base_url: str) -> GitLabClient:
    settings = normalize({"api_url": base_url, "private_token": TOKEN, "requests_per_minute": 100000})
    return GitLabClient(settings, retry_policy=FAST)


def _statuses(sim: GitLabSimulator, path: str) -> list[int]:
    """The statuses of the requests of `path` (the simulator logs an answer just after sending it)."""
    time.sleep(0.05)
    return [entry.status for entry in sim.requests if entry.path == "/api/v4" + path]


def _attempts(sim: GitLabSimulator, path: str) -> int:
    return len(_statuses(sim, path))


def test_a_bad_body_after_failed_connections_spends_the_same_budget_no_nested_retries(sim):
    """Seven resets, then an invalid JSON body, again and again: the old layers retried 8 x 8 = 64 times."""
    sim.faults.clear()
    sim.clear_requests()
    path = "/projects/1/labels"
    sim.faults.add("truncated", path=f"^/api/v4{path}$", mode="invalid_json", after=7, every=8)
    sim.faults.add("reset", path=f"^/api/v4{path}$")
    client = _client(sim.base_url)
    with pytest.raises(GitLabAPIError, match=r"is not valid JSON \(application/json\) after 8 attempts"):
        client.get_json(client.url(path))
    sim.faults.clear()
    print(f"attempts of one URL under resets + bad bodies: {_attempts(sim, path)} (was 64)")
    assert _attempts(sim, path) == MAX_TRANSIENT_ATTEMPTS == 8


@pytest.mark.parametrize(
    ("kind", "attempts", "message"),
    [
        ("503", 8, "GitLab kept answering 503 to GET /projects/1/milestones after 8 attempts; try again later"),
        ("500", 4, "GitLab answered 500 Internal Server Error to GET /projects/1/milestones 4 times;"),
        ("reset", 8, "GitLab did not answer GET /projects/1/milestones after 8 attempts (connection failed)"),
        ("429_retry_after", 8, "GitLab kept answering 429 to GET /projects/1/milestones after 8 attempts"),
    ],
)
def test_a_persistent_fault_is_tried_a_bounded_number_of_times_then_named(sim, kind, attempts, message):
    sim.faults.clear()
    sim.clear_requests()
    path = "/projects/1/milestones"
    options = {"retry_after": 0} if kind.startswith("429") else {}
    sim.faults.add(kind, path=f"^/api/v4{path}$", **options)
    client = _client(sim.base_url)
    with pytest.raises(GitLabAPIError) as raised:
        client.get_json(client.url(path))
    sim.faults.clear()
    assert message in str(raised.value)
    assert _attempts(sim, path) == attempts


def test_retry_after_of_a_429_is_waited_before_the_retry(sim):
    sim.faults.clear()
    sim.clear_requests()
    path = "/projects/1/labels"
    sim.faults.add("429_retry_after", path=f"^/api/v4{path}$", times=1, retry_after=1)
    client = _client(sim.base_url)
    started = time.monotonic()
    body, _ = client.get_json(client.url(path))
    waited = time.monotonic() - started
    sim.faults.clear()
    assert isinstance(body, list)
    assert _statuses(sim, path) == [429, 200]
    assert waited >= 0.95  # the 1 s GitLab asked for, not FAST's milliseconds
    assert client.stats.rate_limited == 1


class _Canned:
    """A transport answering every request with one canned response (no network)."""

    def __init__(self, status: int, body: t.Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}
        self.sent: list[str] = []

    def send(self, method: str, url: str, headers: t.Mapping[str, str]) -> Response:
        self.sent.append(url)
        answer = Headers({k.lower(): v for k, v in {"Content-Type": "application/json", **self.headers}.items()})
        return Response(self.status, answer, json.dumps(self.body).encode(), url)


def test_a_statement_timeout_is_retried_then_raised_with_status_408_for_the_caller_to_narrow():
    """`lib/api/merge_requests.rb` answers a cancelled query with 408 `{"message":{"error":"Request timed out"}}`."""
    client = _client("https://gitlab.example.test")
    adapter = _Canned(408, {"message": {"error": "Request timed out"}})
    client.transport = adapter
    with pytest.raises(GitLabAPIError) as raised:
        client.get_json(client.url("/groups/7/merge_requests", {"updated_after": "2024-01-01T00:00:00Z"}))
    assert raised.value.status == 408
    assert len(adapter.sent) == DEFAULT_POLICY.max_statement_timeouts == 3
    assert "3 times; the database query timed out; narrow the request" in str(raised.value)
    assert TOKEN not in str(raised.value)
