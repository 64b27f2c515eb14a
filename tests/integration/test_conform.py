"""`Conformer` gives singer-sdk's recursive conformance, on every stream's schema and on edge cases, except where
it is meant to differ: fields the schema does not declare are carried (and named once), credentials are dropped,
date-times are UTC with milliseconds and a Z."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import math
import typing as t

import pytest
import requests
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_gitlab import conform
from tap_gitlab.conform import Conformer, scrub_url, utc_timestamp
from tap_gitlab.streams import STREAMS
from tap_gitlab.streams.base import load_schema
from tests.conftest import SIM_TOKEN
from tests.unit.test_conform_equivalence import Pair

LOG = logging.getLogger("test-conform")
RECURSIVE = TypeConformanceLevel.RECURSIVE


def _sdk(name, record, schema):
    return conform_record_data_types(name, record, schema, RECURSIVE, LOG)


def _same(a, b):
    """Equality that also holds for NaN-free structures and keeps bool/int apart (True == 1 otherwise)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _without(value, paths):
    """`value` without the fields at `paths` (`a.b`: field b of object a, or of each item of list a)."""
    value = copy.deepcopy(value)
    for path in paths:
        _drop(value, path.split("."))
    return value


def _drop(value, parts):
    if isinstance(value, list):
        for item in value:
            _drop(item, parts)
    elif isinstance(value, dict):
        if len(parts) == 1:
            value.pop(parts[0], None)
        elif parts[0] in value:
            _drop(value[parts[0]], parts[1:])


def _intended(value, schema, name=""):
    """singer-sdk's output with the intended differences on declared fields: UTC date-times, URLs scrubbed."""
    if isinstance(value, dict) and "properties" in schema:
        return {k: _intended(v, schema["properties"].get(k, {}), k) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_intended(v, schema["items"], name) for v in value]
    if isinstance(value, str) and schema.get("format") == "date-time":
        return utc_timestamp(value)
    if isinstance(value, str) and name.endswith("url"):
        return scrub_url(value)
    return value


def _fetch(base: str, path: str) -> list[dict]:
    response = requests.get(base + path, headers={"PRIVATE-TOKEN": SIM_TOKEN}, params={"per_page": 100}, timeout=30)
    if response.status_code != 200:
        return []
    body = response.json()
    return body if isinstance(body, list) else [body]


def _simulator_records(gitlab_sim, gitlab_dataset) -> t.Iterator[tuple[str, dict, list[dict]]]:
    """(stream, schema, records as GitLab sends them) for every stream the simulator serves."""
    base = gitlab_sim.api_url
    project_ids = list(gitlab_dataset.projects)[:3]
    group_ids = list(gitlab_dataset.groups)[:3]
    for cls in STREAMS:
        raw: list[dict] = []
        contexts = [{"group_id": g} for g in group_ids] if cls.scope in ("group", "resolved_groups") else []
        contexts += [{"project_id": p} for p in project_ids] if cls.scope in ("project", "resolved_projects") else []
        for context in contexts or [{}]:
            if cls.parent and cls.child:
                for parent in _fetch(base, cls.parent.path.format(**context))[:5]:
                    raw += _fetch(base, cls.child.path.format(**{**context, **parent}))
            elif "{file_path}" in cls.path:  # the readme: a file at a ref
                raw += _fetch(base, cls.path.format(**context, file_path="README.md") + "?ref=main")
            elif cls.path:
                raw += _fetch(base, cls.path.format(**context))
            elif cls.scope == "resolved_projects":
                raw += _fetch(base, f"/projects/{context['project_id']}")
            elif cls.scope == "resolved_groups":
                raw += _fetch(base, f"/groups/{context['group_id']}")
        yield cls.name, load_schema(cls.name), raw


def test_same_output_as_singer_sdk_on_every_stream_of_the_simulator_but_for_the_intended_differences(
    gitlab_sim, gitlab_dataset
):
    checked = set()
    for name, schema, raw in _simulator_records(gitlab_sim, gitlab_dataset):
        conformer = Conformer(schema)
        for record in raw:
            ours = conformer.conform(name, dict(record), LOG)
            theirs = _intended(_sdk(name, dict(record), schema), schema)
            assert _same(_without(ours, conformer.unknown), theirs), name
        if raw:
            checked.add(name)
    assert len(checked) >= 25, sorted(checked)


def test_every_stream_of_the_simulator_conforms_exactly_as_the_walk_before_compilation_did(
    gitlab_sim, gitlab_dataset, monkeypatch
):
    """The compiled conformance against its oracle (tests/unit/test_conform_equivalence.py) on GitLab's records,
    each sequence of keys compiled when first met."""
    monkeypatch.setattr(conform, "COMPILE_AFTER", 1)
    checked = 0
    for name, schema, raw in _simulator_records(gitlab_sim, gitlab_dataset):
        pair = Pair(schema, name)
        for record in raw:
            pair.check(record)
        for record in raw:  # and each with a field GitLab may add, a credential, a git date, a NaN
            changed = {"new_field": {"token": "t", "a": 1}, "runners_token": "x", "id": math.nan}
            pair.check({**record, **changed, "created_at": "2012-05-28T04:42:42-07:00"})
        assert pair.failed == 0
        checked += pair.checked
    assert checked > 1000


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "flag": {"type": ["boolean", "null"]},
        "either": {"type": ["boolean", "string"]},
        "ratio": {"type": ["number", "null"]},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": ["string", "null"], "format": "date"},
        "author": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "integer"}, "bot": {"type": "boolean"}},
        },
        "free": {"type": "object"},
        "open": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
        "labels": {"type": "array", "items": {"type": "string"}},
        "bits": {"type": "array", "items": {"type": "boolean"}},
        "people": {
            "type": ["array", "null"],
            "items": {"type": "object", "properties": {"id": {"type": "integer"}, "admin": {"type": "boolean"}}},
        },
        "tuple": {"type": "array", "items": [{"type": "string"}], "prefixItems": [{"type": "string"}]},
    },
}


