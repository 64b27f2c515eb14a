"""Projects: planning them, their objects, lookups by id or path, renames, deletions and forbidden features.

Models gitlabhq lib/api/projects.rb (`GET /projects`, `/projects/:id`, `/groups/:id/projects`),
lib/api/entities/project.rb, basic_project_details.rb and app/finders/projects_finder.rb.
"""

from __future__ import annotations

import random
import typing as t

from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import (
    _G,
    _P,
    KEYSET_UNSUPPORTED,
    Listing,
    Record,
    Request,
    bad_request,
    choice,
    order,
    sort_param,
    window,
)
from tests.gitlab_sim.model import (
    API,
    WEB,
    ProjectPlan,
    _mutation,
    _sha,
    runners_token,
)
from tests.gitlab_sim.util import DAY, NOW_EPOCH, db_time

# The kinds of project records whose ids come from one instance-wide sequence.
ID_KINDS = (
    "issues",
    "notes",
    "merge_requests",
    "pipelines",
    "jobs",
    "deployments",
    "environments",
    "events",
    "labels",
    "milestones",
    "vulnerabilities",
    "epics",
    "boards",
    "epic_issues",
)


def _readme_url(seed: int, pid: int, web: str) -> str | None:
    """Most projects have a README.md, some a README.rst, some none (GitLab then sends `readme_url: null`).

    A generator of its own, so that every other record stays as it was.
    """
    draw = random.Random(f"{seed}/readme/{pid}").random()
    if draw < 0.15:
        return None
    return f"{web}/-/blob/main/{'README.rst' if draw < 0.3 else 'README.md'}"


# Entities::BasicProjectDetails (with its parent Entities::ProjectIdentity): the project inside an environment
# (lib/api/entities/environment.rb `expose :project, using: Entities::BasicProjectDetails`) and a fork's
# `forked_from_project`. `license`, `license_url`, `custom_attributes` and `repository_storage` are conditional.
_BASIC_PROJECT_KEYS = (
    "id",
    "description",
    "name",
    "name_with_namespace",
    "path",
    "path_with_namespace",
    "created_at",
    "default_branch",
    "tag_list",
    "topics",
    "ssh_url_to_repo",
    "http_url_to_repo",
    "web_url",
    "readme_url",
    "forks_count",
    "avatar_url",
    "star_count",
    "last_activity_at",
    "namespace",
)
# The `simple=true` projects listing (lib/api/projects.rb renders Entities::BasicProjectDetails): the basic keys,
# and the conditional `repository_storage` where the record has it.
SIMPLE_PROJECT_KEYS = (*_BASIC_PROJECT_KEYS, "repository_storage")


def _basic_project_details(project: Record) -> Record:
    """Entities::BasicProjectDetails of a project object."""
    return {key: project[key] for key in _BASIC_PROJECT_KEYS}


def _mirror_import_url(seed: int, pid: int, full: str) -> str | None:
    """A pull mirror's source URL, with the user and password GitLab keeps for it, for a fifth of the projects.

    `Project#import_url` (app/models/project.rb) puts the credentials stored in `import_data` back into the URL,
    and GitLab versions whose Project entity exposes `:import_url` through it (before the entity read the raw
    column, `project[:import_url]`) send it so to admins of the project. A generator of its own, so that every
    other record stays as it was.
    """
    if random.Random(f"{seed}/mirror/{pid}").random() >= 0.2:
        return None
    return f"https://mirror-bot:{_sha('mirror', seed, pid)[:24]}@git.example.com/{full}.git"


