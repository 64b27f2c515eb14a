"""`git log` over a project's commit graph, as `GET /projects/:id/repository/commits` runs it.

GitLab's path (gitlabhq/gitlabhq): `lib/api/commits.rb` passes `ref_name` (default: the default branch; not
sent at all with `all=true`), `since` as `after`, `until` as `before`, `first_parent`, `order`, `all`, and
`offset = (page - 1) * per_page` with `limit = per_page` to `Repository#commits` (`app/models/repository.rb`)
→ `Gitlab::Git::Commit.where` → `Gitlab::Git::Repository#log` → `Gitlab::GitalyClient::CommitService
#find_commits` (`lib/gitlab/gitaly_client/commit_service.rb`, the timestamps in whole seconds). Gitaly
(`internal/gitaly/service/commit/find_commits.go`) runs `git log --skip=<offset> --max-count=<limit>` with
`--after`/`--before`, `--first-parent`, `--topo-order` for `order=topo`, and `--all --reverse` for `all`, the
revision as one argument (so `a..b` and `a...b` ranges work; whitespace is refused as an invalid argument,
which the API answers 400 `ref_name is invalid`). A revision git cannot resolve (an unknown name, a sha that
was garbage-collected, a range with such an end) makes Gitaly answer NotFound "commits not found"
(`wrapGitLogCmdError`), which `Gitlab::Git::Repository#log` (`lib/gitlab/git/repository.rb`) rescues
(`rescue Gitlab::Git::Repository::CommitNotFound` → `[]`): the API answers 200 with an empty list, exactly as
for a range with nothing in it.

Not modelled: `--all` on GitLab also starts from refs/merge-requests/*, refs/pipelines/* and keep-around refs
(here: branches and tags); `path`/`--follow`; `trailers` parsing (always `{}`).

git's rules modelled here (git's `revision.c`):
- `--after` compares the committer date (`commit->date`). In a plain walk a commit older than it is not shown
  and its parents are not walked through it (`get_revision_1`: `continue` before the parents are added), so
  history reached only through an old commit is hidden even when newer; in a limited walk (a range or
  `--topo-order`) `limit_list` marks the old commit UNINTERESTING and with it all its ancestors.
- `--before` only hides commits newer than it; the walk goes on through them.
- Default order: a walk from the tips popping the newest committer date first (ties in insertion order).
  `--topo-order`: no parent before all its children, one line of history at a time (a stack).
- `--all` starts from every ref (branches, then tags); `--reverse` is applied after `--skip`/`--max-count`,
  so each page holds the newest commits of its slice, oldest first.
"""

from __future__ import annotations

import heapq
import re
import typing as t

if t.TYPE_CHECKING:
    from tests.gitlab_sim.dataset import ProjectData

Record = dict[str, t.Any]
_SHA = re.compile(r"^[0-9a-f]{4,40}$")


class InvalidRevision(ValueError):
    """Gitaly's InvalidArgument for a revision: the API's 400 `ref_name is invalid`."""


def default_branch(d: ProjectData) -> str | None:
    return next((b["name"] for b in d.branches if b["default"]), None)


def resolve(d: ProjectData, rev: str) -> str | None:
    """A branch, tag or (abbreviated) sha to the commit it names; None when git cannot resolve it."""
    for branch in d.branches:
        if branch["name"] == rev:
            return str(branch["commit"]["id"])
    for tag in d.tags:
        if tag["name"] == rev:
            return str(tag["commit"]["id"])
    if rev == "HEAD":
        name = default_branch(d)
        return resolve(d, name) if name else None
    if _SHA.match(rev):
        if rev in d.commit_by_id:
            return rev
        matches = [sha for sha in d.commit_by_id if sha.startswith(rev)]
        return matches[0] if len(matches) == 1 else None
    return None


def _parents(d: ProjectData, sha: str, first_parent: bool) -> list[str]:
    parents = [p for p in d.commit_by_id[sha]["parent_ids"] if p in d.commit_by_id]
    return parents[:1] if first_parent else parents


