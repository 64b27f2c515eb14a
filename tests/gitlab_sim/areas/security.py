"""Security: a project's vulnerabilities (Ultimate).

Models gitlabhq ee/lib/api/vulnerabilities.rb (`GET /projects/:id/vulnerabilities`) and
ee/lib/api/entities/vulnerability.rb.
"""

from __future__ import annotations

import random

from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import _P, FORBIDDEN, Listing, Record, Request, order
from tests.gitlab_sim.model import ProjectGen, _sentence, _times
from tests.gitlab_sim.util import DAY, NOW_EPOCH, db_time


class SecurityModel:
    """Generating a project's vulnerabilities."""

    def _generate_vulnerabilities(self, g: ProjectGen) -> None:
        """Vulnerabilities (Ultimate)."""
        project, counts, bases, rng, d, start, updated_from, people = (
            g.project,
            g.counts,
            g.bases,
            g.rng,
            g.d,
            g.start,
            g.updated_from,
            g.people,
        )
        for k, created in enumerate(_times(rng, counts["vulnerabilities"], start, NOW_EPOCH - DAY)):
            d.vulnerabilities.append(
                self._vulnerability(
                    rng, bases["vulnerabilities"] + k + 1, project, created, updated_from(created), people
                )
            )

    def _vulnerability(
        self, rng: random.Random, vid: int, project: Record, created: float, updated: float, people: list[int]
    ) -> Record:
        state = rng.choice(["detected", "confirmed", "resolved", "dismissed"])
        severity = rng.choice(["critical", "high", "medium", "low", "info", "unknown"])
        return {
            "id": vid,
            "title": f"{rng.choice(['SQL injection', 'XSS', 'Outdated dependency', 'Weak hash'])} in "
            f"{rng.choice(W.NOUNS)}",
            "description": _sentence(rng),
            "state": state,
            "severity": severity,
            "confidence": "unknown",
            "report_type": rng.choice(["sast", "dependency_scanning", "secret_detection", "container_scanning"]),
            "project": {
                "id": project["id"],
                "name": project["name"],
                "full_path": project["path_with_namespace"],
                "full_name": project["name_with_namespace"],
            },
            "project_default_branch": "main",
            "author_id": rng.choice(people),
            "updated_by_id": None,
            "last_edited_by_id": None,
            "closed_by_id": None,
            "start_date": None,
            "due_date": None,
            "created_at": db_time(created),
            "updated_at": db_time(updated),
            "last_edited_at": None,
            "closed_at": None,
            "resolved_by_id": None,
            "resolved_at": db_time(updated) if state == "resolved" else None,
            "resolved_on_default_branch": state == "resolved",
            "dismissed_by_id": None,
            "dismissed_at": db_time(updated) if state == "dismissed" else None,
            "confirmed_by_id": None,
            "confirmed_at": db_time(updated) if state == "confirmed" else None,
            "state_transitions": [],
        }


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", _P + "/vulnerabilities", "vulnerabilities"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {
    "vulnerabilities": "vulnerabilities",
}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset()


class SecurityRoutes:
    """`/projects/:id/vulnerabilities`."""

    def h_vulnerabilities(self, req: Request) -> Listing:
        pid, d = self._pfeature(req, "vulnerabilities")
        if self.ds.top_group_of(self.ds.projects[pid]["namespace"]["id"]) not in self.ds.ultimate:
            raise FORBIDDEN  # Ultimate only
        return Listing(order(d.vulnerabilities, "id", "desc"))
