"""The fan-out reader (tap_gitlab/readers/fan_out.py) on a fake client: boundaries, child routes, 403 and 404."""

from __future__ import annotations

import typing as t

import pytest

from tap_gitlab.bookmarks import Bookmark
from tap_gitlab.client import Page, RunStats
from tap_gitlab.context import RunContext
from tap_gitlab.errors import ResourceUnavailable
from tap_gitlab.readers import fan_out
from tap_gitlab.scope import Scope
from tap_gitlab.settings import normalize
from tap_gitlab.spec import Child, Parent, Partition, StreamSpec

T0 = "2024-01-31T12:00:00.000Z"
T1 = "2024-02-01T08:30:00.000Z"
NOTES = StreamSpec(
    name="notes",
    reader=fan_out.read,
    parent=Parent("/projects/{project_id}/issues", {"scope": "all"}, fields={"issue_iid": "iid", "at": "updated_at"}),
    child=Child("/projects/{project_id}/issues/{iid}/notes", fallback="/projects/{project_id}/issues/{iid}/comments"),
    replication_key="at",
    since_param="updated_after",
    sorted=True,
)
ISSUES = [
    {"id": 1, "iid": 11, "project_id": 7, "updated_at": T0},
    {"id": 2, "iid": 12, "project_id": 7, "updated_at": T0},
    {"id": 3, "iid": 13, "project_id": 7, "updated_at": T1},
]


class FakeClient:
    """Answers the issue listing with ISSUES and each notes request from `answers` (path -> records or status)."""

    def __init__(self, answers: dict[str, t.Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def pages(
        self, path: str, params: t.Mapping[str, t.Any] | None = None, paginator: t.Any = None
    ) -> t.Iterator[Page]:
        self.asked.append(path)
        if path.endswith("/issues"):
            yield Page([dict(issue) for issue in ISSUES], path)
            return
        answer = self.answers.get(path, 404)
        if isinstance(answer, int):
            raise ResourceUnavailable(f"GET {path}: {answer}", status=answer)
        yield Page([dict(record) for record in answer], path)


class InOrder:
    """The scheduler's `map_ordered`, on the calling thread."""

    def map_ordered(self, fn: t.Callable[[t.Any], t.Any], items: t.Sequence[t.Any]) -> t.Iterator[t.Any]:
        return iter([fn(item) for item in items])


def _run(client: FakeClient) -> RunContext:
    settings = normalize({"api_url": "https://gitlab.example.com", "private_token": "x"})
    scope = Scope(projects={7: {"path_with_namespace": "top/app"}})
    return RunContext(client, InOrder(), scope, settings, RunStats(), None, version=1)  # type: ignore[arg-type]


def _read(client: FakeClient, bookmark: Bookmark, run: RunContext | None = None) -> list[t.Any]:
    run = run or _run(client)
    partition = Partition({"project_id": 7}, bookmark.value, "project 7 (top/app)")
    return list(fan_out.read(NOTES, run, partition, bookmark))


def test_a_batch_per_parent_with_the_parent_fields_and_the_bookmark_to_move_to() -> None:
    client = FakeClient({f"/projects/7/issues/{iid}/notes": [{"id": iid * 10}] for iid in (11, 12, 13)})
    batches = _read(client, Bookmark())
    assert [(b.advance, b.advance_ids, b.checkpoint) for b in batches] == [
        (T0, (1,), False),
        (T0, (2,), False),
        (T1, (3,), True),  # the page of parents ends: a STATE is due
    ]
    assert batches[0].records == [{"id": 110, "issue_iid": 11, "at": T0, "project_id": 7}]


def test_parents_at_the_boundary_whose_children_are_out_are_not_read_again() -> None:
    client = FakeClient({f"/projects/7/issues/{iid}/notes": [{"id": iid * 10}] for iid in (11, 12, 13)})
    batches = _read(client, Bookmark(value=T0, boundary_value=T0, boundary_ids=(1,)))
    assert "/projects/7/issues/11/notes" not in client.asked
    assert [len(b.records) for b in batches] == [0, 1, 1]
    assert batches[0].advance == T0  # the bookmark still moves past the parent


def test_the_fallback_route_is_learnt_once_for_the_run() -> None:
    client = FakeClient({f"/projects/7/issues/{iid}/comments": [{"id": iid}] for iid in (11, 12, 13)})
    run = _run(client)
    batches = _read(client, Bookmark(), run)
    assert [len(b.records) for b in batches] == [1, 1, 1]
    assert run.learnt_routes == {"notes": "/projects/{project_id}/issues/{iid}/comments"}
    # After the first parent, the learnt route is asked directly.
    assert [path for path in client.asked if "/notes" in path] == ["/projects/7/issues/11/notes"]


@pytest.mark.parametrize(("status", "incomplete"), [(403, "project 7 (top/app) skipped"), (404, None)])
def test_a_refused_parent_is_skipped_and_named_a_vanished_one_silently(status: int, incomplete: str | None) -> None:
    answers: dict[str, t.Any] = {f"/projects/7/issues/{iid}/notes": [{"id": iid}] for iid in (11, 13)}
    answers["/projects/7/issues/12/notes"] = status
    answers["/projects/7/issues/12/comments"] = status
    client = FakeClient(answers)
    run = _run(client)
    run.learnt_routes["notes"] = NOTES.child.path  # type: ignore[union-attr]
    batches = _read(client, Bookmark(), run)
    assert [len(b.records) for b in batches] == [1, 0, 1]
    assert [b.incomplete for b in batches] == [None, incomplete, None]
    assert len(run.stats.skipped) == (1 if status == 403 else 0)
