"""Every stream's schema accepts GitLab's documented example objects for its resource, with real types.

The fixtures in `tests/unit/fixtures/gitlab_examples/<stream>.json` are the example responses of GitLab's REST API
documentation for each resource (list, single-object and Premium/Ultimate variants). Each is shaped the way the
tap would shape it (the ids `transform` adds and, for fan-out children, the parent fields), then:

- validated against the stream's schema (Draft 7) with strict `date-time` and `date` format checking;
- checked field by field: no key of the object is missing from the schema, at any depth where the schema lists
  properties, because the SDK drops what the schema does not declare.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing as t
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import FormatError, ValidationError

from tap_gitlab.conform import is_credential
from tap_gitlab.readers import project_fields, scope_records
from tap_gitlab.spec import StreamSpec
from tap_gitlab.streams import SPECS

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tap_gitlab" / "schemas"
FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "gitlab_examples"

STREAMS = SPECS

# The partition a fixture object is read in, and the parent a fan-out child hangs off.
PROJECT_ID = 4242
GROUP_ID = 4343
PARENT = {"id": 777, "iid": 12, "project_id": PROJECT_ID, "updated_at": "2024-01-31T12:00:00.000Z"}

# Where a documentation example disagrees with GitLab's code, the code wins: (stream, field) -> the value GitLab
# really sends for the documented one.
ERRATA: dict[tuple[str, str], dict[t.Any, t.Any]] = {
    # The epics example quotes `"confidential": "false"`; the column is a boolean (the migration that added it:
    # `add_column_with_default(:epics, :confidential, :boolean, default: false)`), exposed as it is.
    ("epics", "confidential"): {"false": False, "true": True},
}

# -- strict formats (rfc3339-validator is not installed, so jsonschema would not check date-time) -----------------

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    return True


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        raise ValueError(f"not a full-date: {value!r}")
    dt.date.fromisoformat(value)
    return True


# -- helpers ----------------------------------------------------------------------------------------------------


def load_schema(name: str) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads((SCHEMAS / f"{name}.json").read_text()))


def load_fixture(name: str) -> list[dict[str, t.Any]]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    assert isinstance(data, list) and data, f"{name}: the fixture must be a non-empty list of objects"
    return data


def context_for(stream: StreamSpec) -> dict[str, t.Any] | None:
    if stream.scope == "group":
        return {"group_id": GROUP_ID}
    if stream.scope == "project":
        return {"project_id": PROJECT_ID}
    return None  # instance-wide, or the scope's own groups and projects


def shape_like_the_tap(stream: StreamSpec, api_object: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The records the tap makes of one API object, mirroring tap_gitlab/readers (`records.shape`, `fan_out`)."""
    obj = json.loads(json.dumps(api_object))  # a deep copy
    for (name, field), values in ERRATA.items():
        if name == stream.name and obj.get(field) in values:
            obj[field] = values[obj[field]]
    if stream.reader is scope_records.read:
        return [obj]  # groups and projects are emitted as the scope resolution read them
    context = context_for(stream)
    if stream.parent:
        extras = {field: PARENT.get(source) for field, source in stream.parent.fields.items()}
        obj = {**obj, **extras}
    key = "group_id" if stream.scope == "group" else "project_id"
    if context and key in context:
        obj.setdefault(key, context[key])
    if stream.reader is project_fields.languages:
        # `{language: percent}` becomes one row per language
        return [
            {"project_id": obj["project_id"], "name": name, "percent": float(percent)}
            for name, percent in obj.items()
            if name != "project_id"
        ]
    return [obj]


def records_for(name: str) -> list[dict[str, t.Any]]:
    stream = STREAMS[name]
    return [record for api_object in load_fixture(name) for record in shape_like_the_tap(stream, api_object)]


