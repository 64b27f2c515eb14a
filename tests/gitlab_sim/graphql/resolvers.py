"""Resolvers: the GraphQL types over the records the REST routes serve (the dataset's own lists, never copies).

Every object is the REST record itself (a merge request of `ProjectData.merge_requests`, a note of
`mr_notes`/`issue_notes`, a commit of `mr_commits`, a pipeline of `pipelines`, a job of `jobs_by_pipeline` or
`bridges_by_pipeline`, a user of `Dataset.user_basic`); fields map onto its keys. GitLab's renderings:

* global ids `gid://gitlab/<model class>/<id>` (`Types::BaseObject#id` → `GitlabSchema.id_from_object`, i.e.
  `to_global_id`; STI classes: `DiscussionNote`, `DiffNote`, `Ci::Pipeline`, `Ci::Build`, `Ci::Bridge`);
* `iid` a String (`field :iid, GraphQL::Types::String`); enums by their GraphQL names (PipelineStatusEnum and
  CiJobStatus upper case, MergeRequestState / IssueState / UserState lower case);
* `Time` is `value.iso8601` (gitlabhq app/graphql/types/time_type.rb): whole seconds, `Z` for database times
  (UTC) and the author's offset for git dates; `Duration` is `value.to_f` (duration_type.rb).

Connections page by keyset cursors (gitlabhq lib/gitlab/graphql/pagination/keyset/connection.rb): an opaque
base64 of the ordering values and the id; `first`/`last` above the max page size (100) are cut to it, as
graphql-ruby's `max_page_size` does, and no argument means one full page.

Not yet confirmed in GitLab's source, so chosen and named here rather than taken from it (a GraphQL reader must
not rely on them until they are): the order of `notes` (created_at, then id, ascending) and of a pipeline's
`jobs` (id ascending); a commit's id as `gid://gitlab/Commit/<sha>`; `hasPreviousPage` true whenever `after` is
given; DetailedStatus ids as `<group>-<id>`; anonymous callers seeing public projects only; `project(fullPath:)`
on a renamed project's old path answering null rather than following the redirect; child pipelines listed in
`Project.pipelines`; and the prices of `beforeSha`, `approvalsLeft` and `commitCount` (complexity.py).
"""

from __future__ import annotations

import base64
import json
import typing as t
from urllib.parse import urlparse

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLScalarType, GraphQLSchema

from tests.gitlab_sim.graphql.complexity import DEFAULT_MAX_PAGE_SIZE
from tests.gitlab_sim.util import parse_time

if t.TYPE_CHECKING:
    from tests.gitlab_sim.dataset import Dataset

Record = dict[str, t.Any]
Resolver = t.Callable[..., t.Any]


# -- scalars ------------------------------------------------------------------------------------------------------
def serialize_time(value: t.Any) -> str | None:
    """Ruby's `Time#iso8601` (precision 0, fractions cut) of a REST timestamp, keeping its zone."""
    if value is None:
        return None
    text = str(value)
    suffix = "Z" if text.endswith(("Z", "z")) else text[-6:]
    return text[:19] + suffix


def parse_time_input(value: t.Any) -> float:
    """`Time.parse` of an argument (time_type.rb `coerce_input`); the error is graphql-ruby's CoercionError."""
    epoch = parse_time(str(value)) if isinstance(value, str) else None
    if epoch is None:
        raise GraphQLError(f"no time information in {json.dumps(value)}")
    return epoch


def _literal_time(node: t.Any, _variables: t.Any = None) -> float:
    return parse_time_input(getattr(node, "value", None))


def _duration(value: t.Any) -> float | None:
    return None if value is None else float(value)


def _set(scalar: GraphQLScalarType, **coercers: t.Any) -> None:
    """Install coercers under both graphql-core 3.2's and 3.3's names (serialize / coerce_output_value, ...)."""
    aliases = {"serialize": "coerce_output_value", "parse_value": "coerce_input_value"}
    aliases["parse_literal"] = "coerce_input_literal"
    for name, fn in coercers.items():
        setattr(scalar, name, fn)
        if hasattr(scalar, aliases[name]):
            setattr(scalar, aliases[name], fn)


