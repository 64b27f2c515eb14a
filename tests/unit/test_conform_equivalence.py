"""`Conformer`'s compiled code gives exactly what the plain walk it replaced gave, for every input.

`tap_gitlab/conform.py` compiles, per object schema and sequence of keys, code that checks the values in bulk and
changes only those that need it. The walk it replaced (one decision per value) is kept here, as it was, as the
oracle (`OracleConformer`). Both run on GitLab's documented example objects of every stream, on mutations of them
(wrong types, nulls, NaN and infinities, text where an object belongs, fields removed, added, reordered, unknown
fields and credentials at any depth, timestamps with offsets, values that are not JSON), on records generated from
every schema, and on hand-written edge cases. They must give the same values, of the same types, in the same key
order, share the same containers with the input (none: both copy every object and list), note the same unknown
fields and credentials in the same order, log the same lines, and raise the same errors.
`tests/integration/test_conform.py` also runs both on every stream of the simulator.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import decimal
import json
import logging
import math
import random
import typing as t
from pathlib import Path

import pytest

from tap_gitlab import conform
from tap_gitlab.conform import _CREDENTIAL_MARK, _URL_SUFFIX, Conformer, is_credential, scrub_url, utc_timestamp
from tap_gitlab.sdk_adapter import (
    conform_primitive_property,
    is_exclusive_boolean_type,
    is_object_type,
    is_uniform_list,
)
from tap_gitlab.streams.base import load_schema

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gitlab_examples"
STREAM_NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))

# -- the oracle: tap_gitlab/conform.py's walk before it was compiled (commit ddeefef), unchanged ----------------


class _OracleProperty:
    __slots__ = ("boolean", "datetime", "items", "obj", "schema", "url")

    def __init__(self, schema: dict[str, t.Any], name: str = "") -> None:
        self.schema = schema
        self.boolean = is_exclusive_boolean_type(schema)
        self.datetime = schema.get("format") == "date-time"
        self.url = name.endswith(_URL_SUFFIX)
        self.items = _OracleProperty(schema["items"]) if is_uniform_list(schema) else None
        self.obj = _OracleObject(schema) if is_object_type(schema) and "properties" in schema else None


class _OracleObject:
    __slots__ = ("_properties", "additional", "schema")

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.schema = schema
        self.additional = bool(schema.get("additionalProperties"))
        self._properties: dict[str, _OracleProperty] | None = None

    @property
    def properties(self) -> dict[str, _OracleProperty]:
        if self._properties is None:
            self._properties = {name: _OracleProperty(sub, name) for name, sub in self.schema["properties"].items()}
        return self._properties


def _primitive(value: t.Any, prop: _OracleProperty) -> t.Any:
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
    conformed = conform_primitive_property(value, prop.schema)
    return utc_timestamp(conformed) if prop.datetime and isinstance(conformed, str) else conformed


def _carried(value: t.Any, name: str, path: str, unmapped: list[str]) -> t.Any:
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


def _conform_object(value: dict, plan: _OracleObject, parent: str | None, unmapped: list[str]) -> dict:
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
            else:
                out[name] = _carried(elem, name, path, unmapped)
        else:
            out[name] = _primitive(elem, prop)
    return out


def _conform_list(value: list, items: _OracleProperty, path: str, unmapped: list[str]) -> list:
    out = []
    for item in value:
        if isinstance(item, dict) and is_object_type(items.schema):
            if items.obj is not None:
                out.append(_conform_object(item, items.obj, path, unmapped))
            else:
                out.append(_carried(item, "", path, unmapped))
        else:
            out.append(_primitive(item, items))
    return out


class OracleConformer:
    """`Conformer` as it was before its objects were compiled (the reference the compiled code must equal)."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.schema = schema
        self._root = _OracleObject(schema)
        self.unknown: dict[str, None] = {}
        self.credentials: dict[str, None] = {}

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


# -- comparing the two ---------------------------------------------------------------------------------------


