"""Record conformance, compiled once per schema.

singer-sdk conforms every record to its stream's schema (recursively: booleans are made booleans, NaN becomes
null). It re-derives every property's schema kind for every value of every record, which was the largest CPU
cost of a sync (about 40% of the main thread, measured on the benchmark). `Conformer` does the same walk with
the per-property decisions made once per schema, and gives the same output for the same input (values that
are not plain JSON, a datetime, bytes, ..., and shapes it has no plan for go to singer-sdk's own functions),
with three differences, each decided here, in one place:

- a field the schema does not declare is carried as GitLab sent it (singer-sdk drops it), and named once per
  stream: in a warning when first seen and in the end-of-run summary (`unknown`). GitLab adds fields to its
  entities in every release; a record must not lose them until the schema catches up, and Flow documents
  carry every field GitLab sent;
- credentials are never emitted (`is_credential`, `scrub_url`): see `CREDENTIAL_FIELDS`;
- date-time values are UTC with milliseconds and a Z (`utc_timestamp`), the form bookmarks are stored in:
  GitLab's database timestamps already are, git dates (commits' `authored_date`, `committed_date`,
  `created_at`) keep each author's offset.
"""

from __future__ import annotations

import logging
import math
import typing as t
from urllib.parse import urlsplit, urlunsplit

from tap_gitlab import timestamps
from tap_gitlab.sdk_adapter import (
    conform_primitive_property,
    is_exclusive_boolean_type,
    is_object_type,
    is_uniform_list,
)

# Fields that hold a credential, dropped wherever they occur in a record (and kept out of every schema:
# tests/unit/test_entity_fields.py). GitLab's sources:
# - `runners_token`, the runner registration token: `API::Entities::Project` exposes it to users who can admin
#   the project (lib/api/entities/project.rb, `user_can_admin_project`: maintainers), and
#   `API::Entities::GroupDetail` to group owners (lib/api/entities/group_detail.rb, `user_can_admin_group`),
#   so `GET /projects/:id`, the project listings and `GET /groups/:id` return it to a maintainer's token;
# - the others are credentials GitLab holds elsewhere (runners' `token`, `registration_token`, deploy tokens,
#   `ci_job_token`, webhooks' `token`, `incoming_email_token`, passwords and secrets): no entity the tap reads
#   exposes them today, and any that starts to is dropped, not carried as an unknown field.
CREDENTIAL_FIELDS = frozenset(
    {
        "runners_token",
        "registration_token",
        "token",
        "ci_job_token",
        "incoming_email_token",
        "service_desk_incoming_email_token",
        "password",
        "secret",
        "private_key",
    }
)
_CREDENTIAL_SUFFIXES = ("_token", "_password", "_secret", "_private_key")
# URL fields can carry a user and password (a mirror's or an import's `import_url`: lib/api/entities/project.rb
# exposes the raw `project[:import_url]` column to admins, which older imports stored with credentials).
_URL_SUFFIX = "url"


def is_credential(name: str) -> bool:
    """Whether a field of this name holds a credential (never emitted)."""
    return name in CREDENTIAL_FIELDS or name.endswith(_CREDENTIAL_SUFFIXES)


def scrub_url(value: str) -> str:
    """`value` without a password in its authority (and without any user for http(s), where it is a token)."""
    if "@" not in value or "://" not in value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if "@" not in parts.netloc:
        return value
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    netloc = host if parts.scheme in ("http", "https") or not user else f"{user}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def utc_timestamp(value: str) -> str:
    """An ISO 8601 date-time as UTC with milliseconds and a Z, the same instant; other text unchanged.

    GitLab renders timestamps with millisecond precision (its JSON time precision); bookmarks use this form
    too (`tap_gitlab.timestamps.millis`), so a record's replication key equals its bookmark.
    """
    if len(value) == 24 and value[23] == "Z" and value[19] == ".":
        return value  # already in this form (GitLab's database timestamps)
    if len(value) < 19 or value[10] not in "Tt ":
        return value  # a date, or not a timestamp
    return t.cast(str, timestamps.normalize(value))


class _Property:
    """What to do with one property's value (or a uniform list's items), decided once from its schema."""

    __slots__ = ("boolean", "datetime", "items", "obj", "schema", "url")

    def __init__(self, schema: dict[str, t.Any], name: str = "") -> None:
        self.schema = schema
        self.boolean = is_exclusive_boolean_type(schema)
        self.datetime = schema.get("format") == "date-time"
        self.url = name.endswith(_URL_SUFFIX)
        self.items: _Property | None = _Property(schema["items"]) if is_uniform_list(schema) else None
        self.obj: _Object | None = _Object(schema) if is_object_type(schema) and "properties" in schema else None


class _Object:
    """An object schema's properties, compiled lazily (schemas can be deep; most branches are never used)."""

    __slots__ = ("_properties", "additional", "schema")

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.schema = schema
        self.additional = bool(schema.get("additionalProperties"))
        self._properties: dict[str, _Property] | None = None

    @property
    def properties(self) -> dict[str, _Property]:
        if self._properties is None:
            self._properties = {name: _Property(sub, name) for name, sub in self.schema["properties"].items()}
        return self._properties


