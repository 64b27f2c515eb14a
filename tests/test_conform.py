"""`Conformer` gives exactly singer-sdk's recursive conformance, on every stream's schema and on edge cases."""

from __future__ import annotations

import datetime as dt
import logging
import math

import pytest
import requests
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_gitlab.conform import Conformer
from tap_gitlab.streams import STREAM_TYPES
from tests.conftest import SIM_TOKEN

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


def _fetch(base: str, path: str) -> list[dict]:
    response = requests.get(base + path, headers={"PRIVATE-TOKEN": SIM_TOKEN}, params={"per_page": 100}, timeout=30)
    if response.status_code != 200:
        return []
    body = response.json()
    return body if isinstance(body, list) else [body]


def test_same_output_as_singer_sdk_on_every_stream_of_the_simulator(gitlab_sim, gitlab_dataset):
    base = gitlab_sim.api_url
    project_ids = list(gitlab_dataset.projects)[:3]
    group_ids = list(gitlab_dataset.groups)[:3]
    checked = set()
    for cls in STREAM_TYPES:
        schema = cls._load_schema()
        conformer = Conformer(schema)
        raw: list[dict] = []
        contexts = [{"group_id": g} for g in group_ids] if cls.scope in ("group", "resolved_groups") else []
        contexts += [{"project_id": p} for p in project_ids] if cls.scope in ("project", "resolved_projects") else []
        for context in contexts or [{}]:
            if cls.parent_path and cls.child_path:
                for parent in _fetch(base, cls.parent_path.format(**context))[:5]:
                    raw += _fetch(base, cls.child_path.format(**{**context, **parent}))
            elif "{file_path}" in cls.path:  # the readme: a file at a ref
                raw += _fetch(base, cls.path.format(**context, file_path="README.md") + "?ref=main")
            elif cls.path:
                raw += _fetch(base, cls.path.format(**context))
            elif cls.scope == "resolved_projects":
                raw += _fetch(base, f"/projects/{context['project_id']}")
            elif cls.scope == "resolved_groups":
                raw += _fetch(base, f"/groups/{context['group_id']}")
        for record in raw:
            assert _same(conformer.conform(cls.name, dict(record), LOG), _sdk(cls.name, dict(record), schema))
        if raw:
            checked.add(cls.name)
    assert len(checked) >= 25, sorted(checked)


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
def test_same_output_as_singer_sdk_on_edge_cases(record, caplog):
    conformer = Conformer(SCHEMA)
    with caplog.at_level(logging.WARNING):
        ours = conformer.conform("edge", dict(record), LOG)
    ours_log = caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        theirs = _sdk("edge2", dict(record), SCHEMA)
    assert _same(ours, theirs)
    assert ours_log.replace("edge", "") == caplog.text.replace("edge2", "")  # the same unmapped-properties warning