class _Log(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def _logger(name: str) -> tuple[logging.Logger, _Log]:
    logger = logging.getLogger(f"test-conform-equivalence.{name}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.handlers[:] = [handler := _Log()]
    return logger, handler


def _containers(value: t.Any, found: set[int]) -> set[int]:
    if isinstance(value, dict | list | tuple):
        found.add(id(value))
        for elem in value.values() if isinstance(value, dict) else value:
            _containers(elem, found)
    return found


def assert_identical(ours: t.Any, theirs: t.Any, sent: set[int], where: str = "record") -> None:
    """The same values of the same types in the same order (NaN equal to NaN), sharing the same containers
    with the input `sent` (the ids of its dicts, lists and tuples)."""
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(ours, dict | list | tuple):
        assert (id(ours) in sent) == (id(theirs) in sent), f"{where}: one is the input's own container"
        assert id(ours) not in sent or ours is theirs, where
    if isinstance(ours, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for key in ours:
            assert_identical(ours[key], theirs[key], sent, f"{where}.{key}")
    elif isinstance(ours, list | tuple):
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items != {len(theirs)}"
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_identical(a, b, sent, f"{where}[{index}]")
    elif ours != ours:  # NaN (a float's or a Decimal's)
        assert theirs != theirs, f"{where}: {ours!r} != {theirs!r}"
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


class Pair:
    """A `Conformer` and an `OracleConformer` for one schema, fed the same records one after the other."""

    def __init__(self, schema: dict[str, t.Any], name: str = "s") -> None:
        self.name = name
        self.ours, self.theirs = Conformer(schema), OracleConformer(schema)
        self.our_logger, self.our_log = _logger(f"{name}.ours")
        self.their_logger, self.their_log = _logger(f"{name}.theirs")
        self.checked = self.failed = 0  # records checked, and those both failed on

    def check(self, record: t.Any) -> t.Any:
        before = copy.deepcopy(record)
        sent = _containers(record, set())
        theirs = ours = error = None
        try:
            theirs = self.theirs.conform(self.name, record, self.their_logger)
        except Exception as exc:  # the same error must come out of both
            error = exc
        self.checked += 1
        if error is not None:
            self.failed += 1
            with pytest.raises(type(error)):
                self.ours.conform(self.name, record, self.our_logger)
        else:
            ours = self.ours.conform(self.name, record, self.our_logger)
            assert_identical(ours, theirs, sent)
        assert list(self.ours.unknown) == list(self.theirs.unknown)
        assert list(self.ours.credentials) == list(self.theirs.credentials)
        assert self.our_log.lines == self.their_log.lines
        assert _same_input(record, before), "the input was changed"
        return ours


def _same_input(value: t.Any, before: t.Any) -> bool:
    try:
        assert_identical(value, before, set())
    except AssertionError:
        return False
    return True


# -- inputs ----------------------------------------------------------------------------------------------------


class _Text(str):
    """Text that is not exactly `str` (the compiled code's fast paths take exact types only)."""


class _Number(int):
    pass


_OFF_SCHEMA_VALUES: list[t.Any] = [
    None, True, False, 0, 1, -7, 2**70, 0.0, -0.0, 1.5, math.nan, math.inf, -math.inf,
    "", "x", "0", "true", "false", "null",
    "2024-01-31T12:00:00.000Z", "2024-01-31T05:00:00.000-07:00", "2024-01-31T12:00:00Z", "2024-01-31T12:00:00.5Z",
    "2024-01-31", "2024-01-31 12:00:00", "2024-01-31t12:00:00+01:00", "2024-01-31T12:00:00.000z",
    "not a timestamp at all!!", "2024-13-45T99:99:99.000Z", "xxxxxxxxxxxxxxxxxxx.xxxZ", "2024-01-31T12:00:00,123Z",
    "2024-01-31T12:00:00.123+00:00", "2024-01-31T12:00:00.123456Z",
    "https://oauth2:glpat-secret@gitlab.example.com/group/project.git", "ssh://git:hunter2@example.com/repo",
    "http://user@example.com/x", "a@b", "https://gitlab.example.com/a@b",
    {}, [], [None], [1, "a", None, 1.5, math.nan, True], [[1], [2, [3]]], ("a", 1),
    {"id": 1, "name": "n"}, {"token": "t", "a": {"password": "p", "web_url": "http://u:p@h/x"}},
    [{"runners_token": "x", "id": 2}, {"web_url": "https://u:p@h/y"}, 3],
    {"nested": {"deeper": {"ci_job_token": "j", "keep": [{"secret": 1, "deploy_token": 2, "k": "v"}]}}},
    dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, 3, 4, 5),
    dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-7))), dt.date(2024, 1, 2),
    dt.time(1, 2, 3), dt.timedelta(seconds=90), decimal.Decimal("1.25"), decimal.Decimal("NaN"),
    decimal.Decimal("Infinity"), b"\x00", b"\x01\x02", collections.OrderedDict(a=1, token=2),
    _Text("2024-01-31T05:00:00-07:00"), _Text("https://u:p@h/z"), _Number(3), frozenset({1}),
]  # fmt: skip
_UNKNOWN_NAMES = [
    "brand_new_field", "token", "deploy_token", "x_password", "smtp_secret", "ssh_private_key", "avatar_url",
    "web_url", "private_key", "created_at", "id", "zz", "password",
]  # fmt: skip


