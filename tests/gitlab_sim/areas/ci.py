"""CI/CD: pipelines (and child pipelines), jobs, trigger jobs (bridges), deployments, environments, variables.

Models gitlabhq lib/api/ci/pipelines.rb, lib/api/ci/jobs.rb, lib/api/deployments.rb, lib/api/environments.rb,
lib/api/ci/variables.rb and their entities lib/api/entities/ci/pipeline*.rb, ci/job*.rb, ci/bridge.rb,
deployment*.rb, environment*.rb, ci/variable.rb; the finders app/finders/ci/pipelines_finder.rb,
ci/jobs_finder.rb and deployments_finder.rb.
"""

from __future__ import annotations

import random
import typing as t

from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import (
    _P,
    KEYSET_UNSUPPORTED,
    ApiError,
    Listing,
    Record,
    Request,
    bad_request,
    choice,
    invalid,
    not_found,
    order,
    sort_param,
    window,
)
from tests.gitlab_sim.areas.projects import _basic_project_details
from tests.gitlab_sim.expected import pipeline_list_shape
from tests.gitlab_sim.model import (
    ProjectData,
    ProjectGen,
    _mutation,
    _sha,
    _split,
    _times,
)
from tests.gitlab_sim.util import DAY, NOW_EPOCH, db_time, parse_time

# About this share of pipelines are child pipelines (source "parent_pipeline") of the pipeline before them.
CHILD_PIPELINE_SHARE = 0.2

# Trigger jobs take their ids from here on (plus their child pipeline's id).
BRIDGE_ID_BASE = 900_000_000

_JOB_COMMIT_KEYS = (
    "id",
    "short_id",
    "created_at",
    "parent_ids",
    "title",
    "message",
    "author_name",
    "author_email",
    "authored_date",
    "committer_name",
    "committer_email",
    "committed_date",
    "trailers",
    "extended_trailers",
    "web_url",
)


def _job_commit(commit: Record | None) -> Record | None:
    """A job's `commit` (Entities::Commit)."""
    return {key: commit[key] for key in _JOB_COMMIT_KEYS} if commit else None


def _pipeline_basic(pipeline: Record) -> Record:
    """A job's `pipeline` and a trigger job's `downstream_pipeline` (Entities::Ci::PipelineBasic)."""
    keys = ("id", "iid", "project_id", "ref", "sha", "status", "source", "created_at", "updated_at", "web_url")
    return {key: pipeline[key] for key in keys}


