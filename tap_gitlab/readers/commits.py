"""Commits of the default branch (or of every branch), read as revision ranges from the heads last read.

GitLab's `since` is git's `--after` (`lib/api/commits.rb` → `Repository#commits` → Gitaly `FindCommits`):
it filters on the committer date and stops the walk at the first older commit, so a merge that brings
older commits onto a branch, or a branch pushed late with old history, is never listed after a bookmark.
Instead each partition's state keeps the head of every branch read (`branch_heads`; `HEAD` is the
default branch), and the next run lists `ref_name=<old head>..<new head>`: exactly the commits that
became reachable, whatever their dates. A branch new since the last run is read from the default
branch's head (`<default head>..<branch head>`), its whole history when there is no default branch.
A head is stored only after its commits are out, so a crash re-reads, never skips.

Force-pushes: a range from an old head that still exists lists what the rewrite added, which is
complete (what the old head reached was read before). Once the old head is garbage-collected git cannot
resolve the range and GitLab answers an empty list (`Gitlab::Git::Repository#log` rescues Gitaly's
NotFound); an empty range for a branch that moved is therefore checked with
`GET /projects/:id/repository/commits/:sha`, and a 404 there reads the branch again from the default
branch's head (the default branch itself: whole). `start_date` stays git's `--after` on every read.

Costs: an unchanged default branch is one request (its head, `per_page=1`), every branch one listing
of branches; the first run reads the listing as before (every branch: one listing of branches more).
"""

from __future__ import annotations

import logging
import typing as t

from tap_gitlab.bookmarks import DEFAULT_HEAD, BranchHeads
from tap_gitlab.errors import ResourceUnavailable
from tap_gitlab.paginators import PER_PAGE, LinkPaginator
from tap_gitlab.readers.records import shape
from tap_gitlab.spec import Batch
from tap_gitlab.timestamps import millis

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Partition, Record, StreamSpec

logger = logging.getLogger("tap-gitlab")

BRANCHES_PATH = "/projects/{project_id}/repository/branches"
LINKS = LinkPaginator()  # commits and branches page by their next links


