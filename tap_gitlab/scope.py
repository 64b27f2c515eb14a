"""Which groups and projects one run extracts.

- `groups`: each configured group and (by default) all its descendants, read with
  `GET /groups/:id/descendant_groups`. Its projects come from
  `GET /groups/:id/projects?include_subgroups=true&with_shared=false`, fully paginated: never the embedded
  `projects` array of `GET /groups/:id`, which GitLab caps at 100 (a known peer bug).
- `projects`: each configured project by path or id, resolved to its numeric id with `GET /projects/:id`.
- neither: the projects the token is a member of (`GET /projects?membership=true`, keyset by id).

A configured group or project that does not exist or is not visible stops the run with a message naming it.
Everything downstream is keyed on numeric ids, never paths, so renames do not orphan bookmarks.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass, field
from urllib.parse import quote

from tap_gitlab.client import GitLabClient
from tap_gitlab.errors import ResourceUnavailable, ScopeError
from tap_gitlab.paginators import KeysetPaginator, LinkPaginator

logger = logging.getLogger("tap-gitlab")
BY_ID = LinkPaginator(order_by="id", sort="asc")  # a group's projects: offset pages in id order (no keyset there)


def encode_id(ref: str | int) -> str:
    """A group or project reference for a URL: a numeric id as is, a path URL-encoded (`a%2Fb`)."""
    text = str(ref)
    return text if text.isdigit() else quote(text, safe="")


@dataclass
class Scope:
    """The resolved selection: group and project records keyed by numeric id, in a stable order."""

    groups: dict[int, dict[str, t.Any]] = field(default_factory=dict)
    projects: dict[int, dict[str, t.Any]] = field(default_factory=dict)
    # Configured groups that are not descendants of another configured group: a group-level listing of one
    # of these (with its subgroups) covers every group and project below it exactly once.
    top_groups: list[int] = field(default_factory=list)
    # project id -> the top group whose subtree holds it, for projects reached through a group.
    project_top_group: dict[int, int] = field(default_factory=dict)

    def split_below_top_groups(self) -> Scope:
        """This scope with each top group's group-level listing split into one per direct subgroup.

        For sharded runs: a partition is read by one shard, and a top group's listing (issues, merge requests
        and their children: most records) is one partition. Its direct subgroups' listings (each with its own
        subgroups) cover the same projects in disjoint parts, and the projects directly in the top group are
        read by their own listings. Requests grow by a page or so per subgroup and one listing per such project.
        """
        parent_of = {group_id: group.get("parent_id") for group_id, group in self.groups.items()}
        tops, project_top = [], {}
        for top in self.top_groups:
            children = sorted(group_id for group_id, parent in parent_of.items() if parent == top)
            tops.extend(children)
            for project_id, project_top_id in self.project_top_group.items():
                if project_top_id != top:
                    continue
                unit = _child_of(top, (self.projects[project_id].get("namespace") or {}).get("id"), parent_of)
                if unit is not None:
                    project_top[project_id] = unit  # else: directly in the top group, a partition of its own
        return Scope(self.groups, self.projects, tops, project_top)

    def describe_project(self, project_id: int) -> str:
        project = self.projects.get(project_id) or {}
        return f"project {project_id} ({project.get('path_with_namespace', '?')})"

    def describe_group(self, group_id: int) -> str:
        group = self.groups.get(group_id) or {}
        return f"group {group_id} ({group.get('full_path', '?')})"


def _project_listing_params(include_archived: bool) -> dict[str, t.Any]:
    params: dict[str, t.Any] = {"statistics": "true"}
    if not include_archived:
        params["archived"] = "false"
    return params


def resolve_scope(
    client: GitLabClient,
    groups: t.Sequence[str],
    projects: t.Sequence[str],
    *,
    include_subgroups: bool = True,
    include_archived: bool = True,
) -> Scope:
    """Resolve the configured selection into group and project records."""
    scope = Scope()
    configured_groups: list[int] = []
    for ref in groups:
        try:
            group = client.get_object(f"/groups/{encode_id(ref)}", {"with_projects": "false"})
        except ResourceUnavailable as exc:
            raise ScopeError(
                f"group '{ref}' does not exist or is not visible to this token ({exc.status}); "
                "check the path or id and the token's access"
            ) from None
        if group["id"] not in scope.groups:
            scope.groups[group["id"]] = group
            configured_groups.append(group["id"])
        if include_subgroups:
            for page in client.pages(
                f"/groups/{group['id']}/descendant_groups", {"all_available": "true"}, LinkPaginator()
            ):
                for subgroup in page.records:
                    scope.groups.setdefault(subgroup["id"], subgroup)

    # A configured group inside another configured group's subtree is already covered by that group.
    descendants_of: dict[int, set[int]] = {}
    if include_subgroups:
        for group_id in configured_groups:
            descendants_of[group_id] = _subtree(scope.groups, group_id)
    for group_id in configured_groups:
        covered = any(group_id in descendants_of.get(other, set()) for other in configured_groups if other != group_id)
        if not covered:
            scope.top_groups.append(group_id)

    listing_groups = scope.top_groups if include_subgroups else configured_groups
    for group_id in listing_groups:
        params = {**_project_listing_params(include_archived), "with_shared": "false"}
        if include_subgroups:
            params["include_subgroups"] = "true"
        for page in client.pages(f"/groups/{group_id}/projects", params, BY_ID):
            for project in page.records:
                if project["id"] not in scope.projects:
                    scope.projects[project["id"]] = project
                    scope.project_top_group[project["id"]] = group_id

    for ref in projects:
        try:
            project = client.get_object(f"/projects/{encode_id(ref)}", {"statistics": "true"})
        except ResourceUnavailable as exc:
            raise ScopeError(
                f"project '{ref}' does not exist or is not visible to this token ({exc.status}); "
                "check the path (group/project) or id and the token's access"
            ) from None
        if project.get("archived") and not include_archived:
            logger.info("Leaving out archived project %s (include_archived is false)", ref)
            continue
        scope.projects.setdefault(project["id"], project)

    if not groups and not projects:
        params = {**_project_listing_params(include_archived), "membership": "true"}
        for page in client.pages("/projects", params, KeysetPaginator(sort="asc")):
            for project in page.records:
                scope.projects.setdefault(project["id"], project)

    scope.projects = dict(sorted(scope.projects.items()))
    scope.groups = dict(sorted(scope.groups.items()))
    return scope


def _child_of(top: int, group_id: int | None, parent_of: t.Mapping[int, int | None]) -> int | None:
    """The direct subgroup of `top` whose subtree holds group `group_id` (None: `top` itself, or not below it)."""
    seen = set()
    while group_id is not None and group_id not in seen:
        seen.add(group_id)
        parent = parent_of.get(group_id)
        if parent == top:
            return group_id
        group_id = parent
    return None


def _subtree(groups: dict[int, dict[str, t.Any]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for group in groups.values():
        parent = group.get("parent_id")
        if parent is not None:
            children.setdefault(parent, []).append(group["id"])
    result: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in result:
                result.add(child)
                stack.append(child)
    return result


def check_access(client: GitLabClient, groups: t.Sequence[str], projects: t.Sequence[str]) -> dict[str, t.Any]:
    """A cheap real check: the token works and each configured group and project is visible."""
    user = client.get_object("/user")
    for ref in groups:
        try:
            client.get_object(f"/groups/{encode_id(ref)}", {"with_projects": "false"})
        except ResourceUnavailable as exc:
            raise ScopeError(f"group '{ref}' does not exist or is not visible to this token ({exc.status})") from None
    for ref in projects:
        try:
            client.get_object(f"/projects/{encode_id(ref)}")
        except ResourceUnavailable as exc:
            raise ScopeError(f"project '{ref}' does not exist or is not visible to this token ({exc.status})") from None
    return t.cast(dict[str, t.Any], user)
