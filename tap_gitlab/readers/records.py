"""What every reader does to one API object: drop it if another partition emits it, and give it its ids."""

from __future__ import annotations

import typing as t

from tap_gitlab.spec import splits_hidden

if t.TYPE_CHECKING:
    from tap_gitlab.context import RunContext
    from tap_gitlab.spec import Context, Record, StreamSpec


def is_hidden(spec: StreamSpec, run: RunContext, record: Record, context: Context) -> bool:
    """A record of the hidden partition met in the default one (GitLab versions that list it there too)."""
    if not splits_hidden(spec, run.settings):
        return False
    assert spec.hidden
    param, value = spec.hidden.param, spec.hidden.value
    if param in context:
        return False
    within = (record.get(spec.hidden.within) or {}) if spec.hidden.within else {}
    return record.get(param) == value or within.get(param) == value


def shape(spec: StreamSpec, run: RunContext, record: Record, context: Context) -> Record | None:
    """One API object as a record: adds `project_id` or `group_id`; None when this partition does not emit it."""
    if is_hidden(spec, run, record, context):
        return None  # the other partition emits it
    key = "group_id" if spec.scope == "group" else "project_id"
    if key in context:
        record.setdefault(key, context[key])
    elif spec.scope == "project" and record.get("project_id") not in run.scope.projects:
        return None  # a group-level listing reaching a project outside the selection (shared, excluded)
    return record