class CiModel:
    """Generating and changing a project's pipelines, their jobs and trigger jobs (bridges)."""

    def _generate_pipelines(self, g: ProjectGen) -> None:
        """Pipelines (some of them child pipelines, with the trigger jobs that started them) and their jobs."""
        pid, counts, bases, rng, d, start, web = g.pid, g.counts, g.bases, g.rng, g.d, g.start, g.web
        job_split = _split(rng, counts["jobs"], counts["pipelines"])
        job_id = bases["jobs"]
        refs = [("main", d.commits[j]) for j in range(min(len(d.commits), 30))] or [("main", None)]
        for name, own in d.branch_commits.items():
            refs.extend((name, c) for c in own)
        # Some pipelines are child pipelines (trigger: include): created seconds after the pipeline before them,
        # on its ref and commit. A separate generator picks them, so every other record stays as it was.
        child_rng = random.Random(f"{self.seed}/child-pipelines/{pid}")
        parent: tuple[Record, Record | None] | None = None  # the last pipeline that is not a child, its commit
        last_created = 0.0
        for k, created in enumerate(_times(rng, counts["pipelines"], start + DAY, NOW_EPOCH - 3600)):
            ref, commit = rng.choice(refs)
            child_of = None
            if parent is not None and child_rng.random() < CHILD_PIPELINE_SHARE:
                child_of, commit = parent
                ref = child_of["ref"]
                created = min(created, last_created + child_rng.uniform(2, 30))  # ids stay in creation order
            sha = child_of["sha"] if child_of else commit["id"] if commit else _sha(pid, "p", k)
            pipeline, started, finished = self._pipeline_record(g, k, created, ref, commit, sha)
            pl_id, user = pipeline["id"], pipeline["user"]
            d.bridges_by_pipeline[pl_id] = []
            if child_of is not None:
                pipeline["source"] = "parent_pipeline"
                d.child_pipelines[pl_id] = child_of["id"]
                bridge = self._bridge(child_of, pipeline, commit, user, web)
                d.bridges_by_pipeline[child_of["id"]].insert(0, bridge)
            if child_of is None:  # a child's children (GitLab allows them) are left out: nothing here needs them
                parent = (pipeline, commit)
            last_created = created
            d.pipelines.append(pipeline)
            d.pipeline_by_id[pl_id] = pipeline
            job_id = self._generate_pipeline_jobs(g, pipeline, commit, job_split[k], job_id, created, started, finished)
        d.jobs.reverse()  # project jobs: id descending

    def _pipeline_record(
        self, g: ProjectGen, k: int, created: float, ref: str, commit: Record | None, sha: str
    ) -> tuple[Record, float, float | None]:
        """The `k`th pipeline (Entities::Ci::Pipeline, lib/api/entities/ci/pipeline.rb, as
        `GET /projects/:id/pipelines/:pipeline_id` shows it) and when it started and finished (None: not yet)."""
        pid, bases, rng, ub, full, web, updated_from, people = (
            g.pid,
            g.bases,
            g.rng,
            g.ub,
            g.full,
            g.web,
            g.updated_from,
            g.people,
        )
        status = rng.choices(["success", "failed", "canceled", "running", "skipped", "manual"], [70, 15, 5, 4, 3, 3])[0]
        duration = rng.randint(40, 3600)
        started = created + rng.uniform(1, 60)
        finished = started + duration if status not in ("running", "manual") else None
        updated = max(finished or started, updated_from(created))
        pl_id = bases["pipelines"] + k + 1
        user = ub[rng.choice(people)]
        pipeline = {
            "id": pl_id,
            "iid": k + 1,
            "project_id": pid,
            "status": status,
            "source": rng.choice(["push", "push", "merge_request_event", "schedule", "web"]),
            "ref": ref,
            "sha": sha,
            "name": None if k % 4 else "Build pipeline",
            "web_url": f"{web}/-/pipelines/{pl_id}",
            "created_at": db_time(created),
            "updated_at": db_time(updated),
            "before_sha": "0" * 40,
            "tag": False,
            "yaml_errors": None,
            "user": user,
            "started_at": db_time(started),
            "finished_at": db_time(finished) if finished else None,
            "committed_at": commit["committed_date"] if commit else None,
            "duration": duration if finished else None,
            "queued_duration": round(started - created, 3),
            "coverage": f"{rng.uniform(50, 99):.2f}" if status == "success" and k % 3 == 0 else None,
            "detailed_status": self._detailed_status(status, f"/{full}/-/pipelines/{pl_id}"),
            "archived": False,
        }
        return pipeline, started, finished

    def _generate_pipeline_jobs(
        self,
        g: ProjectGen,
        pipeline: Record,
        commit: Record | None,
        n_jobs: int,
        job_id: int,
        created: float,
        started: float,
        finished: float | None,
    ) -> int:
        """A pipeline's `n_jobs` jobs, ids after `job_id` (the first one sometimes failed and retried); the last id."""
        rng, d, web = g.rng, g.d, g.web
        ref, status, user, pl_id = pipeline["ref"], pipeline["status"], pipeline["user"], pipeline["id"]
        jobs: list[Record] = []
        retry_first = n_jobs >= 2 and rng.random() < 0.2
        for j in range(n_jobs):
            job_id += 1
            stage = W.STAGES[min(j * len(W.STAGES) // max(1, n_jobs), 2)]
            jname = W.JOB_NAMES[stage][j % len(W.JOB_NAMES[stage])]
            if retry_first and j == 1:
                jname = jobs[0]["name"]
                stage = jobs[0]["stage"]
            jstatus = "failed" if retry_first and j == 0 else (status if j == n_jobs - 1 else "success")
            j_created = created + j
            j_started = started + j * 5
            j_finished = (finished - (n_jobs - j)) if finished else None
            job = self._job(
                rng,
                job_id,
                jname,
                stage,
                jstatus,
                ref,
                commit,
                pipeline,
                j_created,
                j_started,
                j_finished,
                user,
                web,
            )
            if retry_first and j == 0:
                d.retried_jobs.add(job_id)
            jobs.append(job)
        d.jobs_by_pipeline[pl_id] = list(reversed(jobs))  # newest (highest id) first
        d.jobs.extend(jobs)
        return job_id

    def _detailed_status(self, status: str, path: str) -> Record:
        text = {
            "success": "Passed",
            "failed": "Failed",
            "canceled": "Canceled",
            "running": "Running",
            "skipped": "Skipped",
            "manual": "Manual",
            "created": "Created",
            "pending": "Pending",
        }.get(status, status)
        return {
            "icon": f"status_{status}",
            "text": text,
            "label": text.lower(),
            "group": status,
            "tooltip": text.lower(),
            "has_details": True,
            "details_path": path,
            "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_status_{status}.png",
        }

    def _job(
        self,
        rng: random.Random,
        job_id: int,
        name: str,
        stage: str,
        status: str,
        ref: str,
        commit: Record | None,
        pipeline: Record,
        created: float,
        started: float,
        finished: float | None,
        user: Record,
        web: str,
    ) -> Record:
        duration = round(finished - started, 3) if finished else None
        has_artifacts = status == "success" and stage == "build"
        return {
            "id": job_id,
            "name": name,
            "status": status,
            "stage": stage,
            "ref": ref,
            "tag": False,
            "coverage": None,
            "allow_failure": stage == "deploy" and rng.random() < 0.2,
            "archived": False,
            "source": pipeline["source"],
            "created_at": db_time(created),
            "started_at": db_time(started),
            "finished_at": db_time(finished) if finished else None,
            "erased_at": None,
            "duration": duration,
            "queued_duration": round(rng.uniform(0.1, 30), 3),
            "commit": _job_commit(commit),
            "pipeline": _pipeline_basic(pipeline),
            "artifacts_file": {"filename": "artifacts.zip", "size": 1000 + job_id % 5000} if has_artifacts else None,
            "artifacts": [
                {
                    "file_type": "archive",
                    "size": 1000 + job_id % 5000,
                    "filename": "artifacts.zip",
                    "file_format": "zip",
                }
            ]
            if has_artifacts
            else [],
            "artifacts_expire_at": db_time(created + 30 * DAY) if has_artifacts else None,
            "tag_list": ["docker", "linux"],
            "runner": {
                "id": 32,
                "description": "shared-runner-1",
                "ip_address": None,
                "active": True,
                "paused": False,
                "is_shared": True,
                "runner_type": "instance_type",
                "name": "gitlab-runner",
                "online": True,
                "status": "online",
            }
            if finished
            else None,
            "runner_manager": None,
            "failure_reason": "script_failure" if status == "failed" else None,
            "web_url": f"{web}/-/jobs/{job_id}",
            "project": {"ci_job_token_scope_enabled": False},
            "user": user,
        }

    def _bridge(self, parent: Record, child: Record, commit: Record | None, user: Record, web: str) -> Record:
        """The trigger job (`Ci::Bridge`) in `parent` that started `child` (JobBasic plus `downstream_pipeline`).

        Its id comes from a range of its own (GitLab draws bridges from the jobs' sequence, whose size the
        plans fix before child pipelines are drawn).
        """
        created = parse_time(child["created_at"]) or NOW_EPOCH
        finished = parse_time(child["finished_at"]) if child["finished_at"] else None
        status = child["status"] if child["status"] != "manual" else "success"
        bridge_id = BRIDGE_ID_BASE + child["id"]
        return {
            "id": bridge_id,
            "status": status,
            "stage": "test",
            "name": f"trigger:{child['iid']}",
            "ref": parent["ref"],
            "tag": False,
            "coverage": None,
            "allow_failure": False,
            "created_at": db_time(created - 1),
            "started_at": db_time(created - 0.5),
            "finished_at": db_time(finished) if finished else None,
            "erased_at": None,
            "duration": round(finished - created + 0.5, 3) if finished else None,
            "queued_duration": 0.5,
            "user": user,
            "commit": _job_commit(commit),
            "pipeline": _pipeline_basic(parent),
            **({"failure_reason": "downstream_pipeline_creation_failed"} if status == "failed" else {}),
            "web_url": f"{web}/-/jobs/{bridge_id}",
            "project": {"ci_job_token_scope_enabled": False},
            "downstream_pipeline": _pipeline_basic(child),
        }

    @_mutation
    def create_pipeline(self, project_id: int, parent_id: int | None = None, **fields: t.Any) -> Record:
        """A new pipeline; with `parent_id`, a child pipeline of that one (source "parent_pipeline")."""
        with self.lock:
            d = self.data(project_id)
            if parent_id is not None:
                parent = d.pipeline_by_id[parent_id]
                fields = {"source": "parent_pipeline", "ref": parent["ref"], "sha": parent["sha"], **fields}
            project = self.projects[project_id]
            now = self._tick()
            pl_id = self._new_id("pipelines")
            head = d.commits[0] if d.commits else None
            pipeline = {
                "id": pl_id,
                "iid": len(d.pipelines) + 1,
                "project_id": project_id,
                "status": "created",
                "source": "push",
                "ref": "main",
                "sha": head["id"] if head else "0" * 40,
                "name": None,
                "web_url": f"{project['web_url']}/-/pipelines/{pl_id}",
                "created_at": now,
                "updated_at": now,
                "before_sha": "0" * 40,
                "tag": False,
                "yaml_errors": None,
                "user": self.user_basic[1],
                "started_at": None,
                "finished_at": None,
                "committed_at": head["committed_date"] if head else None,
                "duration": None,
                "queued_duration": None,
                "coverage": None,
                "detailed_status": self._detailed_status(
                    "created", f"/{project['path_with_namespace']}/-/pipelines/{pl_id}"
                ),
                "archived": False,
            }
            pipeline.update(fields)
            d.pipelines.append(pipeline)
            d.pipeline_by_id[pl_id] = pipeline
            d.jobs_by_pipeline[pl_id] = []
            d.bridges_by_pipeline[pl_id] = []
            if parent_id is not None:
                # The parent's trigger job started it: the parent changed too.
                d.child_pipelines[pl_id] = parent_id
                parent = d.pipeline_by_id[parent_id]
                commit = next((c for c in d.commits if c["id"] == parent["sha"]), None)
                bridge = self._bridge(parent, pipeline, commit, pipeline["user"], project["web_url"])
                d.bridges_by_pipeline[parent_id].insert(0, bridge)
                parent["updated_at"] = now
                bridge["pipeline"]["updated_at"] = now
            return pipeline

    @_mutation
    def list_child_pipelines(self, listed: bool = True) -> None:
        """Play GitLab before 17.0 (`listed`): the default pipeline listing includes child pipelines."""
        with self.lock:
            self.child_pipelines_listed = listed

    @_mutation
    def remove_bridges_route(self) -> None:
        """Play a GitLab without `/pipelines/:id/bridges` (only `/trigger_jobs`)."""
        with self.lock:
            self.bridges_route = False

    @_mutation
    def update_pipeline(self, project_id: int, pipeline_id: int, **fields: t.Any) -> Record:
        """A pipeline changes; a child's trigger job shows it (the parent itself does not change)."""
        with self.lock:
            d = self.data(project_id)
            pipeline = self._touch(d.pipeline_by_id[pipeline_id], **fields)
            parent_id = d.child_pipelines.get(pipeline_id)
            for bridge in d.bridges_by_pipeline.get(parent_id, []) if parent_id is not None else []:
                if bridge["downstream_pipeline"]["id"] == pipeline_id:
                    bridge["downstream_pipeline"] = _pipeline_basic(pipeline)
            return pipeline

    @_mutation
    def add_job(self, project_id: int, pipeline_id: int, **fields: t.Any) -> Record:
        with self.lock:
            d = self.data(project_id)
            pipeline = d.pipeline_by_id[pipeline_id]
            now = self._tick()
            epoch = parse_time(now) or NOW_EPOCH
            commit = next((c for c in d.commits if c["id"] == pipeline["sha"]), None)
            job = self._job(
                self._mutation_rng,
                self._new_id("jobs"),
                fields.pop("name", "test"),
                "test",
                "pending",
                pipeline["ref"],
                commit,
                pipeline,
                epoch,
                epoch,
                None,
                pipeline["user"],
                self.projects[project_id]["web_url"],
            )
            job.update(fields)
            d.jobs.insert(0, job)
            d.jobs_by_pipeline[pipeline_id].insert(0, job)
            pipeline["updated_at"] = now
            job["pipeline"]["updated_at"] = now
            return job


class DeploymentsModel:
    """Generating and changing a project's environments, deployments and CI/CD variables."""

    def _generate_environments_and_deployments(self, g: ProjectGen) -> None:
        """Environments and deployments."""
        project, counts, bases, rng, d, start, full, updated_from, people = (
            g.project,
            g.counts,
            g.bases,
            g.rng,
            g.d,
            g.start,
            g.full,
            g.updated_from,
            g.people,
        )
        env_names = ["production", "staging", *[f"review/{rng.choice(W.NOUNS)}-{k}" for k in range(1, 10)]]
        for k in range(counts["environments"]):
            name = env_names[k]
            created = rng.uniform(start, NOW_EPOCH - 30 * DAY)
            d.environments.append(
                {
                    "id": bases["environments"] + k + 1,
                    "name": name,
                    "slug": name.replace("/", "-")[:24],
                    "description": None if k else "Live site",
                    "external_url": f"https://{name.replace('/', '-')}.{project['path']}.example.com",
                    "state": "available" if k < 2 or rng.random() < 0.5 else "stopped",
                    "tier": {"production": "production", "staging": "staging"}.get(name, "development"),
                    "created_at": db_time(created),
                    "updated_at": db_time(updated_from(created)),
                    "enable_advanced_logs_querying": False,
                    "logs_api_path": f"/{full}/-/logs/k8s.json",
                    "auto_stop_at": None,
                    "auto_stop_setting": "always",
                    "cluster_agent": None,
                    "kubernetes_namespace": None,
                    "flux_resource_path": None,
                    "project": _basic_project_details(project),
                }
            )
        deploy_jobs = [j for j in d.jobs if j["stage"] == "deploy"] or d.jobs
        for k, created in enumerate(_times(rng, counts["deployments"], start + DAY, NOW_EPOCH - 3600)):
            env = d.environments[k % len(d.environments)] if d.environments else None
            job = deploy_jobs[rng.randrange(len(deploy_jobs))] if deploy_jobs and k % 5 else None
            status = rng.choices(
                ["success", "failed", "canceled", "running", "created", "blocked"], [75, 10, 5, 4, 3, 3]
            )[0]
            d.deployments.append(
                self._deployment(
                    rng,
                    bases["deployments"] + k + 1,
                    k + 1,
                    created,
                    updated_from(created),
                    status,
                    env,
                    job,
                    d,
                    people,
                )
            )

    def _generate_project_variables(self, g: ProjectGen) -> None:
        """Variables: a key defined once per environment scope."""
        counts, rng, d = g.counts, g.rng, g.d
        for k in range(counts["variables"]):
            key = f"{rng.choice(['DEPLOY', 'API', 'DB', 'CACHE'])}_{'TOKEN' if k % 2 else 'URL'}_{k // 2}"
            d.variables.append(self._variable(rng, key, "*"))
            if k == 0:
                d.variables.append(self._variable(rng, key, "production"))

    def _deployment(
        self,
        rng: random.Random,
        dep_id: int,
        iid: int,
        created: float,
        updated: float,
        status: str,
        env: Record | None,
        job: Record | None,
        d: ProjectData,
        people: list[int],
    ) -> Record:
        # `expose :deployable, using: Entities::Ci::Job` (lib/api/entities/deployment.rb): the job as the jobs
        # listing shows it.
        deployable = dict(job) if job is not None else None
        sha = job["commit"]["id"] if job and job["commit"] else (d.commits[0]["id"] if d.commits else "0" * 40)
        return {
            "id": dep_id,
            "iid": iid,
            "ref": job["ref"] if job else "main",
            "sha": sha,
            "created_at": db_time(created),
            "updated_at": db_time(updated),
            "status": status,
            "user": self.user_basic[rng.choice(people)],
            # Entities::EnvironmentBasic (lib/api/entities/environment_basic.rb)
            "environment": {key: env[key] for key in ("id", "name", "slug", "external_url", "created_at", "updated_at")}
            if env
            else None,
            "deployable": deployable,
        }

    @_mutation
    def create_deployment(self, project_id: int, **fields: t.Any) -> Record:
        with self.lock:
            d = self.data(project_id)
            now = self._tick()
            epoch = parse_time(now) or NOW_EPOCH
            env = d.environments[0] if d.environments else None
            dep = self._deployment(
                self._mutation_rng,
                self._new_id("deployments"),
                len(d.deployments) + 1,
                epoch,
                epoch,
                "created",
                env,
                None,
                d,
                [1],
            )
            dep.update(created_at=now, updated_at=now, **fields)
            d.deployments.append(dep)
            return dep


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", _P + "/pipelines", "pipelines"),
    ("GET", _P + r"/pipelines/(?P<pipeline>\d+)", "pipeline"),
    ("GET", _P + r"/pipelines/(?P<pipeline>\d+)/jobs", "pipeline_jobs"),
    ("GET", _P + r"/pipelines/(?P<pipeline>\d+)/bridges", "pipeline_bridges"),
    ("GET", _P + r"/pipelines/(?P<pipeline>\d+)/trigger_jobs", "pipeline_trigger_jobs"),
    ("GET", _P + "/jobs", "project_jobs"),
    ("GET", _P + "/deployments", "deployments"),
    ("GET", _P + "/environments", "environments"),
    ("GET", _P + "/variables", "project_variables"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {
    "pipelines": "pipelines",
    "pipeline": "pipelines",
    "pipeline_jobs": "pipelines",
    "pipeline_bridges": "pipelines",
    "pipeline_trigger_jobs": "pipelines",
    "project_jobs": "jobs",
    "deployments": "deployments",
    "environments": "environments",
    "project_variables": "variables",
}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset(
    {"pipelines", "project_jobs", "pipeline_jobs", "pipeline_bridges", "pipeline_trigger_jobs", "deployments"}
)


class CiRoutes:
    """The pipelines, jobs, trigger jobs, deployments, environments and project variables endpoints."""

    def h_pipelines(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "pipelines")
        pipelines = d.pipelines
        if req.q.get("source") != "parent_pipeline" and not self.ds.child_pipelines_listed:
            pipelines = [p for p in pipelines if p["source"] != "parent_pipeline"]  # hidden since 17.0 (§6.8)
        scope = req.q.get("scope")
        if scope:
            groups = {
                "running": {"running"},
                "pending": {"pending"},
                "finished": {"success", "failed", "canceled", "skipped"},
            }
            if scope in groups:
                pipelines = [p for p in pipelines if p["status"] in groups[scope]]
            elif scope == "tags":
                pipelines = [p for p in pipelines if p["tag"]]
            elif scope == "branches":
                pipelines = [p for p in pipelines if not p["tag"]]
            else:
                raise invalid("scope")
        for name in ("status", "ref", "sha", "source", "name"):
            if req.q.get(name):
                pipelines = [p for p in pipelines if p[name] == req.q[name]]
        if req.q.get("username"):
            pipelines = [p for p in pipelines if p["user"] and p["user"]["username"] == req.q["username"]]
        pipelines = window(pipelines, req, "updated_at", "updated_after", "updated_before")
        pipelines = window(pipelines, req, "created_at", "created_after", "created_before")
        by = req.q.get("order_by") or "id"
        sort = req.q.get("sort") or "desc"
        if by not in ("id", "status", "ref", "updated_at", "user_id") or sort not in ("asc", "desc"):
            by, sort = "id", "desc"  # unknown values fall back silently (§6.8, sort_items)
        if by == "user_id":
            ordered = sorted(pipelines, key=lambda p: ((p["user"] or {}).get("id", 0), p["id"]), reverse=sort == "desc")
        else:
            ordered = order(pipelines, by, sort)
        # `app/finders/ci/pipelines_finder.rb` `sort_items` is `items.order(order_by => sort)`: no id tie-break,
        # so pipelines with the same status, ref or updated_at come in another order on each request.
        return Listing(
            ordered,
            transform=pipeline_list_shape,
            transform_key="pipeline_list",
            order_field=by,
            unordered_ties=by in ("status", "ref", "updated_at"),
        )

    def h_pipeline(self, req: Request) -> Record:
        _pid, d = self._pfeature(req, "pipeline")
        pipeline = d.pipeline_by_id.get(int(req.params["pipeline"]))
        if pipeline is None:
            raise not_found("Pipeline")
        return pipeline

    @staticmethod
    def _job_scope(req: Request, jobs: list[Record]) -> list[Record]:
        scopes = set(req.arr("scope"))
        if scopes:
            jobs = [j for j in jobs if j["status"] in scopes]
        return jobs

    def h_pipeline_jobs(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "pipeline_jobs")
        jobs = d.jobs_by_pipeline.get(int(req.params["pipeline"]))
        if jobs is None:
            raise not_found("Pipeline")
        if not req.flag("include_retried", False):  # retried jobs hidden by default (§6.9)
            jobs = [j for j in jobs if j["id"] not in d.retried_jobs]
        return Listing(self._job_scope(req, jobs))

    def h_pipeline_trigger_jobs(self, req: Request) -> Listing:
        """A pipeline's trigger jobs (bridges), newest first; `/trigger_jobs` since 19.2 (§6.9)."""
        _pid, d = self._pfeature(req, "pipeline_trigger_jobs")
        bridges = d.bridges_by_pipeline.get(int(req.params["pipeline"]))
        if bridges is None:
            raise not_found("Pipeline")
        return Listing(self._job_scope(req, bridges))

    def h_pipeline_bridges(self, req: Request) -> Listing:
        """The same under its older name, deprecated in 19.2; gone when the dataset plays a later GitLab."""
        if not self.ds.bridges_route:
            raise ApiError(404, {"error": "404 Not Found"})  # Grape's answer to an unknown route
        return self.h_pipeline_trigger_jobs(req)

    def h_project_jobs(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "project_jobs")
        jobs = self._job_scope(req, d.jobs)
        by = req.q.get("order_by") or "id"
        sort = req.q.get("sort") or "desc"
        if req.q.get("pagination") == "keyset" and (by != "id" or sort != "desc"):
            raise KEYSET_UNSUPPORTED  # project jobs: keyset with order_by=id&sort=desc only (§3.2)
        if sort == "asc":
            jobs = list(reversed(jobs))
        return Listing(list(jobs), cap_type="Ci::Build", keyset="cursor", order_field="id", sort=sort)

    def h_deployments(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "deployments")
        deps = d.deployments
        by = choice(req, "order_by", ("id", "iid", "created_at", "updated_at", "finished_at", "ref"), "id")
        sort = sort_param(req, "asc")  # deployments default to asc (§6.19)
        updated = bool(req.q.get("updated_after") or req.q.get("updated_before"))
        finished = bool(req.q.get("finished_after") or req.q.get("finished_before"))
        # The finder's InefficientQueryError, answered as 400 (§6.19).
        if updated and finished:
            raise bad_request("Both `updated_at` filter and `finished_at` filter can not be specified")
        if updated and by != "updated_at":
            raise bad_request("`updated_at` filter requires `updated_at` sort")
        if finished and by != "finished_at":
            raise bad_request("`finished_at` filter requires `finished_at` sort.")
        if finished and req.q.get("status") != "success":
            raise bad_request("`finished_at` filter must be combined with `success` status filter.")
        if req.q.get("environment"):
            deps = [x for x in deps if x["environment"] and x["environment"]["name"] == req.q["environment"]]
        if req.q.get("status"):
            if req.q["status"] not in ("created", "running", "success", "failed", "canceled", "blocked"):
                raise invalid("status")
            deps = [x for x in deps if x["status"] == req.q["status"]]
        deps = window(deps, req, "updated_at", "updated_after", "updated_before")
        if by == "finished_at":
            low, high = req.time("finished_after"), req.time("finished_before")
            deps = [
                x
                for x in deps
                if x["deployable"]
                and x["deployable"]["finished_at"]
                and (low is None or x["deployable"]["finished_at"] >= low)
                and (high is None or x["deployable"]["finished_at"] <= high)
            ]
            ordered = sorted(deps, key=lambda x: (x["deployable"]["finished_at"], x["id"]), reverse=sort == "desc")
        else:
            ordered = order(deps, by, sort)
        return Listing(ordered)

    def h_environments(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "environments")
        envs = d.environments
        if req.q.get("name"):
            envs = [e for e in envs if e["name"] == req.q["name"]]
        if req.q.get("search"):
            envs = [e for e in envs if req.q["search"] in e["name"]]
        if req.q.get("states"):
            envs = [e for e in envs if e["state"] == req.q["states"]]
        return Listing(order(envs, "id", "asc"))

    def h_project_variables(self, req: Request) -> Listing:
        _pid, d = self._pfeature(req, "project_variables")
        variables = d.variables
        scope = req.q.get("filter[environment_scope]")
        if scope:
            variables = [v for v in variables if v["environment_scope"] == scope]
        return Listing(list(variables))
