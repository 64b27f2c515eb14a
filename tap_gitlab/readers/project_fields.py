"""Per-project objects reshaped into rows: a project's languages, and its README."""

from __future__ import annotations

import base64
import binascii
import typing as t
from urllib.parse import quote, unquote

from tap_gitlab.errors import ResourceUnavailable
from tap_gitlab.readers import listing
from tap_gitlab.readers.records import shape
from tap_gitlab.spec import Batch

if t.TYPE_CHECKING:
    from tap_gitlab.bookmarks import Bookmark
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Partition, Record, StreamSpec


def languages(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    """GitLab answers one {language: percent} object; a row per language is what tables want."""
    for batch in listing.read(spec, run, partition, bookmark):
        rows: list[Record] = []
        for record in batch.records:
            rows.extend(
                {"project_id": record["project_id"], "name": name, "percent": float(percent)}
                for name, percent in record.items()
                if name != "project_id"
            )
        batch.records = rows
        yield batch


def readme(spec: StreamSpec, run: RunContext, partition: Partition, bookmark: Bookmark) -> t.Iterator[Batch]:
    """Each project's README: the file GitLab shows on the project page, at the default branch.

    The project record already says whether there is one and which file it is (`readme_url`), so a project
    without a README costs no request, and README.rst or readme.txt are found as well as README.md.
    `content` is the file's text: GitLab sends it base64-encoded, and `encoding` then says "text". A README
    that is not UTF-8 keeps GitLab's base64 `content` and `encoding`.
    """
    context = partition.context
    project = run.scope.projects.get(int(context["project_id"]), {})
    file_path = readme_path(project)
    if file_path is None:
        yield Batch([])  # no README (or an empty repository): nothing to ask
        return
    path = f"/projects/{context['project_id']}/repository/files/{quote(file_path, safe='')}"
    try:
        found = run.client.get_object(path, {"ref": project["default_branch"]})
    except ResourceUnavailable as exc:
        if exc.status != 404:
            raise
        yield Batch([])  # removed since the project was read
        return
    record = shape(spec, run, readme_as_text(found), context) if isinstance(found, dict) else None
    yield Batch([record] if record is not None else [])


def readme_path(project: Record) -> str | None:
    """The README's path in the repository, from `readme_url` (`<web_url>/-/blob/<default branch>/<path>`)."""
    url, web, branch = project.get("readme_url"), project.get("web_url"), project.get("default_branch")
    if not (isinstance(url, str) and isinstance(web, str) and isinstance(branch, str)):
        return None
    prefix = f"{web}/-/blob/{branch}/"
    if url.startswith(prefix):
        return unquote(url[len(prefix) :]) or None
    return None


def readme_as_text(file: Record) -> Record:
    """GitLab's file object with its base64 `content` decoded, when it is UTF-8 text."""
    if file.get("encoding") != "base64" or not isinstance(file.get("content"), str):
        return file
    try:
        text = base64.b64decode(file["content"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return file
    return {**file, "content": text, "encoding": "text"}