def _project_features(archived: bool, issues_disabled: bool) -> Record:
    """The project's features and their access levels (Entities::Project `*_enabled`, `*_access_level`)."""
    access = lambda on: "enabled" if on else "disabled"  # noqa: E731
    return {
        "packages_enabled": True,
        "empty_repo": False,
        "archived": archived,
        "resolve_outdated_diff_discussions": False,
        "container_expiration_policy": {
            "cadence": "1d",
            "enabled": False,
            "keep_n": 10,
            "older_than": "90d",
            "name_regex": ".*",
            "name_regex_keep": None,
            "next_run_at": db_time(NOW_EPOCH + DAY),
        },
        "repository_object_format": "sha1",
        "issues_enabled": not issues_disabled,
        "merge_requests_enabled": True,
        "wiki_enabled": True,
        "jobs_enabled": True,
        "snippets_enabled": False,
        "container_registry_enabled": True,
        "service_desk_enabled": False,
        "service_desk_address": None,
        "can_create_merge_request_in": True,
        "issues_access_level": access(not issues_disabled),
        "repository_access_level": "enabled",
        "merge_requests_access_level": "enabled",
        "forking_access_level": "enabled",
        "wiki_access_level": "enabled",
        "builds_access_level": "enabled",
        "snippets_access_level": "disabled",
        "pages_access_level": "private",
        "analytics_access_level": "enabled",
        "container_registry_access_level": "enabled",
        "security_and_compliance_access_level": "private",
        "releases_access_level": "enabled",
        "environments_access_level": "enabled",
        "feature_flags_access_level": "enabled",
        "infrastructure_access_level": "enabled",
        "monitor_access_level": "enabled",
        "model_experiments_access_level": "enabled",
        "model_registry_access_level": "enabled",
        "emails_disabled": False,
        "emails_enabled": True,
        "shared_runners_enabled": True,
        "lfs_enabled": True,
    }


