"""Repository streams: branches, tags, commits, releases."""

from __future__ import annotations

from tap_gitlab.readers import commits, listing
from tap_gitlab.readers.commits import BRANCHES_PATH
from tap_gitlab.spec import StreamSpec

BRANCHES = StreamSpec(name="branches", reader=listing.read, path=BRANCHES_PATH, keys=("project_id", "name"))
TAGS = StreamSpec(
    name="tags", reader=listing.read, path="/projects/{project_id}/repository/tags", keys=("project_id", "name")
)
RELEASES = StreamSpec(
    name="releases",
    reader=listing.read,
    path="/projects/{project_id}/releases",
    keys=("project_id", "tag_name"),  # releases have no id
)

# Commits of the default branch (or every branch), as revision ranges from the heads last read
# (readers/commits.py): `since` is not a bookmark filter.
COMMITS = StreamSpec(
    name="commits",
    reader=commits.read,
    path="/projects/{project_id}/repository/commits",
    # The same commit can be in several projects (forks): the key includes the project.
    keys=("project_id", "id"),
    params={"with_stats": "true"},
    replication_key="committed_date",
    doc_note="each branch read as `ref_name=<head last read>..<head>`, not by `since` (see Commits)",
)
