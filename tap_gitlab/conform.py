"""Record conformance, compiled once per schema and per sequence of keys.

singer-sdk conforms every record to its stream's schema (recursively: booleans are made booleans, NaN becomes
null). It re-derives every property's schema kind for every value of every record, which was the largest CPU
cost of a sync (about 40% of the main thread, measured on the benchmark). `Conformer` does the same walk with
the decisions made once (values that are not plain JSON, a datetime, bytes, ..., and shapes it has no plan
for go to singer-sdk's own functions):

- each property's kind is decided once per schema (`_Property`): most only pass text, integers, booleans and
  nulls through (PLAIN), or booleans and nulls (FLAG); date-times, URLs, numbers, objects and lists may change;
- each object is conformed by a function compiled for its sequence of keys (`_compile`; the records of one
  endpoint come with the same keys in the same order): it checks the types of the PLAIN and FLAG values in one
  expression, copies the object and replaces only the values that change. A PLAIN or FLAG value of another
  type (an object where text belongs, a float, an integer for a boolean, a subclass of str) sends the object
  to the field-by-field walk (`_walk`); any other value takes its kind's shortcut or `_value`, the walk's own
  code for one value. The walk is the reference: tests/unit/test_conform_equivalence.py holds it as it was
  before compilation and checks the two against each other on real, mutated and generated records.

It differs from singer-sdk in three ways, each decided here, in one place:

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

import enum
import logging
import math
import types
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
    normalized: str = timestamps.normalize(value)
    return normalized


class _Kind(enum.Enum):
    """What a property does to the values GitLab sends (str, int, float, bool, None, dict, list), by its schema."""

    PLAIN = "text, integers, booleans and nulls as they are"  # not boolean, date-time or URL; declares no other type
    FLAG = "booleans and nulls as they are"  # exclusively boolean (an integer becomes a boolean, text True)
    DATETIME = "text as UTC with milliseconds and a Z, unless already"
    URL = "text without credentials in its authority"
    NUMBER = "NaN and infinities as null"
    OBJECT = "an object by its properties"
    LIST = "a list by its items' schema"
    VALUE = "anything by `_value`"  # an object without properties, an array of tuples, an unusual schema


_UNCHANGED: dict[_Kind, frozenset[type]] = {
    _Kind.PLAIN: frozenset({str, int, bool, type(None)}),
    _Kind.FLAG: frozenset({bool, type(None)}),
}
_PLAIN_DECLARED = frozenset({"string", "integer", "boolean", "null"})
# Compiling a sequence of keys costs about 0.15 ms (mostly Python's `compile`: 19 ms for the 124 sequences of the
# benchmark's full sync), what the compiled code saves over about a hundred objects walked. So a sequence is
# compiled once met COMPILE_AFTER times (rarer ones, and most of a run with few records, are walked), at most
# _MAX_SHAPES of them per object schema, and a source once per process (`_CODE`: the many places a user, a
# commit, ... is embedded in write the same source).
COMPILE_AFTER = 32
_MAX_SHAPES = 64
_CODE: dict[str, types.CodeType] = {}


def _declared(schema: dict[str, t.Any]) -> frozenset[str] | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset((kind,))
    if isinstance(kind, list) and all(isinstance(name, str) for name in kind):
        return frozenset(kind)
    return None


class _Property:
    """What to do with one property's value (or a uniform list's items), decided once from its schema.

    `unchanged`: the types of value it passes through as they are, when that is all it needs checking for (PLAIN
    and FLAG properties), else None.
    """

    __slots__ = (
        "boolean",
        "datetime",
        "is_object",
        "items",
        "kind",
        "name",
        "obj",
        "path",
        "schema",
        "unchanged",
        "url",
    )

    def __init__(self, schema: dict[str, t.Any], name: str = "", path: str = "") -> None:
        self.schema = schema
        self.boolean = is_exclusive_boolean_type(schema)
        self.datetime = schema.get("format") == "date-time"
        self.url = name.endswith(_URL_SUFFIX)
        self.name = name
        self.path = path  # of the value (a uniform list's items share their list's path)
        self.items: _Property | None = _Property(schema["items"], "", path) if is_uniform_list(schema) else None
        self.is_object = bool(is_object_type(schema))
        self.obj: _Object | None = _Object(schema, path) if self.is_object and "properties" in schema else None
        self.kind = self._kind()
        self.unchanged = _UNCHANGED.get(self.kind)

    def _kind(self) -> _Kind:
        # In `_primitive`'s order: a boolean's text is not a date-time's, a date-time's not a URL's.
        declared = _declared(self.schema)
        if self.boolean:
            return _Kind.FLAG
        if self.datetime:
            return _Kind.DATETIME
        if self.url:
            return _Kind.URL
        if self.obj is not None:
            return _Kind.OBJECT
        if self.items is not None:
            return _Kind.LIST
        if declared is not None and declared <= _PLAIN_DECLARED:
            return _Kind.PLAIN
        if declared is not None and "number" in declared:
            return _Kind.NUMBER
        return _Kind.VALUE


class _Object:
    """An object schema's properties, compiled lazily (schemas can be deep; most branches are never used).

    `compiled` holds, per sequence of keys met, the function `_compile` wrote for objects with those keys in that
    order (the records of one endpoint come with the same keys in the same order); `met` counts the sequences
    not compiled yet.
    """

    __slots__ = ("_properties", "additional", "compiled", "met", "path", "schema")

    def __init__(self, schema: dict[str, t.Any], path: str | None = None) -> None:
        self.schema = schema
        self.path = path  # of the object (None: the record)
        self.additional = bool(schema.get("additionalProperties"))
        self._properties: dict[str, _Property] | None = None
        self.compiled: dict[tuple[t.Any, ...], _Conform] = {}
        self.met: dict[tuple[t.Any, ...], int] = {}

    @property
    def properties(self) -> dict[str, _Property]:
        if self._properties is None:
            self._properties = {
                name: _Property(sub, name, self.child_path(name)) for name, sub in self.schema["properties"].items()
            }
        return self._properties

    def child_path(self, name: str) -> str:
        return name if self.path is None else f"{self.path}.{name}"


_Conform = t.Callable[[dict[str, t.Any], list[str]], dict[str, t.Any]]

# What `_compile` writes for a value that is not checked in bulk, by its property's kind (`k`: the name bound to
# the key, `p`: to its `_Property`). Each is `out[k] = _value(value[k], p, unmapped)`, which is what `_walk` does,
# with the cases where that leaves the value as it is, or has one obvious result, taken first: `_value` keeps
# a null of any of these kinds (only a FLAG's `_primitive` changes one), a NUMBER's integers and a VALUE's text,
# integers and booleans; `utc_timestamp` keeps text already in its form, `scrub_url` text without an "@", and
# `_carried` makes a new empty object of an empty one.
_STEPS = {
    _Kind.DATETIME: """
    v = value[{k}]
    if v is not None and (type(v) is not str or len(v) != 24 or v[23] != "Z" or v[19] != "."):
        out[{k}] = utc_timestamp(v) if type(v) is str else _value(v, {p}, unmapped)""",
    _Kind.URL: """
    v = value[{k}]
    if v is not None and (type(v) is not str or "@" in v):
        out[{k}] = scrub_url(v) if type(v) is str else _value(v, {p}, unmapped)""",
    _Kind.NUMBER: """
    v = value[{k}]
    if v is not None and type(v) is not int and (type(v) is not float or not isfinite(v)):
        out[{k}] = _value(v, {p}, unmapped)""",
    _Kind.OBJECT: """
    v = value[{k}]
    if v is not None:
        conform = type(v) is dict and {p}_compiled.get(tuple(v))
        out[{k}] = conform(v, unmapped) if conform else _value(v, {p}, unmapped)""",
    _Kind.LIST: """
    v = value[{k}]
    if v is not None:
        out[{k}] = _conform_list(v, {p}.items, {p}.path, unmapped) if type(v) is list else _value(v, {p}, unmapped)""",
    _Kind.VALUE: """
    v = value[{k}]
    if type(v) not in PLAIN:
        out[{k}] = {{}} if type(v) is dict and not v else _value(v, {p}, unmapped)""",
}
# A LIST whose items are PLAIN or FLAG (labels, tag lists, parent ids): a copy when they all pass unchanged.
_LIST_OF_UNCHANGED = """
    v = value[{k}]
    if v is not None:
        out[{k}] = v.copy() if type(v) is list and {p}_items.issuperset(map(type, v)) else _value(v, {p}, unmapped)"""


def _compile(plan: _Object, keys: tuple[t.Any, ...]) -> _Conform:
    """`_walk(value, plan, unmapped)` for objects with these keys, in this order, as one function.

    The function checks that every PLAIN and FLAG value is of a type its property passes unchanged (else it walks
    the object), copies the object, and replaces the values that change and drops the credentials, in key order
    (the order the walk meets them, and so notes unknown fields and credentials in). Its source holds no key and
    nothing of the schema: keys and plans are bound to generated names (`k0`, `p0`, ...) in its globals.
    """
    properties = plan.properties
    names: dict[str, t.Any] = {
        "_walk": _walk,
        "_value": _value,
        "_carried": _carried,
        "_conform_object": _conform_object,
        "_conform_list": _conform_list,
        "utc_timestamp": utc_timestamp,
        "scrub_url": scrub_url,
        "isfinite": math.isfinite,
        "PLAIN": _UNCHANGED[_Kind.PLAIN],
        "FLAG": _UNCHANGED[_Kind.FLAG],
        "plan": plan,
    }
    checks: list[str] = []
    steps: list[str] = []
    for index, key in enumerate(keys):
        k, p, path = f"k{index}", f"p{index}", f"path{index}"
        names[k] = key
        prop = properties.get(key)
        if prop is None:  # as `_walk` does
            if is_credential(key):
                names[path] = _CREDENTIAL_MARK + plan.child_path(key)
                steps.append(f"\n    unmapped.append({path})\n    del out[{k}]")
            else:
                names[path] = plan.child_path(key)
                steps.append(f"\n    out[{k}] = _carried(value[{k}], {k}, {path}, unmapped)")
                if not plan.additional:
                    steps.append(f"\n    unmapped.append({path})")
        elif prop.kind is _Kind.PLAIN or prop.kind is _Kind.FLAG:
            checks.append(f"type(value[{k}]) not in {prop.kind.name}")
        else:
            names[p] = prop
            step = _STEPS[prop.kind]
            if prop.obj is not None:
                names[f"{p}_compiled"] = prop.obj.compiled
            if prop.items is not None and prop.items.unchanged is not None:
                names[f"{p}_items"] = prop.items.unchanged
                if prop.kind is _Kind.LIST:
                    step = _LIST_OF_UNCHANGED
            steps.append(step.format(k=k, p=p))
    source = "def conform(value, unmapped):"
    if checks:
        source += "\n    if (\n        " + "\n        or ".join(checks) + "\n    ):"
        source += "\n        return _walk(value, plan, unmapped)"
    source += "\n    out = value.copy()" + "".join(steps) + "\n    return out\n"
    code = _CODE.get(source)
    if code is None:
        code = compile(source, "<tap_gitlab.conform compiled>", "exec")
        if len(_CODE) < 4096:
            _CODE[source] = code
    exec(code, names)  # noqa: S102 (the source holds nothing but generated names)
    conform: _Conform = names["conform"]
    return conform


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


def _value(value: t.Any, prop: _Property, unmapped: list[str]) -> t.Any:
    """One property's value, conformed."""
    kind = type(value)
    if kind is list or kind is dict:
        if kind is list and prop.items is not None:
            return _conform_list(value, prop.items, prop.path, unmapped)
        if kind is dict and prop.obj is not None:
            return _conform_object(value, prop.obj, unmapped)
        # an object without properties, a shape the schema does not expect: as GitLab sent it
        return _carried(value, prop.name, prop.path, unmapped)
    return _primitive(value, prop)  # a tuple, a datetime, ... included


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