def _off_schema(rng: random.Random) -> t.Any:
    return copy.deepcopy(rng.choice(_OFF_SCHEMA_VALUES))


def _dicts(value: t.Any, found: list[dict]) -> list[dict]:
    if type(value) is dict:
        found.append(value)
        for elem in value.values():
            _dicts(elem, found)
    elif type(value) is list:
        for elem in value:
            _dicts(elem, found)
    return found


def _mutated(record: dict[str, t.Any], rng: random.Random) -> dict[str, t.Any]:
    """`record` with a few random changes anywhere in it: values replaced, keys added, removed, reordered."""
    record = copy.deepcopy(record)
    for _ in range(rng.randint(1, 4)):
        objects = _dicts(record, [])
        obj = rng.choice(objects)
        change = rng.random()
        if change < 0.45 and obj:
            obj[rng.choice(list(obj))] = _off_schema(rng)
        elif change < 0.7:
            obj[rng.choice(_UNKNOWN_NAMES)] = _off_schema(rng)
        elif change < 0.85 and obj:
            del obj[rng.choice(list(obj))]
        else:
            items = list(obj.items())
            rng.shuffle(items)
            obj.clear()
            obj.update(items)
    return record


def _generated(schema: dict[str, t.Any], rng: random.Random, depth: int = 0) -> t.Any:
    """A value for `schema`: mostly of its declared kind, sometimes anything (`_OFF_SCHEMA_VALUES`)."""
    if rng.random() < 0.08 or depth > 6:
        return _off_schema(rng)
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if "null" in kinds and rng.random() < 0.2:
        return None
    if "properties" in schema and "object" in kinds:
        names = [name for name in schema["properties"] if rng.random() < 0.9]
        if rng.random() < 0.2:
            rng.shuffle(names)
        return {name: _generated(schema["properties"][name], rng, depth + 1) for name in names}
    if "object" in kinds:
        return {rng.choice(_UNKNOWN_NAMES): _off_schema(rng) for _ in range(rng.randint(0, 3))}
    if "array" in kinds and isinstance(schema.get("items"), dict):
        return [_generated(schema["items"], rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if schema.get("format") == "date-time":
        return rng.choice(["2024-01-31T12:00:00.000Z", "2012-05-28T04:42:42-07:00", "2024-01-31T12:00:00Z"])
    if "boolean" in kinds:
        return rng.choice([True, False])
    if "integer" in kinds:
        return rng.randint(-5, 10**6)
    if "number" in kinds:
        return rng.choice([0.5, 3, 12.25, math.nan])
    return rng.choice(["text", "https://gitlab.example.com/a/b", "http://u:p@h/c", ""])


def _generated_record(schema: dict[str, t.Any], rng: random.Random) -> dict[str, t.Any]:
    record = _generated(schema, rng)
    return record if isinstance(record, dict) else {"id": record}


def _examples(stream: str) -> list[dict[str, t.Any]]:
    data = json.loads((FIXTURES / f"{stream}.json").read_text())
    return [obj for obj in data if isinstance(obj, dict)]


# -- tests -----------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def compile_at_once(monkeypatch):
    """Every sequence of keys compiled when first met (not after `COMPILE_AFTER` walks): the compiled code is
    what these tests are about; `test_objects_are_walked_until_their_keys_were_met_often_enough` keeps the
    default."""
    monkeypatch.setattr(conform, "COMPILE_AFTER", 1)


@pytest.mark.parametrize("stream", STREAM_NAMES)
def test_gitlabs_examples_and_mutations_of_them_conform_as_the_walk_did(stream):
    schema = load_schema(stream)
    rng = random.Random(f"mutations {stream}")
    pair = Pair(schema, stream)
    examples = _examples(stream)
    assert examples
    for example in examples:
        pair.check(copy.deepcopy(example))
    for _ in range(150):
        pair.check(_mutated(rng.choice(examples), rng))
    for example in examples:  # the same keys again, after the mutations compiled other sequences of keys
        pair.check(copy.deepcopy(example))
    assert pair.ours._root.compiled, "the records went through compiled code"
    assert pair.failed == 0


@pytest.mark.parametrize("stream", STREAM_NAMES)
def test_records_generated_from_each_schema_conform_as_the_walk_did(stream):
    schema = load_schema(stream)
    rng = random.Random(f"generated {stream}")
    pair = Pair(schema, stream)
    for _ in range(120):
        pair.check(_generated_record(schema, rng))
    assert pair.failed == 0


EDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "flag": {"type": ["boolean", "null"]},
        "only_flag": {"type": "boolean"},
        "flag_list": {"type": ["boolean"]},
        "either": {"type": ["boolean", "string"]},
        "ratio": {"type": ["number", "null"]},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "flag_when": {"type": ["boolean", "null"], "format": "date-time"},
        "day": {"type": ["string", "null"], "format": "date"},
        "web_url": {"type": ["string", "null"]},
        "updated_url": {"type": ["string", "null"], "format": "date-time"},
        "object_url": {"type": ["object", "null"], "properties": {"id": {"type": "integer"}}},
        "untyped": {"type": []},
        "any_of": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "any_of_object": {"anyOf": [{"type": "object"}, {"type": "null"}], "properties": {"a": {"type": "string"}}},
        "author": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "integer"}, "bot": {"type": "boolean"}, "avatar_url": {"type": "string"}},
        },
        "free": {"type": "object"},
        "open": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
        "labels": {"type": "array", "items": {"type": "string"}},
        "bits": {"type": "array", "items": {"type": "boolean"}},
        "times": {"type": ["array", "null"], "items": {"type": "string", "format": "date-time"}},
        "links": {"type": ["array", "null"], "items": {"type": "string"}},
        "loose": {"type": ["array", "null"], "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        "bags": {"type": ["array", "null"], "items": {"type": "object"}},
        "people": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "admin": {"type": "boolean"},
                    "seen": {"type": "string", "format": "date-time"},
                    "team": {"type": ["object", "null"], "properties": {"web_url": {"type": "string"}}},
                },
            },
        },
        "tuple": {"type": "array", "items": [{"type": "string"}], "prefixItems": [{"type": "string"}]},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "both": {
            "type": ["object", "array", "null"],
            "properties": {"a": {"type": "integer"}},
            "items": {"type": "object"},
        },
    },
}