def _scalars(schema: GraphQLSchema) -> None:
    time_type = t.cast(GraphQLScalarType, schema.type_map["Time"])
    _set(time_type, serialize=serialize_time, parse_value=parse_time_input, parse_literal=_literal_time)
    _set(t.cast(GraphQLScalarType, schema.type_map["Duration"]), serialize=_duration)


# -- helpers ------------------------------------------------------------------------------------------------------
def gid(model: str, ident: t.Any) -> str:
    return f"gid://gitlab/{model}/{ident}"


def gid_id(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _encode(data: dict[str, t.Any]) -> str:
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode(cursor: str) -> dict[str, t.Any]:
    try:
        value = json.loads(base64.b64decode(cursor.encode(), validate=False))
    except (ValueError, TypeError) as exc:
        raise GraphQLError("Please provide a valid cursor") from exc
    if not isinstance(value, dict):
        raise GraphQLError("Please provide a valid cursor")
    return value


def connection(items: list[Record], args: dict[str, t.Any], order_field: str = "id") -> Record:
    """One page of `items` (already filtered and ordered) as a connection: nodes, edges, pageInfo, count."""

    def cursor(record: Record) -> str:
        data = {order_field: record.get(order_field)} if order_field != "id" else {}
        return _encode({**data, "id": str(record["id"])})

    index = {str(r["id"]): i for i, r in enumerate(items)}
    start, end = 0, len(items)
    if args.get("after"):
        pos = index.get(str(_decode(args["after"]).get("id")))
        start = pos + 1 if pos is not None else len(items)
    if args.get("before"):
        pos = index.get(str(_decode(args["before"]).get("id")))
        end = pos if pos is not None else end
    window = items[start:end]
    first, last = args.get("first"), args.get("last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value < 0:
            raise GraphQLError(f"Argument '{name}' on Field cannot be negative")
    has_next = has_previous = False
    if last is not None:
        n = min(last, DEFAULT_MAX_PAGE_SIZE)
        has_previous = len(window) > n
        page = window[len(window) - n :] if n else []
    else:
        n = min(first if first is not None else DEFAULT_MAX_PAGE_SIZE, DEFAULT_MAX_PAGE_SIZE)
        has_next = len(window) > n
        page = window[:n]
    if first is not None and last is not None:
        page = page[:first]
    edges = [{"cursor": cursor(r), "node": r} for r in page]
    return {
        "nodes": page,
        "edges": edges,
        "count": len(items),
        "pageInfo": {
            "hasNextPage": has_next or end < len(items),
            "hasPreviousPage": has_previous or bool(args.get("after")),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _ordered(items: list[Record], field_name: str, desc: bool) -> list[Record]:
    """ORDER BY field (NULLS LAST), id in the same direction."""
    present = [r for r in items if r.get(field_name) is not None]
    missing = [r for r in items if r.get(field_name) is None]
    present.sort(key=lambda r: (r[field_name], r["id"]), reverse=desc)
    missing.sort(key=lambda r: r["id"], reverse=desc)
    return present + missing


def _sort(value: str | None) -> tuple[str, bool]:
    """A SortEnum value (app/graphql/types/sort_enum.rb, issuable_sort_enum.rb) → (record field, descending)."""
    name = (value or "created_desc").lower()
    base, _, direction = name.rpartition("_")
    fields = {"created": "created_at", "updated": "updated_at", "merged_at": "merged_at", "closed_at": "closed_at"}
    return fields.get(base, base), direction == "desc"


def _window(items: list[Record], field_name: str, after: float | None, before: float | None) -> list[Record]:
    """`field >= after` and `field <= before` (IssuableFinder / Ci::PipelinesFinder *_after/*_before)."""
    if after is None and before is None:
        return items
    out = []
    for r in items:
        epoch = parse_time(r[field_name]) if r.get(field_name) else None
        if epoch is None:
            continue
        if (after is None or epoch >= after) and (before is None or epoch <= before):
            out.append(r)
    return out


class Context:
    """What resolvers see of one request: the dataset, who asks, the analysis, the injected field timeouts."""

    def __init__(self, ds: Dataset, user_id: int | None, score: int, limit: int, timeouts: set[str]) -> None:
        self.ds = ds
        self.user_id = user_id
        self.score = score
        self.limit = limit
        self.timeouts = timeouts

    def readable(self, pid: int, feature: str | None = None) -> bool:
        """Whether the caller sees the project (anonymous: public ones only) and, if named, its feature."""
        if pid not in self.ds.projects or pid in self.ds.deleted:
            return False
        if self.user_id is None and self.ds.projects[pid].get("visibility") != "public":
            return False
        return feature is None or (pid, feature) not in self.ds.forbidden


# -- resolvers, by type -------------------------------------------------------------------------------------------
def _ctx(info: GraphQLResolveInfo) -> Context:
    return t.cast(Context, info.context)


def _project_by_path(info: GraphQLResolveInfo, path: str) -> Record | None:
    ctx = _ctx(info)
    pid, redirected = ctx.ds.find_project(path) if not path.isdigit() else (None, False)
    if pid is None or redirected or not ctx.readable(pid):
        return None
    return ctx.ds.projects[pid]


def q_project(_obj: t.Any, info: GraphQLResolveInfo, fullPath: str) -> Record | None:
    return _project_by_path(info, fullPath)


def q_projects(_obj: t.Any, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    ctx = _ctx(info)
    pids = [p for p in ctx.ds.live_projects() if ctx.readable(p)]
    if args.get("ids") is not None:
        wanted = {gid_id(v) for v in args["ids"]}
        pids = [p for p in pids if str(p) in wanted]
    if args.get("fullPaths") is not None:
        wanted = {v.lower() for v in args["fullPaths"]}
        pids = [p for p in pids if ctx.ds.projects[p]["path_with_namespace"].lower() in wanted]
    return connection([ctx.ds.projects[p] for p in sorted(pids, reverse=True)], args)


def q_query_complexity(_obj: t.Any, info: GraphQLResolveInfo) -> Record:
    """gitlabhq app/graphql/types/query_complexity_type.rb: `limit` is `max_complexity`, `score` the analysis."""
    ctx = _ctx(info)
    return {"score": ctx.score, "limit": ctx.limit}


def q_current_user(_obj: t.Any, info: GraphQLResolveInfo) -> Record | None:
    ctx = _ctx(info)
    return ctx.ds.user_basic.get(ctx.user_id) if ctx.user_id is not None else None


def _pdata(info: GraphQLResolveInfo, project: Record, feature: str) -> t.Any:
    ctx = _ctx(info)
    return ctx.ds.data(project["id"]) if ctx.readable(project["id"], feature) else None


def _merge_requests(info: GraphQLResolveInfo, project: Record, args: dict[str, t.Any]) -> list[Record]:
    d = _pdata(info, project, "merge_requests")
    if d is None:
        return []
    mrs: list[Record] = list(d.merge_requests)
    if args.get("iids") is not None:
        wanted = {str(i) for i in args["iids"]}
        mrs = [m for m in mrs if str(m["iid"]) in wanted]
    state = args.get("state")
    if state and state != "all":
        mrs = [m for m in mrs if m["state"] == state]
    for arg, key in (("sourceBranches", "source_branch"), ("targetBranches", "target_branch")):
        if args.get(arg) is not None:
            mrs = [m for m in mrs if m[key] in args[arg]]
    if args.get("draft") is not None:
        mrs = [m for m in mrs if m["draft"] == args["draft"]]
    if args.get("labelName"):
        mrs = [m for m in mrs if set(args["labelName"]) <= set(m["labels"])]
    if args.get("search"):
        needle = args["search"].lower()
        mrs = [m for m in mrs if needle in m["title"].lower() or needle in (m["description"] or "").lower()]
    for prefix, key in (("created", "created_at"), ("updated", "updated_at"), ("merged", "merged_at")):
        mrs = _window(mrs, key, args.get(prefix + "After"), args.get(prefix + "Before"))
    return mrs


def p_merge_requests(project: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    field_name, desc = _sort(args.get("sort"))
    return connection(_ordered(_merge_requests(info, project, args), field_name, desc), args, field_name)


def p_merge_request(project: Record, info: GraphQLResolveInfo, iid: str) -> Record | None:
    found = _merge_requests(info, project, {"iids": [iid]})
    return found[0] if found else None


def _issues(info: GraphQLResolveInfo, project: Record, args: dict[str, t.Any]) -> list[Record]:
    d = _pdata(info, project, "issues")
    if d is None:
        return []
    issues: list[Record] = list(d.issues)
    iids = args.get("iids") if args.get("iid") is None else [args["iid"]]
    if iids is not None:
        wanted = {str(i) for i in iids}
        issues = [i for i in issues if str(i["iid"]) in wanted]
    state = args.get("state")
    if state and state != "all":
        issues = [i for i in issues if i["state"] == state]
    if args.get("labelName"):
        issues = [i for i in issues if set(args["labelName"]) <= set(i["labels"])]
    if args.get("search"):
        needle = args["search"].lower()
        issues = [i for i in issues if needle in i["title"].lower() or needle in (i["description"] or "").lower()]
    for prefix, key in (("created", "created_at"), ("updated", "updated_at")):
        issues = _window(issues, key, args.get(prefix + "After"), args.get(prefix + "Before"))
    return issues


def p_issues(project: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    field_name, desc = _sort(args.get("sort"))
    return connection(_ordered(_issues(info, project, args), field_name, desc), args, field_name)


def p_issue(project: Record, info: GraphQLResolveInfo, iid: str | None = None) -> Record | None:
    found = _issues(info, project, {"iid": iid}) if iid is not None else []
    return found[0] if found else None


_SCOPES = {"RUNNING": {"running"}, "PENDING": {"pending"}, "FINISHED": {"success", "failed", "canceled", "skipped"}}


def _pipelines(info: GraphQLResolveInfo, project: Record, args: dict[str, t.Any]) -> list[Record]:
    """Ci::PipelinesFinder as Resolvers::ProjectPipelinesResolver calls it: id descending, child pipelines too."""
    d = _pdata(info, project, "pipelines")
    if d is None:
        return []
    pipelines: list[Record] = list(d.pipelines)
    scope = args.get("scope")
    if scope in _SCOPES:
        pipelines = [p for p in pipelines if p["status"] in _SCOPES[scope]]
    elif scope in ("TAGS", "BRANCHES"):
        pipelines = [p for p in pipelines if p["tag"] == (scope == "TAGS")]
    if args.get("status"):
        pipelines = [p for p in pipelines if p["status"] == args["status"].lower()]
    for key in ("ref", "sha", "source"):
        if args.get(key):
            pipelines = [p for p in pipelines if p[key] == args[key]]
    if args.get("username"):
        pipelines = [p for p in pipelines if p["user"] and p["user"]["username"] == args["username"]]
    pipelines = _window(pipelines, "updated_at", args.get("updatedAfter"), args.get("updatedBefore"))
    return sorted(pipelines, key=lambda p: p["id"], reverse=True)


def p_pipelines(project: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    return connection(_pipelines(info, project, args), args)


def p_pipeline(project: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record | None:
    for p in _pipelines(info, project, {"sha": args.get("sha")}):
        if args.get("iid") is not None and str(p["iid"]) != str(args["iid"]):
            continue
        if args.get("id") is not None and str(p["id"]) != gid_id(str(args["id"])):
            continue
        return p
    return None


def _mr_data(info: GraphQLResolveInfo, mr: Record) -> t.Any:
    return _ctx(info).ds.data(mr["project_id"])


def mr_commits(mr: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    """MergeRequest.commits: the merge request's commits, newest first, as REST lists them."""
    return connection(list(_mr_data(info, mr).mr_commits.get(mr["iid"], [])), args)


def mr_approved_by(mr: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    approvals = _mr_data(info, mr).mr_approvals.get(mr["iid"]) or {}
    return connection([a["user"] for a in approvals.get("approved_by", [])], args)


def _approval(info: GraphQLResolveInfo, mr: Record, key: str) -> t.Any:
    return (_mr_data(info, mr).mr_approvals.get(mr["iid"]) or {}).get(key)


def _notes(notes: list[Record], args: dict[str, t.Any]) -> Record:
    """Noteable.notes (Resolvers::Noteable::NotesResolver; `fresh` order: created_at, id ascending)."""
    flt = args.get("filter") or "ALL_NOTES"
    if flt == "ONLY_COMMENTS":
        notes = [n for n in notes if not n["system"]]
    elif flt == "ONLY_ACTIVITY":
        notes = [n for n in notes if n["system"]]
    return connection(sorted(notes, key=lambda n: (n["created_at"], n["id"])), args)


def mr_notes(mr: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    return _notes(list(_mr_data(info, mr).mr_notes.get(mr["iid"], [])), args)


def issue_notes(issue: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    return _notes(list(_ctx(info).ds.data(issue["project_id"]).issue_notes.get(issue["iid"], [])), args)


def note_url(note: Record, info: GraphQLResolveInfo) -> str | None:
    d = _ctx(info).ds.data(note["project_id"])
    index = d.mr_by_iid if note["noteable_type"] == "MergeRequest" else d.issue_by_iid
    parent = index.get(note["noteable_iid"])
    return f"{parent['web_url']}#note_{note['id']}" if parent else None


def note_position(note: Record, _info: GraphQLResolveInfo) -> Record | None:
    pos = note.get("position")
    if not pos:
        return None
    return {
        "diffRefs": {"baseSha": pos["base_sha"], "headSha": pos["head_sha"], "startSha": pos["start_sha"]},
        "filePath": pos["new_path"] or pos["old_path"],
        "newLine": pos["new_line"],
        "newPath": pos["new_path"],
        "oldLine": pos["old_line"],
        "oldPath": pos["old_path"],
        "positionType": pos["position_type"],
    }


def commit_title(commit: Record, _info: GraphQLResolveInfo) -> str:
    """Commit#title (app/models/commit.rb): the full title, cut after 80 characters + '…' from 100 on."""
    full = str(commit["title"])
    if len(full) < 100:
        return full
    cut = full[:81]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + "…"


def _web_path(url: str | None) -> str | None:
    return urlparse(url).path if url else None


def _pipeline_data(info: GraphQLResolveInfo, pipeline: Record) -> t.Any:
    return _ctx(info).ds.data(pipeline["project_id"])


def pipeline_downstream(pipeline: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    d = _pipeline_data(info, pipeline)
    children = [d.pipeline_by_id[c] for c, parent in d.child_pipelines.items() if parent == pipeline["id"]]
    return connection(sorted(children, key=lambda p: p["id"]), args)


def pipeline_upstream(pipeline: Record, info: GraphQLResolveInfo) -> Record | None:
    d = _pipeline_data(info, pipeline)
    parent = d.child_pipelines.get(pipeline["id"])
    return d.pipeline_by_id.get(parent) if parent is not None else None


def pipeline_source_job(pipeline: Record, info: GraphQLResolveInfo) -> Record | None:
    d = _pipeline_data(info, pipeline)
    parent = d.child_pipelines.get(pipeline["id"])
    for bridge in d.bridges_by_pipeline.get(parent, []) if parent is not None else []:
        if bridge["downstream_pipeline"]["id"] == pipeline["id"]:
            return t.cast(Record, bridge)
    return None


def pipeline_jobs(pipeline: Record, info: GraphQLResolveInfo, **args: t.Any) -> Record:
    """Pipeline.jobs (Resolvers::Ci::JobsResolver): builds and bridges by id; `jobKind`, `statuses`, `retried`."""
    d = _pipeline_data(info, pipeline)
    kind = args.get("jobKind")
    jobs: list[Record] = []
    if kind in (None, "BUILD"):
        jobs += d.jobs_by_pipeline.get(pipeline["id"], [])
    if kind in (None, "BRIDGE"):
        jobs += d.bridges_by_pipeline.get(pipeline["id"], [])
    if args.get("statuses") is not None:
        wanted = {s.lower() for s in args["statuses"]}
        jobs = [j for j in jobs if j["status"] in wanted]
    if args.get("retried") is not None:
        jobs = [j for j in jobs if (j["id"] in d.retried_jobs) == args["retried"]]
    return connection(sorted(jobs, key=lambda j: j["id"]), args)


def _job_pipeline(job: Record, info: GraphQLResolveInfo, key: str = "pipeline") -> Record | None:
    basic = job.get(key)
    if not basic:
        return None
    return t.cast(Record | None, _ctx(info).ds.data(basic["project_id"]).pipeline_by_id.get(basic["id"]))


def _is_bridge(job: Record) -> bool:
    return "downstream_pipeline" in job


def _detailed_status(pipeline: Record) -> Record:
    s = pipeline["detailed_status"]
    return {
        "id": f"{s['group']}-{pipeline['id']}",
        "icon": s["icon"],
        "text": s["text"],
        "label": s["label"],
        "group": s["group"],
        "tooltip": s["tooltip"],
        "hasDetails": s["has_details"],
        "detailsPath": s["details_path"],
        "illustration": s["illustration"],
        "favicon": s["favicon"],
    }


def _ref_path(pipeline: Record) -> str | None:
    ref = pipeline.get("ref")
    if ref is None or ref.startswith("refs/"):
        return ref
    return f"refs/{'tags' if pipeline['tag'] else 'heads'}/{ref}"


def _float(value: t.Any) -> float | None:
    return None if value is None else float(value)


def _int(value: t.Any) -> int | None:
    return None if value is None else int(value)


def key(name: str) -> Resolver:
    return lambda obj, _info, **_: obj.get(name)


def computed(fn: t.Callable[[Record], t.Any]) -> Resolver:
    return lambda obj, _info, **_: fn(obj)


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {
        "project": q_project,
        "projects": q_projects,
        "queryComplexity": q_query_complexity,
        "currentUser": q_current_user,
    },
    "Project": {
        "id": computed(lambda p: gid("Project", p["id"])),
        "fullPath": key("path_with_namespace"),
        "mergeRequests": p_merge_requests,
        "mergeRequest": p_merge_request,
        "issues": p_issues,
        "issue": p_issue,
        "pipelines": p_pipelines,
        "pipeline": p_pipeline,
    },
    "MergeRequest": {
        "id": computed(lambda m: gid("MergeRequest", m["id"])),
        "iid": computed(lambda m: str(m["iid"])),
        "mergeStatusEnum": computed(lambda m: (m.get("merge_status") or "").upper() or None),
        "commitCount": lambda m, info: len(_mr_data(info, m).mr_commits.get(m["iid"], [])),
        "commits": mr_commits,
        "approved": lambda m, info: bool(_approval(info, m, "approved")),
        "approvalsRequired": lambda m, info: _approval(info, m, "approvals_required"),
        "approvalsLeft": lambda m, info: _approval(info, m, "approvals_left"),
        "approvedBy": mr_approved_by,
        "notes": mr_notes,
    },
    "Issue": {
        "id": computed(lambda i: gid("Issue", i["id"])),
        "iid": computed(lambda i: str(i["iid"])),
        "notes": issue_notes,
    },
    "Note": {
        "id": computed(lambda n: gid(n.get("type") or "Note", n["id"])),
        "internal": computed(lambda n: bool(n.get("internal") or n.get("confidential"))),
        "confidential": computed(lambda n: bool(n.get("internal") or n.get("confidential"))),
        "resolved": computed(lambda n: bool(n.get("resolved"))),
        "resolvable": computed(lambda n: bool(n.get("resolvable"))),
        "lastEditedAt": computed(lambda n: n["updated_at"] if n["updated_at"] != n["created_at"] else None),
        "position": note_position,
        "url": note_url,
    },
    "Commit": {
        "id": computed(lambda c: gid("Commit", c["id"])),
        "sha": key("id"),
        "parentSha": computed(lambda c: (c.get("parent_ids") or [None])[0]),
        "title": commit_title,
        "fullTitle": key("title"),
        "description": computed(lambda c: (c.get("message") or "").partition("\n")[2].strip("\n") or None),
        "webPath": computed(lambda c: _web_path(c.get("web_url"))),
    },
    "UserCore": {
        "id": computed(lambda u: gid("User", u["id"])),
        "webPath": computed(lambda u: "/" + u["username"]),
    },
    "Pipeline": {
        "id": computed(lambda p: gid("Ci::Pipeline", p["id"])),
        "iid": computed(lambda p: str(p["iid"])),
        "sha": lambda p, _info, format=None: p["sha"][:8] if format == "SHORT" else p["sha"],
        "refPath": computed(_ref_path),
        "status": computed(lambda p: p["status"].upper()),
        "duration": computed(lambda p: _int(p.get("duration"))),
        "queuedDuration": key("queued_duration"),
        "coverage": computed(lambda p: _float(p.get("coverage"))),
        "detailedStatus": computed(_detailed_status),
        "yamlErrors": computed(lambda p: bool(p.get("yaml_errors"))),
        "yamlErrorMessages": key("yaml_errors"),
        "path": computed(lambda p: _web_path(p.get("web_url"))),
        "project": lambda p, info: _ctx(info).ds.projects.get(p["project_id"]),
        "downstream": pipeline_downstream,
        "upstream": pipeline_upstream,
        "sourceJob": pipeline_source_job,
        "jobs": pipeline_jobs,
    },
    "CiJob": {
        "id": computed(lambda j: gid("Ci::Bridge" if _is_bridge(j) else "Ci::Build", j["id"])),
        "kind": computed(lambda j: "BRIDGE" if _is_bridge(j) else "BUILD"),
        "status": computed(lambda j: j["status"].upper()),
        "stage": computed(
            lambda j: {"id": gid("Ci::Stage", f"{j['pipeline']['id']}-{j['stage']}"), "name": j["stage"]}
        ),
        "refName": key("ref"),
        "tags": computed(lambda j: j.get("tag_list", [])),
        "retried": lambda j, info: j["id"] in _ctx(info).ds.data(j["pipeline"]["project_id"]).retried_jobs,
        "duration": computed(lambda j: _int(j.get("duration"))),
        "queuedDuration": key("queued_duration"),
        "coverage": computed(lambda j: _float(j.get("coverage"))),
        "failureMessage": key("failure_reason"),
        "webPath": computed(lambda j: _web_path(j.get("web_url"))),
        "pipeline": lambda j, info: _job_pipeline(j, info),
        "downstreamPipeline": lambda j, info: _job_pipeline(j, info, "downstream_pipeline"),
    },
}


def snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def default_resolver(source: t.Any, info: GraphQLResolveInfo, **_args: t.Any) -> t.Any:
    """A camelCase field reads its own key (connection dicts) or the REST record's snake_case key."""
    if isinstance(source, dict):
        name = info.field_name
        return source[name] if name in source else source.get(snake(name))
    return getattr(source, info.field_name, None)


def attach(schema: GraphQLSchema) -> GraphQLSchema:
    """Install the scalars and RESOLVERS on a schema built from schema.graphql."""
    _scalars(schema)
    for type_name, fields in RESOLVERS.items():
        gtype = schema.type_map[type_name]
        for field_name, fn in fields.items():
            field = gtype.fields.get(field_name)  # type: ignore[attr-defined]
            if field is not None:
                field.resolve = fn
    return schema
