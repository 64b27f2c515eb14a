"""`Dataset.expected(stream)`: the records a correct extractor of each tap stream emits for a configured scope.

Each record is GitLab's object (as the server serves it for the tap's request) plus the ids the tap adds.
Partitions GitLab refuses (a feature disabled or forbidden in a project, epics without a licence,
vulnerabilities without Ultimate) are left out, as the tap skips them.
"""

from __future__ import annotations

import base64
import typing as t

from tests.gitlab_sim import gitlog
from tests.gitlab_sim.util import norm_time, parse_time

if t.TYPE_CHECKING:
    from tests.gitlab_sim.dataset import Dataset

Record = dict[str, t.Any]

PIPELINE_LIST_KEYS = (
    "id",
    "iid",
    "project_id",
    "status",
    "source",
    "ref",
    "sha",
    "name",
    "web_url",
    "created_at",
    "updated_at",
)

GROUP_STREAMS = {
    "groups",
    "group_members",
    "group_labels",
    "group_milestones",
    "group_issue_boards",
    "epics",
    "epic_issues",
    "group_variables",
}
PROJECT_STREAMS = {
    "projects",
    "project_members",
    "project_labels",
    "project_milestones",
    "users",
    "environments",
    "languages",
    "readme",
    "events",
    "project_variables",
    "vulnerabilities",
    "issues",
    "issue_notes",
    "issue_label_events",
    "issue_state_events",
    "issue_milestone_events",
    "merge_request_label_events",
    "merge_request_state_events",
    "merge_request_milestone_events",
    "merge_requests",
    "merge_request_commits",
    "merge_request_notes",
    "merge_request_approvals",
    "branches",
    "tags",
    "releases",
    "commits",
    "pipelines",
    "pipelines_extended",
    "jobs",
    "trigger_jobs",
    "deployments",
}


# The project streams each of expected_records' helpers answers (the rest: `_project_records`).
ISSUABLE_STREAMS = frozenset(
    {
        "issues",
        "issue_notes",
        "issue_label_events",
        "issue_state_events",
        "issue_milestone_events",
        "merge_requests",
        "merge_request_commits",
        "merge_request_notes",
        "merge_request_approvals",
        "merge_request_label_events",
        "merge_request_state_events",
        "merge_request_milestone_events",
    }
)
REPOSITORY_STREAMS = frozenset({"branches", "tags", "releases", "commits"})
CI_STREAMS = frozenset({"pipelines", "pipelines_extended", "jobs", "trigger_jobs", "deployments"})


def readme_as_text(file: Record) -> Record:
    """A README file object as the tap emits it: base64 content decoded when it is UTF-8 text."""
    try:
        text = base64.b64decode(file["content"]).decode("utf-8")
    except UnicodeDecodeError:
        return dict(file)
    return {**file, "content": text, "encoding": "text"}


def pipeline_list_shape(pipeline: Record) -> Record:
    return {key: pipeline[key] for key in PIPELINE_LIST_KEYS}


def resolve_scope(
    ds: Dataset, groups: t.Sequence[str | int] | None, projects: t.Sequence[str | int] | None, include_archived: bool
) -> tuple[list[int], list[int]]:
    """(group ids, project ids) as the tap resolves them (scope.py semantics, DESIGN.md "Selection")."""
    if not groups and not projects:
        group_ids = list(ds.groups)
        project_ids = ds.live_projects()
    else:
        group_ids, project_ids = [], []
        for ref in groups or []:
            gid = ds.find_group(str(ref))
            if gid is None:
                raise KeyError(f"unknown group {ref!r}")
            for g in [gid, *ds.descendants(gid)]:
                if g not in group_ids:
                    group_ids.append(g)
            for pid in ds.group_project_ids(gid, include_subgroups=True, with_shared=False):
                if pid not in project_ids:
                    project_ids.append(pid)
        for ref in projects or []:
            pid, _ = ds.find_project(str(ref))
            if pid is None:
                raise KeyError(f"unknown project {ref!r}")
            if pid not in project_ids:
                project_ids.append(pid)
    if not include_archived:
        project_ids = [pid for pid in project_ids if not ds.projects[pid]["archived"]]
    return sorted(group_ids), sorted(project_ids)