def _primitive(value: t.Any, prop: _Property) -> t.Any:
    kind = type(value)
    if kind is str and not prop.boolean:
        if prop.datetime:
            return utc_timestamp(value)
        if prop.url:
            return scrub_url(value)
        return value
    if kind is int or kind is bool or value is None:
        if prop.boolean:
            return None if value is None else value != 0
        return value
    if kind is float:
        return None if math.isnan(value) or math.isinf(value) else value
    conformed = conform_primitive_property(value, prop.schema)  # datetimes, bytes, decimals, ...
    return utc_timestamp(conformed) if prop.datetime and isinstance(conformed, str) else conformed


def _carried(value: t.Any, name: str, path: str, unmapped: list[str]) -> t.Any:
    """A value the schema has no plan for, as GitLab sent it, without credentials (noted in `unmapped`)."""
    if isinstance(value, dict):
        out = {}
        for key, elem in value.items():
            if is_credential(key):
                unmapped.append(f"{_CREDENTIAL_MARK}{path}.{key}")
            else:
                out[key] = _carried(elem, key, f"{path}.{key}", unmapped)
        return out
    if isinstance(value, list):
        return [_carried(elem, name, path, unmapped) for elem in value]
    if isinstance(value, str) and name.endswith(_URL_SUFFIX):
        return scrub_url(value)
    return value


def _conform_object(value: dict[str, t.Any], plan: _Object, parent: str | None, unmapped: list[str]) -> dict:
    properties = plan.properties
    out: dict[str, t.Any] = {}
    for name, elem in value.items():
        prop = properties.get(name)
        if prop is None:
            if is_credential(name):
                unmapped.append(_CREDENTIAL_MARK + (name if parent is None else f"{parent}.{name}"))
                continue
            path = name if parent is None else f"{parent}.{name}"
            out[name] = _carried(elem, name, path, unmapped)
            if not plan.additional:
                unmapped.append(path)
            continue
        kind = type(elem)
        if kind is list or kind is dict:
            path = name if parent is None else f"{parent}.{name}"
            if kind is list and prop.items is not None:
                out[name] = _conform_list(elem, prop.items, path, unmapped)
            elif kind is dict and prop.obj is not None:
                out[name] = _conform_object(elem, prop.obj, path, unmapped)
            else:  # an object without properties, a tuple, a shape the schema does not expect: as GitLab sent it
                out[name] = _carried(elem, name, path, unmapped)
        else:
            out[name] = _primitive(elem, prop)
    return out


def _conform_list(value: list[t.Any], items: _Property, path: str, unmapped: list[str]) -> list[t.Any]:
    out = []
    for item in value:
        if isinstance(item, dict) and is_object_type(items.schema):
            if items.obj is not None:
                out.append(_conform_object(item, items.obj, path, unmapped))
            else:  # an object schema without properties: the object as GitLab sent it
                out.append(_carried(item, "", path, unmapped))
        else:
            out.append(_primitive(item, items))
    return out


_CREDENTIAL_MARK = "\0"  # prefixes a dropped credential's path in the list of fields met off the schema


class Conformer:
    """singer-sdk's recursive conformance of records to one schema, carrying unknown fields, without credentials.

    `unknown` and `credentials` collect, in the order first met, the paths (`author.x`; a list's items share
    their list's path) of fields the schema does not declare and of credential fields dropped. A conformer
    built for a changed schema of the same stream takes them over from the `previous` one.
    """

    def __init__(self, schema: dict[str, t.Any], previous: Conformer | None = None) -> None:
        self.schema = schema
        self._root = _Object(schema)
        self.unknown: dict[str, None] = dict(previous.unknown) if previous else {}
        self.credentials: dict[str, None] = dict(previous.credentials) if previous else {}

    def conform(self, stream_name: str, record: dict[str, t.Any], logger: logging.Logger) -> dict[str, t.Any]:
        unmapped: list[str] = []
        out = _conform_object(record, self._root, None, unmapped)
        if unmapped:
            self._note(stream_name, unmapped, logger)
        return out

    def _note(self, stream_name: str, paths: list[str], logger: logging.Logger) -> None:
        new_unknown = []
        new_credentials = []
        for path in paths:
            if path.startswith(_CREDENTIAL_MARK):
                field = path[1:]
                if field not in self.credentials:
                    self.credentials[field] = None
                    new_credentials.append(field)
            elif path not in self.unknown:
                self.unknown[path] = None
                new_unknown.append(path)
        if new_unknown:
            logger.warning(
                "Stream %s: GitLab sent fields the schema does not declare, carried as they are: %s",
                stream_name,
                ", ".join(new_unknown),
            )
        if new_credentials:
            logger.info("Stream %s: credential fields never emitted: %s", stream_name, ", ".join(new_credentials))
