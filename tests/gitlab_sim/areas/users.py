"""Users and the instance: the token's user, the user list, the version.

Models gitlabhq lib/api/users.rb (`GET /user`, `GET /users`), lib/api/entities/user_basic.rb, user_public.rb and
user.rb, and lib/api/version.rb / lib/api/metadata.rb (`GET /version`, `GET /metadata`).
"""

from __future__ import annotations

import random

from tests.gitlab_sim import words as W
from tests.gitlab_sim.api import Listing, Record, Request, choice, order, sort_param, window
from tests.gitlab_sim.model import WEB
from tests.gitlab_sim.util import DAY, NOW_EPOCH, date_only, db_time


class UsersModel:
    """Planning the instance's users (Entities::UserBasic and friends)."""

    def _plan_users(self, rng: random.Random, count: int) -> None:
        start = NOW_EPOCH - 900 * DAY
        for uid in range(1, count + 1):
            if uid == 1:
                first, last, username = "Administrator", "", "root"
                name = "Administrator"
            else:
                first, last = rng.choice(W.FIRST), rng.choice(W.LAST)
                username = f"{first.lower()}.{last.lower().replace('-', '')}{uid}"
                name = f"{first} {last}"
            created = start + rng.random() * 700 * DAY
            state = "blocked" if uid > 1 and rng.random() < 0.03 else "active"
            basic = {
                "id": uid,
                "username": username,
                "name": name,
                "state": state,
                "locked": False,
                "avatar_url": f"{WEB}/uploads/-/system/user/avatar/{uid}/avatar.png" if uid % 3 else None,
                "web_url": f"{WEB}/{username}",
            }
            full = {
                **basic,
                "created_at": db_time(created),
                "bio": "" if uid % 4 else f"Works on {rng.choice(W.NOUNS)}s.",
                "location": rng.choice(["", "Berlin", "Lagos", "Tokyo", "Lima", "Toronto", "Pune"]),
                "public_email": "" if uid % 5 else f"{username}@example.com",
                "skype": "",
                "linkedin": "",
                "twitter": "",
                "discord": "",
                "github": "",
                "website_url": "",
                "organization": rng.choice(["", "Example Corp", "ACME"]),
                "job_title": rng.choice(["", "Engineer", "SRE", "Product Manager", "Designer"]),
                "pronouns": None,
                "bot": False,
                "work_information": None,
                "followers": 0,
                "following": 0,
                "is_followed": False,
                "local_time": None,
                "last_sign_in_at": db_time(created + rng.random() * (NOW_EPOCH - created)),
                "confirmed_at": db_time(created + 60),
                "last_activity_on": date_only(NOW_EPOCH - rng.random() * 60 * DAY),
                "email": f"{username}@example.com",
                "theme_id": 1,
                "color_scheme_id": 1,
                "projects_limit": 100000,
                "current_sign_in_at": db_time(NOW_EPOCH - rng.random() * 30 * DAY),
                "identities": [],
                "can_create_group": True,
                "can_create_project": True,
                "two_factor_enabled": uid % 2 == 0,
                "external": False,
                "private_profile": False,
                "commit_email": f"{username}@example.com",
                "is_admin": uid == 1,
                "note": None,
                "namespace_id": 100000 + uid,
                "created_by": None,
                "email_reset_offered_at": None,
                "is_auditor": False,
                "using_license_seat": state == "active",
                "provisioned_by_group_id": None,
                "current_sign_in_ip": "10.0.0.1",
                "last_sign_in_ip": "10.0.0.1",
            }
            self.users.append(full)
            self.users_by_id[uid] = full
            self.user_basic[uid] = basic


# The area's endpoints: (method, path under /api/v4, route name); `Routes.dispatch` calls `h_<name>`.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/user", "user"),
    ("GET", "/version", "version"),
    ("GET", "/metadata", "version"),
    ("GET", "/users", "users"),
]
# The project feature a route belongs to (sim.forbid(project, feature) -> 403 there).
FEATURES: dict[str, str] = {}
# The listings the server may cache until the dataset changes (`Routes.dispatch`).
CACHEABLE: frozenset[str] = frozenset({"users"})


class UsersRoutes:
    """`/user`, `/users`, `/version` and `/metadata`."""

    def h_user(self, req: Request) -> Record:
        user = self.ds.users_by_id[1]
        return {
            **user,
            "followers": 0,
            "following": 0,
            "is_followed": False,
            "preferred_language": "en",
            "scim_identities": [],
            "two_factor_enabled": True,
        }

    def h_version(self, req: Request) -> Record:
        version = "16.11.10" if self.ds.child_pipelines_listed else "17.11.1"
        return {
            "version": f"{version}-ee",
            "revision": "5a1b2c3d4e5",
            "kas": {"enabled": True, "externalUrl": None, "externalK8sProxyUrl": None, "version": version},
            "enterprise": True,
        }

    def h_users(self, req: Request) -> Listing:
        users = self.ds.users
        if req.q.get("username"):
            users = [u for u in users if u["username"].lower() == req.q["username"].lower()]
        if req.q.get("search"):
            s = req.q["search"].lower()
            users = [
                u for u in users if s in u["username"].lower() or s in u["name"].lower() or s in u["email"].lower()
            ]
        if req.flag("active"):
            users = [u for u in users if u["state"] == "active"]
        if req.flag("blocked"):
            users = [u for u in users if u["state"] == "blocked"]
        if req.flag("external"):
            users = [u for u in users if u["external"]]
        users = window(users, req, "created_at", "created_after", "created_before")
        by = choice(req, "order_by", ("id", "name", "username", "created_at", "updated_at"), "id")
        sort = sort_param(req, "desc")
        field_name = "created_at" if by == "updated_at" else by
        return Listing(
            order(users, field_name, sort), cap_type="User", keyset="cursor", order_field=field_name, sort=sort
        )