def expected_records(
    ds: Dataset,
    stream: str,
    groups: t.Sequence[str | int] | None,
    projects: t.Sequence[str | int] | None,
    include_archived: bool,
    start_date: str | None,
    all_branches: bool,
) -> list[Record]:
    from tests.gitlab_sim.dataset import STREAM_FEATURE

    group_ids, project_ids = resolve_scope(ds, groups, projects, include_archived)
    since = norm_time(start_date) if start_date else None

    def recent(value: str | None) -> bool:
        return since is None or (value is not None and (norm_time(value) or "") >= since)

    out: list[Record] = []
    if stream == "site_users":
        return [dict(user) for user in ds.users]
    if stream in GROUP_STREAMS:
        for gid in group_ids:
            out += _group_records(ds, stream, gid, recent)
        return out
    if stream not in PROJECT_STREAMS:
        raise KeyError(f"unknown stream {stream!r}")
    feature = STREAM_FEATURE.get(stream)
    for pid in project_ids:
        project = ds.projects[pid]
        if stream == "projects":
            out.append({**project, "statistics": ds.project_statistics(pid)})
            continue
        if feature and (pid, feature) in ds.forbidden:
            continue
        if stream == "vulnerabilities" and ds.top_group_of(project["namespace"]["id"]) not in ds.ultimate:
            continue
        if stream in ISSUABLE_STREAMS:
            out += _issuable_records(ds, stream, pid, recent)
        elif stream in REPOSITORY_STREAMS:
            out += _repository_records(ds, stream, pid, recent, start_date, all_branches)
        elif stream in CI_STREAMS:
            out += _ci_records(ds, stream, pid, recent)
        else:
            out += _project_records(ds, stream, pid, recent)
    return out


def _group_records(ds: Dataset, stream: str, gid: int, recent: t.Callable[[str | None], bool]) -> list[Record]:
    """One group's records of a group stream."""
    g = ds.group_data[gid]
    out: list[Record] = []
    if stream == "groups":
        out.append(dict(ds.groups[gid]))
    elif stream == "group_members":
        out += [{**m, "group_id": gid} for m in g.members]
    elif stream == "group_labels":
        out += [{**lab, "group_id": gid} for lab in g.labels]
    elif stream == "group_milestones":
        out += [{**m} for m in g.milestones if recent(m["updated_at"])]
    elif stream == "group_issue_boards":
        out += [{**b, "group_id": gid} for b in g.boards]
    elif stream == "group_variables":
        out += [{**v, "group_id": gid} for v in g.variables]
    elif stream in ("epics", "epic_issues") and gid in ds.epics_licensed:
        for epic in g.epics:
            if not recent(epic["updated_at"]):
                continue
            if stream == "epics":
                out.append(dict(epic))
            else:
                out += [
                    {**issue, "group_id": gid, "epic_id": epic["id"], "epic_iid": epic["iid"]}
                    for issue in ds.epic_issue_records(gid, epic)
                ]
    return out


def _project_records(ds: Dataset, stream: str, pid: int, recent: t.Callable[[str | None], bool]) -> list[Record]:
    """One project's records of a project, membership, label, milestone, environment, language, README, event,
    variable or vulnerability stream."""
    project = ds.projects[pid]
    d = ds.data(pid)
    ids = {"project_id": pid}
    out: list[Record] = []
    if stream == "project_members":
        out += [{**m, **ids} for m in d.members]
    elif stream == "project_labels":
        out += [{**lab, **ids} for lab in d.labels]
    elif stream == "project_milestones":
        out += [dict(m) for m in d.milestones if recent(m["updated_at"])]
    elif stream == "users":
        out += [{**u, **ids} for u in ds.project_users(pid)]
    elif stream == "environments":
        out += [{**e, **ids} for e in d.environments]
    elif stream == "languages":
        out += [{**ids, "name": name, "percent": float(pct)} for name, pct in d.languages.items()]
    elif stream == "readme":
        url = project["readme_url"]
        found = ds.readme_file(pid, url.rsplit("/", 1)[1], project["default_branch"]) if url else None
        if found is not None:
            out.append({**readme_as_text(found), **ids})
    elif stream == "events":
        # Only what the token may see: GitLab drops the others from each page (Dataset.event_visible).
        out += [dict(e) for e in d.events if recent(e["created_at"]) and ds.event_visible(pid, e)]
    elif stream == "project_variables":
        out += [{**v, **ids} for v in d.variables]
    elif stream == "vulnerabilities":
        out += [{**v, **ids} for v in d.vulnerabilities]
    return out


