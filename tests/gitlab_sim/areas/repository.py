"""The repository: commits (a git graph, see gitlog.py), branches, tags, releases, files and languages.

Models gitlabhq lib/api/commits.rb, lib/api/branches.rb, lib/api/tags.rb, lib/api/releases.rb, lib/api/files.rb,
the `languages` route of lib/api/projects.rb, and the entities lib/api/entities/commit*.rb, branch.rb, tag.rb,
release.rb; pushes, merges and force pushes change the graph as git would.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import typing as t
from urllib.parse import unquote

from tests.gitlab_sim import gitlog
from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import _P, ApiError, Listing, Record, Request, choice, not_found, sort_param
from tests.gitlab_sim.model import ProjectData, ProjectGen, _mutation, _sentence, _sha, _times
from tests.gitlab_sim.util import NOW_EPOCH, db_time, git_time, parse_time


class RepositoryModel:
    """Generating a project's repository and changing it (pushes, branches, merges, force pushes, README)."""

    def _generate_commits(self, g: ProjectGen) -> None:
        """Commits on the default branch (oldest first while generating)."""
        pid, counts, rng, d, start, web = g.pid, g.counts, g.rng, g.d, g.start, g.web
        tz = rng.choice(W.TIMEZONES)
        commit_times = _times(rng, counts["commits"], start, NOW_EPOCH - 3600)
        parent: str | None = None
        chrono: list[Record] = []
        for k, when in enumerate(commit_times):
            sha = _sha(self.seed, pid, "c", k)
            c = self._commit(rng, sha, parent, when, tz, web, d)
            chrono.append(c)
            parent = sha
        d.commits = list(reversed(chrono))
        g.tz, g.chrono = tz, chrono

    def _generate_branches(self, g: ProjectGen) -> None:
        """Branches, and commits that exist only on some of them."""
        pid, counts, rng, d, start, web, tz, chrono = g.pid, g.counts, g.rng, g.d, g.start, g.web, g.tz, g.chrono
        n_branches = counts["branches"]
        branch_names = ["main"] + [
            f"{rng.choice(['feature', 'fix', 'chore'])}/{rng.choice(W.NOUNS)}-{k}" for k in range(1, n_branches)
        ]
        own_left = counts["branch_commits"]
        for k, name in enumerate(branch_names[1:], start=1):
            if own_left <= 0 or k > 3:
                break
            take = own_left if k == 3 or k == len(branch_names) - 1 else max(1, own_left // 2)
            own_left -= take
            base_commit = chrono[rng.randrange(len(chrono))] if chrono else None
            parent = base_commit["id"] if base_commit else None
            t0 = parse_time(base_commit["committed_date"]) if base_commit else start
            own = []
            for j, when in enumerate(_times(rng, take, (t0 or start) + 60, NOW_EPOCH - 60)):
                sha = _sha(self.seed, pid, "b", name, j)
                c = self._commit(rng, sha, parent, when, tz, web, d)
                own.append(c)
                parent = sha
            d.branch_commits[name] = list(reversed(own))
        for k, name in enumerate(branch_names):
            own = d.branch_commits.get(name)
            head = own[0] if own else (d.commits[0] if k == 0 or not chrono else rng.choice(chrono))
            d.branches.append(
                {
                    "name": name,
                    "merged": k > 0 and not own and rng.random() < 0.3,
                    "protected": k == 0,
                    "default": k == 0,
                    "developers_can_push": False,
                    "developers_can_merge": k == 0,
                    "can_push": True,
                    "web_url": f"{web}/-/tree/{name}",
                    "commit": head,
                }
            )
        d.branches.sort(key=lambda b: b["name"])
        g.branch_names = branch_names

    def _generate_tags_and_releases(self, g: ProjectGen) -> None:
        """Tags (every other one annotated) and releases (of the newest tags, Entities::Release)."""
        pid, counts, rng, d, chrono = g.pid, g.counts, g.rng, g.d, g.chrono
        tagged = sorted(rng.sample(range(len(chrono)), min(counts["tags"], len(chrono))))
        for k, index in enumerate(tagged):
            c = chrono[index]
            name = f"v{1 + k // 10}.{k % 10}.0"
            annotated = k % 2 == 0
            d.tags.append(
                {
                    "name": name,
                    "message": f"Release {name}" if annotated else None,
                    "target": _sha(self.seed, pid, "tag", name) if annotated else c["id"],
                    "protected": k == 0,
                    "created_at": c["committed_date"] if annotated else None,
                    "release": None,
                    "commit": c,
                }
            )
        for k, tag in enumerate(reversed(d.tags[-counts["releases"] :] if counts["releases"] else [])):
            d.releases.append(self._release(g, k, tag))

    def _release(self, g: ProjectGen, k: int, tag: Record) -> Record:
        """The release of `tag` (lib/api/entities/release.rb), the `k`th from the newest; sets the tag's `release`."""
        pid, project, rng, start, ub, full, web, people, ms_short = (
            g.pid,
            g.project,
            g.rng,
            g.start,
            g.ub,
            g.full,
            g.web,
            g.people,
            g.ms_short,
        )
        created = parse_time(tag["commit"]["committed_date"]) or start
        created += 3600
        released = created + (0 if k % 2 else 86400)
        description = f"## Changes\n\n- {_sentence(rng)}\n- {_sentence(rng)}"
        tag["release"] = {"tag_name": tag["name"], "description": description}
        return {
            "tag_name": tag["name"],
            "description": description,
            "name": f"{project['name']} {tag['name']}",
            "created_at": db_time(created),
            "released_at": db_time(released),
            "upcoming_release": False,
            "author": ub[rng.choice(people)],
            "commit": tag["commit"],
            "milestones": [ms_short[0]] if ms_short and k == 0 else [],
            "commit_path": f"/{full}/-/commit/{tag['commit']['id']}",
            "tag_path": f"/{full}/-/tags/{tag['name']}",
            "assets": {
                "count": 4,
                "sources": [
                    {
                        "format": fmt,
                        "url": f"{web}/-/archive/{tag['name']}/{project['path']}-{tag['name']}.{fmt}",
                    }
                    for fmt in ("zip", "tar.gz", "tar.bz2", "tar")
                ],
                "links": [],
            },
            "evidences": [
                {
                    "sha": _sha(pid, tag["name"], "ev"),
                    "filepath": f"{web}/-/releases/{tag['name']}/evidences/1.json",
                    "collected_at": db_time(created),
                }
            ],
            "_links": {
                "closed_issues_url": f"{web}/-/issues?release_tag={tag['name']}&state=closed",
                "closed_merge_requests_url": f"{web}/-/merge_requests?release_tag={tag['name']}&state=closed",
                "edit_url": f"{web}/-/releases/{tag['name']}/edit",
                "merged_merge_requests_url": f"{web}/-/merge_requests?release_tag={tag['name']}&state=merged",
                "opened_issues_url": f"{web}/-/issues?release_tag={tag['name']}&state=opened",
                "opened_merge_requests_url": f"{web}/-/merge_requests?release_tag={tag['name']}&state=opened",
                "self": f"{web}/-/releases/{tag['name']}",
            },
        }

    def _generate_languages(self, g: ProjectGen) -> None:
        """Languages."""
        rng, d = g.rng, g.d
        langs = rng.sample(W.LANGUAGES, rng.randint(1, 4))
        weights = [rng.random() + 0.1 for _ in langs]
        total = sum(weights)
        shares = [round(100 * w / total, 2) for w in weights]
        shares[0] = round(100 - sum(shares[1:]), 2)
        d.languages = dict(sorted(zip(langs, shares, strict=True), key=lambda item: -item[1]))

    @staticmethod
    def _merge_first_branch(d: ProjectData) -> None:
        """Merged-in history: the first branch with commits of its own is merged into the default branch.

        The first default-branch commit made after that branch's head becomes a two-parent merge, so the
        default branch's `git log` holds commits older than the merge that brought them. Done after every
        other record is generated, so nothing else changes; the number of commits stays the same.
        """
        for name, own in d.branch_commits.items():
            if not own:
                continue
            head = own[0]
            later = [c for c in reversed(d.commits) if d.commit_seconds[c["id"]] > d.commit_seconds[head["id"]]]
            if not later:
                continue
            merge = later[0]
            merge["parent_ids"] = [*merge["parent_ids"], head["id"]]
            merge["title"] = f"Merge branch '{name}' into 'main'"
            merge["message"] = merge["title"]
            for branch in d.branches:
                if branch["name"] == name:
                    branch["merged"] = True
            d.commits = gitlog.log(d)
            return

    def _commit(
        self, rng: random.Random, sha: str, parent: str | None, when: float, tz: int, web: str, d: ProjectData | None
    ) -> Record:
        uid = rng.randrange(1, len(self.users) + 1)
        author = self.users_by_id[uid]
        title = _sentence(rng)
        message = f"{title}\n\n{_sentence(rng).capitalize()}.\n" if rng.random() < 0.4 else title
        authored = when - rng.choice([0, 0, 60, 3600])
        date = git_time(when, tz)
        c = {
            "id": sha,
            "short_id": sha[:8],
            "created_at": date,
            "parent_ids": [parent] if parent else [],
            "title": title,
            "message": message,
            "author_name": author["name"],
            "author_email": author["email"],
            "authored_date": git_time(authored, tz),
            "committer_name": author["name"],
            "committer_email": author["email"],
            "committed_date": date,
            "trailers": {},
            "extended_trailers": {},
            "web_url": f"{web}/-/commit/{sha}",
        }
        if d is not None:
            additions, deletions = rng.randint(0, 200), rng.randint(0, 80)
            d.commit_stats[sha] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
            d.commit_utc[sha] = db_time(when)
            d.commit_by_id[sha] = c
            d.commit_seconds[sha] = int(when)
        return c

    def readme_file(self, project_id: int, file_path: str, ref: str) -> Record | None:
        """`GET /projects/:id/repository/files/:file_path?ref=` for the README, None if there is no such file."""
        project = self.projects[project_id]
        url = project["readme_url"]
        if url is None or ref != project["default_branch"] or not url.endswith("/" + file_path) or "/" in file_path:
            return None
        d = self.data(project_id)
        content = self.readme_bytes.get(project_id)
        if content is None:
            text = (
                f"# {project['name']}\n\n{project['description']}\n\n## Getting started\n\n`make run` ({file_path})\n"
            )
            content = text.encode()
        head = d.commits[0]["id"] if d.commits else "0" * 40
        return {
            "file_name": file_path,
            "file_path": file_path,
            "size": len(content),
            "encoding": "base64",
            "content": base64.b64encode(content).decode(),
            "content_sha256": hashlib.sha256(content).hexdigest(),
            "ref": ref,
            "blob_id": hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest(),
            "commit_id": head,
            "last_commit_id": d.commits[-1]["id"] if d.commits else head,
            "execute_filemode": False,
        }

    @_mutation
    def set_readme(self, project_id: int, content: bytes) -> None:
        """Replace a project's README (which must exist) with these bytes."""
        with self.lock:
            self.readme_bytes[project_id] = content

    @_mutation
    def delete_branch(self, project_id: int, name: str) -> None:
        with self.lock:
            d = self.data(project_id)
            d.branches[:] = [b for b in d.branches if b["name"] != name]

    def _branch_record(self, d: ProjectData, name: str) -> Record:
        found = next((b for b in d.branches if b["name"] == name), None)
        if found is None:
            raise KeyError(f"no branch {name!r}")
        return found

    def _git_commit(self, project_id: int, d: ProjectData, parents: list[str], when: float | None) -> Record:
        """A new commit with these parents, committed at `when` (epoch seconds; default: the clock)."""
        if when is None:
            when = parse_time(self._tick()) or NOW_EPOCH
        sha = _sha(self.seed, project_id, "push", self.version, len(d.commit_by_id), when)
        c = self._commit(
            self._mutation_rng, sha, parents[0] if parents else None, when, 0, self._repo_web(project_id), d
        )
        c["parent_ids"] = list(parents)
        return c

    def _repo_web(self, project_id: int) -> str:
        return str(self.projects[project_id]["web_url"])

    def _reindex_repository(self, d: ProjectData) -> None:
        """`d.commits` is the default branch's `git log` again."""
        d.commits = gitlog.log(d) if gitlog.default_branch(d) else []

    @_mutation
    def push_commits(
        self, project_id: int, branch: str, count: int = 1, committed_at: t.Sequence[float] | None = None
    ) -> list[Record]:
        """Push `count` commits onto `branch` (committer dates `committed_at`, oldest first; default: now)."""
        with self.lock:
            d = self.data(project_id)
            record = self._branch_record(d, branch)
            dates: list[float | None] = list(committed_at) if committed_at is not None else [None] * count
            pushed = []
            for when in dates:
                c = self._git_commit(project_id, d, [record["commit"]["id"]], when)
                record["commit"] = c
                pushed.append(c)
            self._reindex_repository(d)
            return pushed

    @_mutation
    def create_branch(
        self,
        project_id: int,
        name: str,
        start: str | None = None,
        count: int = 0,
        committed_at: t.Sequence[float] | None = None,
    ) -> list[Record]:
        """A branch created from `start` (a branch or sha; default: the default branch), with commits of its own.

        With `committed_at` in the past, this is a branch pushed late whose history is older than any bookmark.
        """
        with self.lock:
            d = self.data(project_id)
            sha = gitlog.resolve(d, start or gitlog.default_branch(d) or "HEAD")
            if sha is None:
                raise KeyError(f"no commit {start!r}")
            template = self._branch_record(d, gitlog.default_branch(d) or d.branches[0]["name"])
            d.branches.append(
                {
                    **template,
                    "name": name,
                    "merged": False,
                    "protected": False,
                    "default": False,
                    "developers_can_merge": False,
                    "web_url": f"{self._repo_web(project_id)}/-/tree/{name}",
                    "commit": d.commit_by_id[sha],
                }
            )
            d.branches.sort(key=lambda b: b["name"])
        if count or committed_at:
            return self.push_commits(project_id, name, count, committed_at)
        return []

    @_mutation
    def merge_branch(self, project_id: int, source: str, target: str | None = None) -> Record:
        """A merge commit on `target` (default: the default branch) with `source`'s head as second parent, now.

        Every commit of `source` enters `target`'s history with its own, older, committer date.
        """
        with self.lock:
            d = self.data(project_id)
            into = self._branch_record(d, target or gitlog.default_branch(d) or "main")
            head = self._branch_record(d, source)["commit"]["id"]
            merge = self._git_commit(project_id, d, [into["commit"]["id"], head], None)
            merge["title"] = merge["message"] = f"Merge branch '{source}' into '{into['name']}'"
            into["commit"] = merge
            self._branch_record(d, source)["merged"] = True
            self._reindex_repository(d)
            return merge

    @_mutation
    def force_push(self, project_id: int, branch: str, back: int = 1, count: int = 1, gc: bool = False) -> list[Record]:
        """Rewrite `branch`: reset it `back` first-parent steps, then push `count` new commits.

        The old head is then reachable from nothing. With `gc`, unreachable commits are garbage-collected
        (`git gc` after the reflog expires): their sha no longer resolves, so a range from it lists nothing
        (tests/gitlab_sim/gitlog.py) and `GET .../repository/commits/:sha` answers 404.
        """
        with self.lock:
            d = self.data(project_id)
            record = self._branch_record(d, branch)
            sha = record["commit"]["id"]
            for _ in range(back):
                parents = d.commit_by_id[sha]["parent_ids"]
                if not parents:
                    break
                sha = parents[0]
            record["commit"] = d.commit_by_id[sha]
        pushed = self.push_commits(project_id, branch, count)
        if gc:
            with self.lock:
                d = self.data(project_id)
                tips = [b["commit"]["id"] for b in d.branches] + [tag["commit"]["id"] for tag in d.tags]
                keep = gitlog.reachable(d, tips)
                for gone in [s for s in d.commit_by_id if s not in keep]:
                    del d.commit_by_id[gone]
                self._reindex_repository(d)
        return pushed


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", _P + "/repository/commits", "commits"),
    ("GET", _P + r"/repository/commits/(?P<sha>[^/]+)", "commit"),
    ("GET", _P + "/repository/branches", "branches"),
    ("GET", _P + "/repository/tags", "tags"),
    ("GET", _P + r"/repository/files/(?P<file_path>[^/]+)", "repository_file"),
    ("GET", _P + "/releases", "releases"),
    ("GET", _P + "/languages", "languages"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {
    "commits": "repository",
    "commit": "repository",
    "branches": "repository",
    "tags": "repository",
    "repository_file": "repository",
    "releases": "releases",
    "languages": "languages",
}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset({"commits"})


class RepositoryRoutes:
    """The commits, branches, tags, releases, files and languages endpoints."""

    def h_commits(self, req: Request) -> Listing:
        """`git log` over the project's commit graph (tests/gitlab_sim/gitlog.py; `lib/api/commits.rb`).

        `ref_name` is a branch, tag, sha or range (`a..b`, `a...b`); one git cannot resolve lists nothing (200
        []), as `Repository#log` rescues Gitaly's NotFound. `since`/`until` are on the committer date, whole
        seconds, inclusive. Offset pages, no totals, a next link whenever a page is full.
        """
        _pid, d = self._pfeature(req, "commits")
        if not d.commit_by_id:
            raise not_found("Repository")  # `not_found! 'Repository' unless user_project.repository_exists?`
        order = choice(req, "order", ("default", "topo"), "default")
        all_refs = bool(req.flag("all"))
        ref = None if all_refs else (req.q.get("ref_name") or None)
        if ref is not None and ".." in ref and not ref.replace(".", "").strip():
            raise ApiError(400, {"message": "ref_name is invalid"})
        since, until = req.time("since"), req.time("until")
        try:
            commits = gitlog.log(
                d,
                ref,
                all_refs=all_refs,
                since=parse_time(since) if since else None,
                until=parse_time(until) if until else None,
                first_parent=bool(req.flag("first_parent")),
                order=order,
            )
        except gitlog.InvalidRevision:
            raise ApiError(400, {"message": "ref_name is invalid"}) from None  # `rescue ArgumentError`
        if req.q.get("author"):
            a = req.q["author"].lower()
            commits = [c for c in commits if a in c["author_name"].lower() or a in c["author_email"].lower()]
        transform = None
        if req.flag("with_stats"):
            stats = d.commit_stats
            transform = lambda c: {**c, "stats": stats[c["id"]]}  # noqa: E731
        return Listing(
            list(commits), mode="commits", transform=transform, transform_key="with_stats", page_reversed=all_refs
        )

    def h_commit(self, req: Request) -> Record:
        """`GET /projects/:id/repository/commits/:sha`: Entities::CommitDetail; 404 `Commit Not Found` for a sha
        git cannot resolve, a garbage-collected one too (`lib/api/commits.rb`)."""
        pid, d = self._pfeature(req, "commit")
        sha = gitlog.resolve(d, unquote(req.params["sha"]))
        if sha is None:
            raise not_found("Commit")
        return {
            **d.commit_by_id[sha],
            "stats": d.commit_stats[sha],
            "status": None,
            "project_id": pid,
            "last_pipeline": None,
        }

    def h_branches(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "branches")
        branches = d.branches
        search = req.q.get("search")
        if search:
            if search.startswith("^"):
                branches = [b for b in branches if b["name"].startswith(search[1:])]
            elif search.endswith("$"):
                branches = [b for b in branches if b["name"].endswith(search[:-1])]
            else:
                branches = [b for b in branches if search in b["name"]]
        if req.q.get("regex"):
            try:
                regex = re.compile(req.q["regex"])
            except re.error:
                raise ApiError(400, {"message": "400 Bad request - Regex is invalid"}) from None
            branches = [b for b in branches if regex.search(b["name"])]
        return Listing(list(branches))

    def h_tags(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "tags")
        tags = d.tags
        search = req.q.get("search")
        if search:
            if search.startswith("^"):
                tags = [tg for tg in tags if tg["name"].startswith(search[1:])]
            elif search.endswith("$"):
                tags = [tg for tg in tags if tg["name"].endswith(search[:-1])]
            else:
                tags = [tg for tg in tags if search in tg["name"]]
        by = choice(req, "order_by", ("name", "updated", "version"), "updated")
        sort = sort_param(req, "desc")
        if by == "updated":
            utc = d.commit_utc
            key: t.Callable[[Record], t.Any] = lambda tg: (utc.get(tg["commit"]["id"], ""), tg["name"])  # noqa: E731
        elif by == "version":
            key = lambda tg: tuple(int(x) for x in re.findall(r"\d+", tg["name"]))  # noqa: E731
        else:
            key = lambda tg: tg["name"]  # noqa: E731
        return Listing(sorted(tags, key=key, reverse=sort == "desc"))

    def h_releases(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "releases")
        by = choice(req, "order_by", ("released_at", "created_at"), "released_at")
        sort = sort_param(req, "desc")
        releases = sorted(d.releases, key=lambda r: (r[by], r["tag_name"]), reverse=sort == "desc")
        return Listing(releases)

    def h_repository_file(self, req: Request) -> Record:
        """A file of the repository at `ref` (required), base64 content; this instance has only READMEs."""
        pid, _d = self._pfeature(req, "repository_file")
        ref = req.q.get("ref")
        if not ref:
            raise ApiError(400, {"error": "ref is missing, ref is empty"})
        found = self.ds.readme_file(pid, unquote(req.params["file_path"]), ref)
        if found is None:
            raise not_found("File")
        return found

    def h_languages(self, req: Request) -> Record:
        _pid, d = self._pfeature(req, "languages")
        return d.languages
