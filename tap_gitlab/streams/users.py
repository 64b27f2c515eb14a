"""Instance-wide users (opt-in: on gitlab.com this is every user of the site)."""

from __future__ import annotations

import typing as t

from tap_gitlab.streams.base import GitLabStream


class SiteUsersStream(GitLabStream):
    name = "site_users"
    scope = "instance"
    path = "/users"
    # Offset pagination stops at 50,000 users; keyset does not.
    params: t.ClassVar[dict[str, t.Any]] = {"pagination": "keyset", "order_by": "id", "sort": "asc"}
    opt_in_setting = "fetch_site_users"