def _conform_object(value: dict[str, t.Any], plan: _Object, unmapped: list[str]) -> dict[str, t.Any]:
    """A dict (exactly: not a subclass), conformed by the function compiled for its keys (walked until they
    were met `COMPILE_AFTER` times)."""
    keys = tuple(value)
    conform = plan.compiled.get(keys)
    if conform is None:
        met = plan.met
        count = met.get(keys, 0) + 1
        if count < COMPILE_AFTER or len(plan.compiled) >= _MAX_SHAPES:
            if count > 1 or len(met) < 4 * _MAX_SHAPES:
                met[keys] = count
            return _walk(value, plan, unmapped)
        met.pop(keys, None)
        conform = plan.compiled[keys] = _compile(plan, keys)
    return conform(value, unmapped)


def _walk(value: dict[str, t.Any], plan: _Object, unmapped: list[str]) -> dict[str, t.Any]:
    """An object conformed field by field, in its order (unknown fields carried and noted, credentials dropped):
    what every compiled function does, for objects it has no shortcut for."""
    properties = plan.properties
    out: dict[str, t.Any] = {}
    for name, elem in value.items():
        prop = properties.get(name)
        if prop is None:
            if is_credential(name):
                unmapped.append(_CREDENTIAL_MARK + plan.child_path(name))
                continue
            path = plan.child_path(name)
            out[name] = _carried(elem, name, path, unmapped)
            if not plan.additional:
                unmapped.append(path)
            continue
        kind = type(elem)
        out[name] = _value(elem, prop, unmapped) if kind is list or kind is dict else _primitive(elem, prop)
    return out


def _conform_list(value: list[t.Any], items: _Property, path: str, unmapped: list[str]) -> list[t.Any]:
    unchanged = items.unchanged
    if unchanged is not None and unchanged.issuperset(map(type, value)):
        return value.copy()  # labels, ...: every item passes as it is
    obj = items.obj
    is_object = items.is_object
    out = []
    for item in value:
        if type(item) is dict and obj is not None:
            out.append(_conform_object(item, obj, unmapped))
        elif isinstance(item, dict) and is_object:
            if obj is not None:
                out.append(_walk(item, obj, unmapped))
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
        root = self._root
        out = _conform_object(record, root, unmapped) if type(record) is dict else _walk(record, root, unmapped)
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