def reachable(d: ProjectData, tips: t.Iterable[str], first_parent: bool = False) -> set[str]:
    """Every commit reachable from `tips`, the tips included."""
    seen: set[str] = set()
    stack = [tip for tip in tips if tip in d.commit_by_id]
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        stack.extend(_parents(d, sha, first_parent))
    return seen


def log(
    d: ProjectData,
    ref: str | None = None,
    *,
    all_refs: bool = False,
    since: float | None = None,
    until: float | None = None,
    first_parent: bool = False,
    order: str = "default",
) -> list[Record]:
    """The commits `git log` lists, in its order (before `--skip`/`--max-count` and `--reverse`).

    Raises InvalidRevision for a revision Gitaly refuses; returns [] for one git cannot resolve.
    """
    when = d.commit_seconds
    excluded: set[str] = set()
    if all_refs:
        tips = [str(b["commit"]["id"]) for b in sorted(d.branches, key=lambda b: b["name"])]
        tips += [str(tag["commit"]["id"]) for tag in sorted(d.tags, key=lambda tag: tag["name"])]
        limited = order == "topo"
    else:
        rev = ref if ref is not None else (default_branch(d) or "HEAD")
        if not rev or rev.startswith("-") or any(ch.isspace() for ch in rev) or "\x00" in rev:
            raise InvalidRevision(rev)
        if "..." in rev:
            left, right = rev.split("...", 1)
            a, b = resolve(d, left or "HEAD"), resolve(d, right or "HEAD")
            if a is None or b is None:
                return []
            tips = [a, b]
            excluded = reachable(d, [a], first_parent) & reachable(d, [b], first_parent)
            limited = True
        elif ".." in rev:
            left, right = rev.split("..", 1)
            a, b = resolve(d, left or "HEAD"), resolve(d, right or "HEAD")
            if a is None or b is None:
                return []
            tips = [b]
            excluded = reachable(d, [a], first_parent)
            limited = True
        else:
            tip = resolve(d, rev)
            if tip is None:
                return []
            tips = [tip]
            limited = order == "topo"
    since_s = int(since) if since is not None else None
    until_s = int(until) if until is not None else None

    def old(sha: str) -> bool:
        return since_s is not None and when[sha] < since_s

    if limited and since_s is not None:
        reached = reachable(d, tips, first_parent)
        excluded |= reachable(d, [sha for sha in reached if old(sha)], first_parent)
    # The walk: newest committer date first; an old commit stops the walk through it.
    shown: list[str] = []
    queued: set[str] = set()
    heap: list[tuple[int, int, str]] = []
    counter = 0
    for tip in tips:
        if tip in d.commit_by_id and tip not in queued:
            queued.add(tip)
            heapq.heappush(heap, (-when[tip], counter, tip))
            counter += 1
    while heap:
        _, _, sha = heapq.heappop(heap)
        if sha in excluded and not limited:
            continue
        if old(sha):
            continue
        if sha not in excluded and (until_s is None or when[sha] <= until_s):
            shown.append(sha)
        for parent in _parents(d, sha, first_parent):
            if parent not in queued:
                queued.add(parent)
                heapq.heappush(heap, (-when[parent], counter, parent))
                counter += 1
    if order == "topo":
        shown = _topo(d, shown, first_parent)
    return [d.commit_by_id[sha] for sha in shown]


def _topo(d: ProjectData, shas: list[str], first_parent: bool) -> list[str]:
    """`--topo-order` (git's `sort_in_topological_order`): children first, one line at a time (a stack)."""
    members = set(shas)
    indegree = dict.fromkeys(shas, 0)
    for sha in shas:
        for parent in _parents(d, sha, first_parent):
            if parent in members:
                indegree[parent] += 1
    stack = [sha for sha in reversed(shas) if indegree[sha] == 0]
    out: list[str] = []
    while stack:
        sha = stack.pop()
        out.append(sha)
        for parent in reversed(_parents(d, sha, first_parent)):
            if parent in members:
                indegree[parent] -= 1
                if indegree[parent] == 0:
                    stack.append(parent)
    return out
