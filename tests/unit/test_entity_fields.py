"""Every stream's schema covers the fields GitLab's API entities expose, with GitLab's types.

The field lists are in `tap_gitlab/entity_fields.json`, read from GitLab's Rails source (`lib/api/entities/`)
at the commit named per entity. A schema may declare more (EE fields, fields of other GitLab versions); it
may not miss one, type it otherwise, give it more than one type, or declare a credential.
"""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest

from tap_gitlab.conform import is_credential
from tap_gitlab.streams import STREAMS
from tap_gitlab.streams.base import load_schema

FIELDS = json.loads((Path(__file__).resolve().parents[2] / "tap_gitlab" / "entity_fields.json").read_text())
SCHEMAS = {spec.name: load_schema(spec.name) for spec in STREAMS}
# GitLab's type -> the JSON Schema type a record carries it as (besides null), and the format if any.
JSON_TYPE = {
    "string": ("string", None),
    "date-time": ("string", "date-time"),
    "date": ("string", None),
    "integer": ("integer", None),
    "number": ("number", None),
    "boolean": ("boolean", None),
    "object": ("object", None),
    "array": ("array", None),
}


def entity_fields(name: str) -> dict[str, str]:
    """An entity's fields with its parents' (lib/api/entities: `class Project < ProjectDetails`)."""
    entity = FIELDS["entities"][name]
    fields = dict(entity_fields(entity["parent"])) if entity["parent"] else {}
    fields.update(entity["fields"])
    return fields


def mismatches(properties: dict[str, t.Any], fields: dict[str, str]) -> list[str]:
    problems = []
    for name, gitlab_type in fields.items():
        if is_credential(name):
            continue  # never emitted: checked below to be absent
        schema = properties.get(name)
        if schema is None:
            problems.append(f"{name}: missing ({gitlab_type})")
            continue
        types = schema.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        expected, fmt = JSON_TYPE[gitlab_type]
        if [kind for kind in types if kind != "null"] != [expected] or (fmt and schema.get("format") != fmt):
            problems.append(f"{name}: GitLab sends {gitlab_type}, the schema says {types} {schema.get('format')}")
    return problems


def walk(schema: dict[str, t.Any], path: str) -> t.Iterator[tuple[str, dict[str, t.Any]]]:
    for name, sub in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", sub
        yield from walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")


@pytest.mark.parametrize("stream", sorted(FIELDS["streams"]))
def test_schema_covers_every_field_of_its_gitlab_entity_with_gitlabs_type(stream):
    info = FIELDS["streams"][stream]
    assert stream in SCHEMAS, f"entity_fields.json names a stream the tap does not have: {stream}"
    assert mismatches(SCHEMAS[stream]["properties"], info["fields"]) == []


@pytest.mark.parametrize("stream", sorted(FIELDS["nested"]))
def test_objects_gitlab_renders_with_an_entity_inside_records_carry_that_entitys_fields(stream):
    for path, entity in FIELDS["nested"][stream].items():
        schema = SCHEMAS[stream]["properties"][path.removesuffix("[]")]
        if path.endswith("[]"):
            schema = schema["items"]
        assert mismatches(schema.get("properties") or {}, entity_fields(entity)) == [], f"{stream}.{path}"


def test_the_gitlab_field_list_is_the_resolved_entity_for_each_stream():
    for stream, info in FIELDS["streams"].items():
        if info["entity"] in FIELDS["entities"]:
            assert set(entity_fields(info["entity"])) - set(info["fields"]) <= {"projects", "shared_projects"}, stream


def test_every_entity_names_the_gitlab_source_file_and_commit_it_was_read_at():
    for name, entity in FIELDS["entities"].items():
        assert entity["file"].startswith(("lib/api/entities/", "ee/lib/api/entities/", "ee/lib/ee/api/")), name
        assert entity["file"].endswith(".rb"), name
        # The commit read at; or, for a file the index holds without naming its commit, how it was found.
        assert re.fullmatch(r"[0-9a-f]{40}", entity["commit"] or "") or entity.get("found"), name
        assert entity["parent"] is None or entity["parent"] in FIELDS["entities"], name


def test_every_stream_of_the_tap_is_either_surveyed_or_listed_as_not_yet_surveyed():
    named = set(FIELDS["streams"]) | set(FIELDS["not_surveyed"])
    assert {spec.name for spec in STREAMS} <= named
    assert len(set(FIELDS["streams"]) - set(FIELDS["not_surveyed"])) >= 23


def test_no_schema_declares_a_credential_field():
    found = [
        f"{stream}{path}"
        for stream, schema in SCHEMAS.items()
        for path, _ in walk(schema, "")
        if is_credential(path.rsplit(".", 1)[-1].removesuffix("[]"))
    ]
    assert found == []
    assert {"runners_token"} <= set(FIELDS["credentials"])


def test_no_field_of_any_schema_has_more_than_one_type_besides_null():
    found = []
    for stream, schema in SCHEMAS.items():
        for path, sub in walk(schema, stream):
            types = sub.get("type")
            if isinstance(types, list) and len([kind for kind in types if kind != "null"]) > 1:
                found.append(f"{path}: {types}")
            if "anyOf" in sub or "oneOf" in sub:
                found.append(f"{path}: a union")
    assert found == []


def test_the_fields_issue_10_found_missing_are_declared_with_gitlabs_types():
    props = {name: schema["properties"] for name, schema in SCHEMAS.items()}
    assert props["projects"]["build_git_strategy"]["type"] == ["string", "null"]
    assert props["epics"]["web_edit_url"]["type"] == ["string", "null"]
    assert props["issue_notes"]["commands_changes"]["type"] == ["object", "null"]
    assert props["merge_request_notes"]["commands_changes"]["type"] == ["object", "null"]
    assert "path_with_namespace" in props["environments"]["project"]["properties"]
    assert props["pipelines_extended"]["duration"]["type"] == ["number", "null"]
    assert props["jobs"]["duration"]["type"] == ["number", "null"]