def _edge_records() -> t.Iterator[dict[str, t.Any]]:
    yield {"id": 1, "flag": 1, "either": 0, "ratio": 0.5, "labels": ["a"], "bits": [0, 1, True, None]}
    yield {"id": 2, "flag": None, "ratio": math.nan, "extra": 1, "author": {"id": 3, "bot": 0, "x": 1}}
    yield {"id": 3, "ratio": math.inf, "author": None, "people": [{"id": 1, "admin": 1, "y": 2}, 7, None]}
    yield {"id": 4, "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "day": dt.date(2024, 1, 2)}
    yield {"id": 5, "free": {"anything": [1, {"b": 2}]}, "open": {"a": "x", "z": 1}, "tuple": ["q"]}
    yield {"id": 6, "flag": "yes", "author": "not an object", "people": "not a list", "labels": [1, None]}
    yield {"id": 7, "people": None, "bits": [], "author": {}}
    yield {"when": "2012-05-28T04:42:42-07:00", "updated_url": "2012-05-28 04:42:42+02:00", "day": "2012-05-28"}
    yield {"web_url": "https://oauth2:tok@h/p", "object_url": {"id": 1, "token": 2}, "untyped": {"password": 1}}
    yield {"any_of": "x", "any_of_object": {"a": 1, "b": 2}, "loose": [{"secret": 1}, [1], "x"], "bags": [{}, 1]}
    yield {"people": [{"id": 1, "seen": "2024-01-31T05:00:00.000-07:00", "team": {"web_url": "http://a:b@c", "q": 1}}]}
    yield {"people": [collections.OrderedDict(id=1, admin=0, token="t"), {"team": {"ci_job_token": "x"}}]}
    yield {"times": ["2024-01-31T05:00:00-07:00", None, 3, "2024-01-31"], "links": ["http://a:b@c"], "grid": [[1]]}
    yield {"both": {"a": 1, "b": 2}, "only_flag": 0, "flag_list": 2, "flag_when": "2024-01-31T12:00:00.000Z"}
    yield {"both": [{"token": 1}], "only_flag": None, "ratio": 7, "bits": [1.5, math.nan, "x"]}
    yield {"runners_token": "r", "id": 8, "new": {"registration_token": "t", "deeper": [{"password": "p"}]}}
    yield {"token": 1, "password": 2}
    yield {}


def test_edge_cases_conform_as_the_walk_did():
    pair = Pair(EDGE_SCHEMA, "edge")
    rng = random.Random("edge")
    records = list(_edge_records())
    for record in records:
        pair.check(record)
    for _ in range(600):
        pair.check(_mutated(rng.choice(records), rng))
    for _ in range(300):
        pair.check(_generated_record(EDGE_SCHEMA, rng))
    assert pair.failed == 0


def test_fields_met_off_the_schema_are_noted_in_the_order_the_walk_met_them():
    pair = Pair(EDGE_SCHEMA, "order")
    pair.check({"open": {"z": 1}, "author": {"b": 1, "token": 2}, "people": [{"c": 1}, {"secret": 2}], "a": 1})
    pair.check({"people": [{"secret": 2}, {"c": 1}], "author": {"token": 2, "b": 1}, "d": {"x_token": 1}, "a": 1})
    assert list(pair.ours.unknown) == ["author.b", "people.c", "a", "d"]
    assert list(pair.ours.credentials) == ["author.token", "people.secret", "d.x_token"]


def test_objects_with_more_key_sequences_than_are_compiled_are_walked_the_same():
    pair = Pair(EDGE_SCHEMA, "shapes")
    names = list(EDGE_SCHEMA["properties"])[:12]
    rng = random.Random("shapes")
    for _ in range(400):
        rng.shuffle(names)
        pair.check({name: _generated(EDGE_SCHEMA["properties"][name], rng) for name in names[: rng.randint(1, 12)]})
    assert 0 < len(pair.ours._root.compiled) < 400


def test_objects_are_walked_until_their_keys_were_met_often_enough(monkeypatch):
    monkeypatch.undo()
    assert conform.COMPILE_AFTER > 1
    schema = load_schema("issues")
    pair = Pair(schema, "issues")
    example = _examples("issues")[0]
    for number in range(conform.COMPILE_AFTER + 3):
        assert bool(pair.ours._root.compiled) == (number >= conform.COMPILE_AFTER)
        pair.check({**copy.deepcopy(example), "id": number})
    rng = random.Random("walked")
    for _ in range(100):
        pair.check(_mutated(example, rng))
    assert pair.failed == 0


@pytest.mark.parametrize(
    ("schema", "record"),
    [
        ({"type": "object"}, {"id": 1}),  # no properties: both fail on the schema
        ({"type": "object"}, {}),
        (EDGE_SCHEMA, ["not", "an", "object"]),
        (EDGE_SCHEMA, collections.OrderedDict(id=1, flag=0, token="t")),
        (EDGE_SCHEMA, {1: "a key that is not text"}),
        ({"type": "object", "properties": {"a": True}}, {"a": 1}),  # a schema that is not an object
        ({"type": "object", "properties": {"a": {}}}, {"a": 1}),  # an untyped property: singer-sdk fails on it
        ({"type": "object", "properties": {"a": {"type": "array", "items": {}}}}, {"a": [1]}),
    ],
)
def test_inputs_the_walk_failed_on_or_took_unusual_paths_for_give_the_same(schema, record):
    pair = Pair(schema, "odd")
    pair.check(record)
    pair.check(record)  # and again, now that the keys were met once