def _issuable_records(ds: Dataset, stream: str, pid: int, recent: t.Callable[[str | None], bool]) -> list[Record]:
    """One project's records of an issue or merge request stream (with their notes, commits, approvals, events)."""
    d = ds.data(pid)
    ids = {"project_id": pid}
    out: list[Record] = []
    if stream == "issues":
        out += [dict(i) for i in d.issues if recent(i["updated_at"])]
    elif stream.endswith("_events") and stream.startswith(("issue_", "merge_request_")):
        resource, prefix = ("issues", "issue") if stream.startswith("issue_") else ("merge_requests", "merge_request")
        kind = stream[len(prefix) + 1 : -len("_events")]
        for item in d.issues if resource == "issues" else d.merge_requests:
            if recent(item["updated_at"]):
                extra = {**ids, f"{prefix}_iid": item["iid"], f"{prefix}_updated_at": item["updated_at"]}
                out += [{**e, **extra} for e in ds.resource_events(pid, kind, resource, item["iid"]) or []]
    elif stream == "issue_notes":
        for issue in d.issues:
            if recent(issue["updated_at"]):
                out += [{**n, **ids, "issue_iid": issue["iid"]} for n in d.issue_notes[issue["iid"]]]
    elif stream in ("merge_requests", "merge_request_commits", "merge_request_notes", "merge_request_approvals"):
        for mr in d.merge_requests:
            if not recent(mr["updated_at"]):
                continue
            extra = {**ids, "merge_request_iid": mr["iid"]}
            if stream == "merge_requests":
                out.append(dict(mr))
            elif stream == "merge_request_commits":
                out += [{**c, **extra} for c in d.mr_commits[mr["iid"]]]
            elif stream == "merge_request_notes":
                out += [{**n, **extra} for n in d.mr_notes[mr["iid"]]]
            else:
                out.append({**d.mr_approvals[mr["iid"]], **extra})
    return out


def _repository_records(
    ds: Dataset,
    stream: str,
    pid: int,
    recent: t.Callable[[str | None], bool],
    start_date: str | None,
    all_branches: bool,
) -> list[Record]:
    """One project's branches, tags, releases or commits (what `git log` lists)."""
    d = ds.data(pid)
    ids = {"project_id": pid}
    out: list[Record] = []
    if stream == "branches":
        out += [{**b, **ids} for b in d.branches]
    elif stream == "tags":
        out += [{**tag, **ids} for tag in d.tags]
    elif stream == "releases":
        out += [{**r, **ids} for r in d.releases]
    elif stream == "commits":
        # What `git log` lists (gitlog.py): the default branch or every ref, start_date as git's --after.
        floor = parse_time(start_date) if start_date else None
        commits = gitlog.log(d, all_refs=all_branches, since=floor)
        out += [{**c, "stats": d.commit_stats[c["id"]], **ids} for c in commits]
    return out


def _ci_records(ds: Dataset, stream: str, pid: int, recent: t.Callable[[str | None], bool]) -> list[Record]:
    """One project's pipelines, jobs, trigger jobs or deployments."""
    d = ds.data(pid)
    ids = {"project_id": pid}
    out: list[Record] = []
    if stream == "pipelines":
        out += [pipeline_list_shape(p) for p in d.pipelines if recent(p["updated_at"])]
    elif stream == "pipelines_extended":
        out += [dict(p) for p in d.pipelines if recent(p["updated_at"])]
    elif stream == "jobs":
        for p in d.pipelines:
            if recent(p["updated_at"]):
                out += [{**j, **ids, "pipeline_id": p["id"]} for j in d.jobs_by_pipeline[p["id"]]]
    elif stream == "trigger_jobs":
        for p in d.pipelines:
            if recent(p["updated_at"]):
                extra = {**ids, "pipeline_id": p["id"], "pipeline_updated_at": p["updated_at"]}
                out += [{**b, **extra} for b in d.bridges_by_pipeline[p["id"]]]
    elif stream == "deployments":
        out += [{**dep, **ids} for dep in d.deployments if recent(dep["updated_at"])]
    return out