def types_of(schema: dict[str, t.Any]) -> list[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def undeclared_fields(value: t.Any, schema: dict[str, t.Any], path: str = "") -> list[str]:
    """Keys the SDK would drop: present in the object but absent from the schema's properties."""
    missing: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        for key, item in value.items():
            if key in properties:
                missing.extend(undeclared_fields(item, properties[key], f"{path}.{key}"))
            elif is_credential(key):
                continue  # never emitted, on purpose (tap_gitlab/conform.py)
            elif not schema.get("additionalProperties"):
                missing.append(f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            missing.extend(undeclared_fields(item, schema["items"], f"{path}[{index}]"))
    return missing


def all_property_schemas(schema: dict[str, t.Any]) -> t.Iterator[dict[str, t.Any]]:
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from all_property_schemas(sub)
    if isinstance(schema.get("items"), dict):
        yield from all_property_schemas(schema["items"])


NAMES = sorted(STREAMS)

# -- tests --------------------------------------------------------------------------------------------------------


def test_every_stream_has_a_schema_and_a_fixture_and_nothing_else():
    assert len(NAMES) == 41
    assert {p.stem for p in SCHEMAS.glob("*.json")} == set(NAMES)
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft7_object_schema(name):
    schema = load_schema(name)
    Draft7Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["properties"], name
    assert "additionalProperties" not in schema, "the top level lists every field instead"
    for sub in all_property_schemas(schema):
        assert sub.get("type"), f"{name}: every property has a type: {sub}"
        if "object" in types_of(sub):
            assert "properties" in sub or sub.get("additionalProperties"), f"{name}: open object needs a marker"
        if "array" in types_of(sub):
            assert isinstance(sub.get("items"), dict), f"{name}: arrays declare their items"


@pytest.mark.parametrize("name", NAMES)
def test_keys_are_declared_and_not_nullable(name):
    stream = STREAMS[name]
    properties = load_schema(name)["properties"]
    for key in stream.keys:
        assert key in properties, f"{name}: primary key {key} is not in the schema"
        assert "null" not in types_of(properties[key]), f"{name}: primary key {key} must not be nullable"
    if stream.replication_key:
        assert stream.replication_key in properties, f"{name}: replication key is not in the schema"
        assert properties[stream.replication_key].get("format") == "date-time"


@pytest.mark.parametrize("name", NAMES)
def test_documented_examples_validate_with_formats(name):
    validator = Draft7Validator(load_schema(name), format_checker=FORMATS)
    for index, record in enumerate(records_for(name)):
        errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
        assert not errors, f"{name}[{index}]: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )


@pytest.mark.parametrize("name", NAMES)
def test_no_documented_field_is_dropped(name):
    schema = load_schema(name)
    for index, record in enumerate(records_for(name)):
        assert undeclared_fields(record, schema) == [], f"{name}[{index}]"


@pytest.mark.parametrize("name", NAMES)
def test_records_carry_their_keys(name):
    stream = STREAMS[name]
    for record in records_for(name):
        for key in stream.keys:
            assert record.get(key) is not None, f"{name}: {key} missing from a shaped record"


def test_fan_out_children_get_their_parent_fields():
    (note,) = shape_like_the_tap(STREAMS["issue_notes"], load_fixture("issue_notes")[0])
    assert (note["project_id"], note["issue_iid"], note["issue_updated_at"]) == (PROJECT_ID, 12, PARENT["updated_at"])
    (issue,) = shape_like_the_tap(STREAMS["epic_issues"], load_fixture("epic_issues")[0])
    assert (issue["group_id"], issue["epic_id"], issue["epic_iid"]) == (GROUP_ID, 777, 12)
    (job,) = shape_like_the_tap(STREAMS["jobs"], load_fixture("jobs")[0])
    assert (job["project_id"], job["pipeline_id"], job["pipeline_updated_at"]) == (
        PROJECT_ID,
        777,
        PARENT["updated_at"],
    )
    rows = records_for("languages")
    assert {row["name"] for row in rows} == {"Ruby", "JavaScript", "HTML", "CoffeeScript"}
    assert all(isinstance(row["percent"], float) for row in rows)


# -- the checks themselves catch what they are meant to catch --------------------------------------------------------


def test_format_checker_is_strict():
    FORMATS.check("2016-01-04T15:31:46.176Z", "date-time")
    FORMATS.check("2012-05-28T04:42:42-07:00", "date-time")
    FORMATS.check("2013-11-29", "date")
    for bad, fmt in [
        ("2016-07-22", "date-time"),
        ("2016-01-04 15:31:46", "date-time"),
        ("2016-13-40T00:00:00Z", "date-time"),
        ("2016-01-04T15:31:46.176Z", "date"),
        ("yesterday", "date"),
    ]:
        with pytest.raises(FormatError):
            FORMATS.check(bad, fmt)


def test_wrong_types_and_unknown_fields_are_caught():
    schema = load_schema("issues")
    validator = Draft7Validator(schema, format_checker=FORMATS)
    record = records_for("issues")[0]
    with pytest.raises(ValidationError):
        validator.validate({**record, "id": "41"})
    with pytest.raises(ValidationError):
        validator.validate({**record, "due_date": "2016-07-22T00:00:00Z"})
    with pytest.raises(ValidationError):
        validator.validate({**record, "labels": "foo,bar"})
    assert undeclared_fields({**record, "surprise": 1}, schema) == [".surprise"]
    nested = {**record, "time_stats": {**record["time_stats"], "surprise": 1}}
    assert undeclared_fields(nested, schema) == [".time_stats.surprise"]