def read(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    """The default branch's new commits, or every branch's (`commits_all_branches`)."""
    reader = HistoryReader(spec, run, partition, bookmark.branch_heads)
    return reader.every_branch() if run.settings.commits_all_branches else reader.default_branch()


class HistoryReader:
    """One partition's commit reads (runs in a worker); every record once per run."""

    def __init__(self, spec: StreamSpec, run: RunContext, partition: Partition, known: dict[str, str]) -> None:
        self.spec, self.run = spec, run
        self.client = run.client
        self.context = partition.context
        self.label = partition.label
        self.path = spec.path.format(**self.context)
        self.params = dict(spec.params)
        if run.settings.start_date is not None:
            self.params["since"] = millis(run.settings.start_date)  # git's --after, as GitLab passes it
        self.known = known
        self.seen: set[str] = set()

    # -- the two modes --------------------------------------------------------------------------------------

    def default_branch(self) -> t.Iterator[Batch]:
        old = self.known.get(DEFAULT_HEAD)
        if old is None:
            # First run (or a state from before heads were kept): the whole branch, pinned to the head that
            # page 1 shows (git lists a single tip first), so a push during the listing shifts no page.
            head: list[str] = []
            yield from self._read(None, pin=head)
            if head:
                yield Batch([], progress=BranchHeads.of({**self.known, DEFAULT_HEAD: head[0]}))
            return
        page = next(iter(self.client.pages(self.path, {"per_page": 1}, LINKS)), None)
        if page is None or not page.records:
            return
        new = str(page.records[0]["id"])
        if new != old:
            yield from self._range(old, new, None)
            # Other branches' heads (from a run with commits_all_branches) stay: switching back reads less.
            yield Batch([], progress=BranchHeads.of({**self.known, DEFAULT_HEAD: new}))

    def every_branch(self) -> t.Iterator[Batch]:
        branches = [
            (str(branch["name"]), str(branch["commit"]["id"]), bool(branch.get("default")))
            for page in self.client.pages(BRANCHES_PATH.format(**self.context), {}, LINKS)
            for branch in page.records
            if branch.get("commit")
        ]
        current = {name: sha for name, sha, _ in branches}
        default = next(((name, sha) for name, sha, is_default in branches if is_default), None)
        if default:
            current[DEFAULT_HEAD] = default[1]
        if not self.known:
            # First run: every ref in one listing (git log --all), then the heads listed before it (a push
            # made meanwhile is read again next time, never missed).
            yield from self._read(None, all_refs=True)
            yield Batch([], progress=BranchHeads.of(current))
            return
        heads = dict(self.known)
        covered = set(self.known.values())  # heads whose whole history is out
        ordered = sorted(branches, key=lambda b: (not b[2], b[0]))  # the default branch first
        for name, sha, is_default in ordered:
            if sha not in covered:
                old = self.known.get(name) or (self.known.get(DEFAULT_HEAD) if is_default else None)
                base = None if is_default or default is None else default[1]
                if old is not None:
                    yield from self._range(old, sha, base)
                elif base is not None:
                    yield from self._read(f"{base}..{sha}")
                else:
                    yield from self._read(sha)
                covered.add(sha)
            heads[name] = sha
            if is_default:
                heads[DEFAULT_HEAD] = sha
            yield Batch([], progress=BranchHeads.of(heads))
        if heads != current:
            yield Batch([], progress=BranchHeads.of(current))  # forget deleted branches

    # -- reads ----------------------------------------------------------------------------------------------

    def _range(self, old: str, new: str, base: str | None) -> t.Iterator[Batch]:
        """The commits `new` reaches and `old` does not; when `old` is gone (a force-push, then gc), from `base`."""
        listed: list[int] = []
        try:
            yield from self._read(f"{old}..{new}", listed=listed)
        except ResourceUnavailable as exc:
            if exc.status != 404:
                raise
            listed = []  # a GitLab that answers an unresolvable range with 404 rather than []
        if sum(listed) or self._exists(old):
            return
        logger.info(
            "commits: %s: %s is no longer in the repository (force-pushed); reading %s",
            self.label,
            old[:12],
            f"from {base[:12]}" if base else "the branch's whole history",
        )
        yield from self._read(f"{base}..{new}" if base else new)

    def _exists(self, sha: str) -> bool:
        try:
            self.client.get_object(f"{self.path}/{sha}", {"stats": "false"})
        except ResourceUnavailable as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _read(
        self,
        ref: str | None,
        *,
        all_refs: bool = False,
        pin: list[str] | None = None,
        listed: list[int] | None = None,
    ) -> t.Iterator[Batch]:
        """Every page of `git log <ref>` (None: the default branch), each commit once per run.

        With `pin`, the first commit of page 1 (the ref's head) is appended to it and later pages ask for it.
        """
        params = dict(self.params)
        if all_refs:
            params["all"] = "true"
        elif ref is not None:
            params["ref_name"] = ref
        pages = self.client.pages(self.path, params, LINKS)
        for page in pages:
            if listed is not None:
                listed.append(len(page.records))
            yield self._batch(page.records)
            if pin is not None:
                if not page.records:
                    return
                pin.append(str(page.records[0]["id"]))
                if len(page.records) < PER_PAGE:
                    return
                for rest in self.client.pages(self.path, {**params, "ref_name": pin[0], "page": 2}, LINKS):
                    yield self._batch(rest.records)
                return

    def _batch(self, records: list[Record]) -> Batch:
        out = []
        for record in records:
            sha = str(record.get("id"))
            if sha in self.seen:
                continue  # reached from another branch earlier in this run
            self.seen.add(sha)
            shaped = shape(self.spec, self.run, record, self.context)
            if shaped is not None:
                out.append(shaped)
        return Batch(out)