class ProjectsModel:
    """Planning projects and changing them."""

    def _plan_projects(self, rng: random.Random, spec: dict[str, t.Any]) -> None:
        group_ids = list(self.groups)
        n = spec["projects"]
        base = spec["project"]
        running = dict.fromkeys(ID_KINDS, 0)
        # Group-level id ranges come first in the shared sequences.
        group_spec = spec["group"]
        for kind, per in (
            ("labels", "labels"),
            ("milestones", "milestones"),
            ("epics", "epics"),
            ("boards", "boards"),
            ("epic_issues", "epic_issues"),
        ):
            running[kind] += group_spec[per] * len(group_ids)
        self._group_bases = {kind: 0 for kind in ("labels", "milestones", "epics", "boards", "epic_issues")}
        used_paths: set[str] = set()
        for index in range(n):
            pid = index + 1
            # Every group gets projects: the first ones go one per group, then at random.
            gid = group_ids[index] if index < len(group_ids) else rng.choice(group_ids)
            group = self.groups[gid]
            word = rng.choice(W.PROJECT_WORDS)
            path = f"{group['path']}-{word}"
            if f"{gid}/{path}" in used_paths:
                path = f"{path}-{pid}"
            used_paths.add(f"{gid}/{path}")
            counts = {}
            for kind, value in base.items():
                counts[kind] = max(1, round(value * rng.uniform(0.6, 1.4))) if value else 0
            issues_disabled = n >= 8 and index % 9 == 5
            if issues_disabled:
                counts["issues"] = 0
                counts["issue_notes"] = 0
            top = self.top_group_of(gid)
            if top not in self.ultimate:
                counts["vulnerabilities"] = 0
            bases = {}
            for kind in ID_KINDS:
                src = {"notes": counts["issue_notes"] + counts["merge_request_notes"]}.get(kind, counts.get(kind, 0))
                bases[kind] = running[kind]
                running[kind] += src
            self.plans[pid] = ProjectPlan(pid, index, counts, bases)
            archived = n >= 8 and index % 7 == 3
            self.projects[pid] = self._project_object(rng, pid, group, path, word, archived, issues_disabled)
            self.namespace_projects.setdefault(gid, []).append(pid)
            if issues_disabled:
                self.forbidden.add((pid, "issues"))
        self._next_ids = {kind: value + 1 for kind, value in running.items()}
        # Share some projects into another top group (with_shared=false must leave them out there).
        tops = [g for g in group_ids if self.groups[g]["parent_id"] is None]
        if len(tops) > 1:
            for pid in list(self.projects)[:: max(3, n // 4)][:4]:
                project = self.projects[pid]
                own_top = self.top_group_of(project["namespace"]["id"])
                target = next(g for g in tops if g != own_top)
                self.shared_into.setdefault(target, []).append(pid)
                project["shared_with_groups"].append(
                    {
                        "group_id": target,
                        "group_name": self.groups[target]["name"],
                        "group_full_path": self.groups[target]["full_path"],
                        "group_access_level": 30,
                        "expires_at": None,
                    }
                )

    def _project_object(
        self, rng: random.Random, pid: int, group: Record, path: str, word: str, archived: bool, issues_disabled: bool
    ) -> Record:
        """Entities::ProjectWithAccess (lib/api/entities/project.rb and its parents): identity, features, settings."""
        created = NOW_EPOCH - (700 - pid % 600) * DAY - rng.random() * DAY
        updated = NOW_EPOCH - rng.random() * 90 * DAY
        return {
            **self._project_identity(rng, pid, group, path, word, created, updated),
            **_project_features(archived, issues_disabled),
            **self._project_settings(pid, f"{group['full_path']}/{path}"),
        }

    def _project_identity(
        self, rng: random.Random, pid: int, group: Record, path: str, word: str, created: float, updated: float
    ) -> Record:
        """Names, paths, URLs, dates, visibility, namespace and `_links` (Entities::BasicProjectDetails and up)."""
        full = f"{group['full_path']}/{path}"
        name = f"{word.title()} {pid}"
        web = f"{WEB}/{full}"
        return {
            "id": pid,
            "description": f"{name}: the {word} service of {group['full_name']}.",
            "description_html": f'<p data-sourcepos="1:1-1:40" dir="auto">{name}</p>',
            "name": name,
            "name_with_namespace": f"{group['full_name']} / {name}",
            "path": path,
            "path_with_namespace": full,
            "created_at": db_time(created),
            "updated_at": db_time(updated),
            "default_branch": "main",
            "tag_list": [word],
            "topics": [word],
            "ssh_url_to_repo": f"git@gitlab.example.com:{full}.git",
            "http_url_to_repo": f"{web}.git",
            "web_url": web,
            "readme_url": _readme_url(self.seed, pid, web),
            "forks_count": pid % 3,
            "avatar_url": None,
            "star_count": pid % 7,
            "last_activity_at": db_time(updated + 3600),
            "visibility": rng.choice(["private", "internal", "public"]),
            "namespace": {
                "id": group["id"],
                "name": group["name"],
                "path": group["path"],
                "kind": "group",
                "full_path": group["full_path"],
                "parent_id": group["parent_id"],
                "avatar_url": None,
                "web_url": group["web_url"],
            },
            "container_registry_image_prefix": f"registry.example.com/{full}",
            "_links": {
                "self": f"{API}/projects/{pid}",
                "issues": f"{API}/projects/{pid}/issues",
                "merge_requests": f"{API}/projects/{pid}/merge_requests",
                "repo_branches": f"{API}/projects/{pid}/repository/branches",
                "labels": f"{API}/projects/{pid}/labels",
                "events": f"{API}/projects/{pid}/events",
                "members": f"{API}/projects/{pid}/members",
                "cluster_agents": f"{API}/projects/{pid}/cluster_agents",
            },
        }

    def _project_settings(self, pid: int, full: str) -> Record:
        """Import, CI/CD, merge and compliance settings: the rest of Entities::Project."""
        mirror_url = _mirror_import_url(self.seed, pid, full)
        return {
            "creator_id": 1,
            "import_url": mirror_url,
            "import_type": "git" if mirror_url else None,
            "import_status": "finished" if mirror_url else "none",
            "import_error": None,
            "open_issues_count": 0,
            "ci_default_git_depth": 20,
            "ci_delete_pipelines_in_seconds": None,
            "ci_forward_deployment_enabled": True,
            "ci_forward_deployment_rollback_allowed": True,
            "ci_job_token_scope_enabled": False,
            "ci_separated_caches": True,
            "ci_allow_fork_pipelines_to_run_in_parent_project": True,
            "ci_id_token_sub_claim_components": ["project_path", "ref_type", "ref"],
            "build_git_strategy": "fetch",
            "keep_latest_artifact": True,
            "restrict_user_defined_variables": False,
            "ci_pipeline_variables_minimum_override_role": "developer",
            "ci_push_repository_for_job_token_allowed": False,
            "runners_token": runners_token(self.seed, "project", pid),
            "runner_token_expiration_interval": None,
            "group_runners_enabled": True,
            "auto_cancel_pending_pipelines": "enabled",
            "build_timeout": 3600,
            "auto_devops_enabled": False,
            "auto_devops_deploy_strategy": "continuous",
            "ci_config_path": None,
            "public_jobs": True,
            "shared_with_groups": [],
            "only_allow_merge_if_pipeline_succeeds": False,
            "allow_merge_on_skipped_pipeline": None,
            "allow_pipeline_trigger_approve_deployment": False,
            "request_access_enabled": True,
            "only_allow_merge_if_all_discussions_are_resolved": False,
            "remove_source_branch_after_merge": True,
            "printing_merge_request_link_enabled": True,
            "merge_method": "merge",
            "squash_option": "default_off",
            "enforce_auth_checks_on_uploads": True,
            "suggestion_commit_message": None,
            "merge_commit_template": None,
            "squash_commit_template": None,
            "issue_branch_template": None,
            "warn_about_potentially_unwanted_characters": True,
            "autoclose_referenced_issues": True,
            "max_artifacts_size": None,
            "approvals_before_merge": 0,
            "mirror": mirror_url is not None,
            "external_authorization_classification_label": "",
            "requirements_enabled": False,
            "requirements_access_level": "enabled",
            "security_and_compliance_enabled": True,
            "secret_push_protection_enabled": False,
            "compliance_frameworks": [],
            "issues_template": None,
            "merge_requests_template": None,
            "ci_restrict_pipeline_cancellation_role": "developer",
            "merge_pipelines_enabled": False,
            "merge_trains_enabled": False,
            "merge_trains_skip_train_allowed": False,
            "only_allow_merge_if_all_status_checks_passed": False,
            "allow_merge_without_pipeline": False,
            "prevent_merge_without_jira_issue": False,
            "auto_duo_code_review_enabled": False,
            "duo_remote_flows_enabled": False,
            "mr_default_target_self": False,
            "spp_repository_pipeline_access": False,
            "marked_for_deletion_at": None,
            "marked_for_deletion_on": None,
            "forked_from_project": None,
            "permissions": {"project_access": None, "group_access": {"access_level": 50, "notification_level": 3}},
            "repository_storage": "default",
            "license_url": None,
            "license": None,
        }

    def find_project(self, ref: str) -> tuple[int | None, bool]:
        """(project id, redirected) for a numeric id or full path; (None, False) when unknown or deleted."""
        if ref.isdigit():
            pid = int(ref)
            return (pid, False) if pid in self.projects and pid not in self.deleted else (None, False)
        low = ref.lower()
        for pid, project in self.projects.items():
            if pid not in self.deleted and project["path_with_namespace"].lower() == low:
                return pid, False
        pid = self.redirects.get(low)
        if pid is not None and pid not in self.deleted:
            return pid, True
        return None, False

    def live_projects(self) -> list[int]:
        return [pid for pid in self.projects if pid not in self.deleted]

    def project_users(self, pid: int) -> list[Record]:
        """Users with access to a project: its members and those of its ancestor groups (basic shape)."""
        d = self.data(pid)
        ids = {m["id"] for m in d.members}
        for g in self.ancestors(self.projects[pid]["namespace"]["id"]):
            ids.update(m["id"] for m in self.group_data[g].members)
        return [self.user_basic[u] for u in sorted(ids)]

    def project_statistics(self, pid: int) -> Record:
        plan = self.plans[pid]
        size = 1_000_000 + plan.counts["commits"] * 4096
        return {
            "commit_count": plan.counts["commits"],
            "storage_size": size + 2048,
            "repository_size": size,
            "wiki_size": 2048,
            "lfs_objects_size": 0,
            "job_artifacts_size": 0,
            "pipeline_artifacts_size": 0,
            "packages_size": 0,
            "snippets_size": 0,
            "uploads_size": 0,
            "container_registry_size": 0,
        }

    @_mutation
    def delete_project(self, project_id: int) -> None:
        with self.lock:
            self.deleted.add(project_id)
            self.version += 1

    @_mutation
    def rename_project(self, project_id: int, new_path: str) -> Record:
        """Move a project to a new path in its namespace; the old path answers 301 (§1 "Moved project paths")."""
        with self.lock:
            project = self.projects[project_id]
            self.redirects[project["path_with_namespace"].lower()] = project_id
            namespace = project["namespace"]["full_path"]
            full = f"{namespace}/{new_path}"
            self.redirects.pop(full.lower(), None)
            web = f"{WEB}/{full}"
            project.update(
                path=new_path,
                path_with_namespace=full,
                web_url=web,
                http_url_to_repo=f"{web}.git",
                ssh_url_to_repo=f"git@gitlab.example.com:{full}.git",
                readme_url=f"{web}/-/blob/main/README.md",
            )
            project["updated_at"] = self._tick()
            return project

    @_mutation
    def forbid(self, project_id: int, feature: str) -> None:
        with self.lock:
            self.forbidden.add((project_id, feature))
            self.version += 1


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", _G + "/projects", "group_projects"),
    ("GET", "/projects", "projects"),
    ("GET", _P, "project"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset({"group_projects", "projects"})


class ProjectsRoutes:
    """`/projects`, `/projects/:id` and `/groups/:id/projects`."""

    def _project_listing(self, req: Request, pids: list[int], default_order: str) -> Listing:
        projects = [self.ds.projects[p] for p in pids]
        archived = req.flag("archived")
        if archived is not None:
            projects = [p for p in projects if p["archived"] == archived]
        if req.q.get("visibility"):
            projects = [p for p in projects if p["visibility"] == req.q["visibility"]]
        if req.q.get("search"):
            s = req.q["search"].lower()
            projects = [p for p in projects if s in p["name"].lower() or s in p["path"].lower()]
        if req.q.get("topic"):
            wanted = set(req.q["topic"].split(","))
            projects = [p for p in projects if wanted <= set(p["topics"])]
        if req.flag("with_issues_enabled"):
            projects = [p for p in projects if p["issues_enabled"]]
        if req.flag("with_merge_requests_enabled"):
            projects = [p for p in projects if p["merge_requests_enabled"]]
        if req.q.get("id_after", "").isdigit():
            projects = [p for p in projects if p["id"] > int(req.q["id_after"])]
        if req.q.get("id_before", "").isdigit():
            projects = [p for p in projects if p["id"] < int(req.q["id_before"])]
        projects = window(projects, req, "last_activity_at", "last_activity_after", "last_activity_before")
        allowed = (
            "id",
            "name",
            "path",
            "created_at",
            "updated_at",
            "last_activity_at",
            "star_count",
            "similarity",
            "repository_size",
            "storage_size",
            "packages_size",
            "wiki_size",
        )
        by = choice(req, "order_by", allowed, default_order)
        if req.q.get("updated_after") or req.q.get("updated_before"):
            if by != "updated_at":
                raise bad_request("`updated_at` filter and `updated_at` sorting must be paired")  # §6.2
            projects = window(projects, req, "updated_at", "updated_after", "updated_before")
        sort = sort_param(req, "desc")
        # order_by=created_at runs as order_by=id (§6.2, helpers.rb reorder_projects).
        field_name = {
            "created_at": "id",
            "similarity": "id",
            "repository_size": "id",
            "storage_size": "id",
            "packages_size": "id",
            "wiki_size": "id",
        }.get(by, by)
        result = order(projects, field_name, sort)
        simple = req.flag("simple")
        statistics = req.flag("statistics")
        ds = self.ds

        def shape(p: Record) -> Record:
            if simple:
                return {k: p[k] for k in SIMPLE_PROJECT_KEYS if k in p}
            if statistics:
                return {**p, "statistics": ds.project_statistics(p["id"])}
            return p

        return Listing(
            result,
            transform=shape if (simple or statistics) else None,
            transform_key="simple" if simple else "statistics" if statistics else "",
            order_field=field_name,
            sort=sort,
        )

    def h_projects(self, req: Request) -> Listing:
        listing = self._project_listing(req, self.ds.live_projects(), "created_at")
        listing.cap_type = "Project"  # the Projects docs' 50,000 limit (§3.1 "Offset cap")
        if req.q.get("pagination") == "keyset":
            if req.q.get("order_by") != "id":
                raise KEYSET_UNSUPPORTED  # projects: keyset with order_by=id only (§3.2)
            listing.keyset = "id"
        return listing

    def h_group_projects(self, req: Request) -> Listing:
        gid = self.group(req)
        pids = self.ds.group_project_ids(
            gid,
            include_subgroups=bool(req.flag("include_subgroups", False)),
            with_shared=bool(req.flag("with_shared", True)),
        )
        return self._project_listing(req, pids, "created_at")  # group projects: no keyset (§6.1)

    def h_project(self, req: Request) -> Record:
        pid = self.project(req)
        project = self.ds.projects[pid]
        if req.flag("statistics"):
            return {**project, "statistics": self.ds.project_statistics(pid)}
        return project
