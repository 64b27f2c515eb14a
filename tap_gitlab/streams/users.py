"""Instance-wide users (opt-in: on gitlab.com this is every user of the site)."""

from __future__ import annotations

from tap_gitlab.paginators import KeysetPaginator
from tap_gitlab.readers import listing
from tap_gitlab.spec import StreamSpec

SITE_USERS = StreamSpec(
    name="site_users",
    reader=listing.read,
    scope="instance",
    path="/users",
    # Offset pagination stops at 50,000 users; keyset does not.
    paginator=KeysetPaginator(order_by="id", sort="asc"),
    opt_in="fetch_site_users",
)