@pytest.mark.parametrize(
    "record",
    [
        {"id": 1, "flag": 1, "either": 0, "ratio": 0.5, "labels": ["a"], "bits": [0, 1, True, None]},
        {"id": 2, "flag": None, "ratio": math.nan, "extra": 1, "author": {"id": 3, "bot": 0, "x": 1}},
        {"id": 3, "ratio": math.inf, "author": None, "people": [{"id": 1, "admin": 1, "y": 2}, 7, None]},
        {"id": 4, "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "day": dt.date(2024, 1, 2)},
        {"id": 5, "free": {"anything": [1, {"b": 2}]}, "open": {"a": "x", "z": 1}, "tuple": ["q"]},
        {"id": 6, "flag": "yes", "author": "not an object", "people": "not a list", "labels": [1, None]},
        {"id": 7, "people": None, "bits": [], "author": {}},
    ],
)
def test_same_output_as_singer_sdk_on_edge_cases_and_unknown_fields_carried(record, caplog):
    conformer = Conformer(SCHEMA)
    with caplog.at_level(logging.WARNING):
        ours = conformer.conform("edge", dict(record), LOG)
    theirs = _sdk("edge2", dict(record), SCHEMA)
    assert _same(_without(ours, conformer.unknown), _intended(theirs, SCHEMA))
    if "extra" in record:
        assert ours["extra"] == record["extra"]
    if isinstance(record.get("author"), dict) and "x" in record["author"]:
        assert ours["author"]["x"] == record["author"]["x"]
    if isinstance(record.get("people"), list):
        assert [p.get("y") for p in ours["people"] if isinstance(p, dict)] == [
            p.get("y") for p in record["people"] if isinstance(p, dict)
        ]
    if conformer.unknown:
        assert caplog.text.count("does not declare") == 1
        assert all(path in caplog.text for path in conformer.unknown)


def test_unknown_fields_are_named_once_per_conformer_however_many_records_carry_them(caplog):
    conformer = Conformer(SCHEMA)
    with caplog.at_level(logging.WARNING):
        for number in range(5):
            out = conformer.conform("edge", {"id": number, "new_field": {"deep": number}}, LOG)
            assert out["new_field"] == {"deep": number}
    assert list(conformer.unknown) == ["new_field"]
    assert caplog.text.count("new_field") == 1


def test_date_times_become_utc_with_a_z_keeping_the_instant():
    conformer = Conformer(SCHEMA)
    out = conformer.conform("edge", {"id": 1, "when": "2012-05-28T04:42:42-07:00", "day": "2012-05-28"}, LOG)
    assert out == {"id": 1, "when": "2012-05-28T11:42:42.000Z", "day": "2012-05-28"}
    assert utc_timestamp("2016-08-11T11:32:35.444Z") == "2016-08-11T11:32:35.444Z"
    assert utc_timestamp("2016-08-11T13:32:35.444+02:00") == "2016-08-11T11:32:35.444Z"
    assert utc_timestamp("not a time at all") == "not a time at all"


def test_records_and_bookmarks_carry_git_dates_as_the_same_utc_instants(tmp_path):
    """Git dates keep each author's offset in GitLab's answers (`2012-05-28T04:42:42-07:00`); records and
    bookmarks carry them in UTC with a Z, the same instant, so a bookmark equals a record's value."""
    from tests.gitlab_sim import Dataset, GitLabSimulator
    from tests.support.tap_harness import discover, run_tap, select, sim_config

    dataset = Dataset.generate(size="tiny", seed=5)
    with GitLabSimulator(dataset, token=SIM_TOKEN) as sim:
        config = sim_config(sim, SIM_TOKEN, groups=" ".join(dataset.top_group_paths()))
        served = {(pid, c["id"]): c for pid in dataset.live_projects() for c in dataset.data(pid).commits}
        run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), ["commits"]))
    assert run.returncode == 0, run.stderr[-3000:]
    records = run.records["commits"]
    assert records
    offsets = 0
    for record in records:
        sent = served[(record["project_id"], record["id"])]
        for field in ("created_at", "authored_date", "committed_date"):
            value = record[field]
            assert len(value) == 24 and value.endswith("Z") and value[19] == ".", value
            assert dt.datetime.fromisoformat(value) == dt.datetime.fromisoformat(sent[field])  # the same instant
            offsets += not sent[field].endswith("Z")
    assert offsets, "the simulator sent no git date with an offset"
    values = {record["committed_date"] for record in records}
    bookmarks = [
        p["replication_key_value"]
        for p in run.last_state["bookmarks"]["commits"]["partitions"]
        if p.get("replication_key_value")
    ]
    assert bookmarks and set(bookmarks) <= values
