"""The stream declarations (tap_gitlab/streams/*): complete, consistent, and partitioned as documented."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest

from tap_gitlab.paginators import LinkPaginator, UpdatedAtSeekPaginator
from tap_gitlab.readers import events, fan_out, project_jobs
from tap_gitlab.scope import Scope
from tap_gitlab.settings import normalize
from tap_gitlab.spec import StreamSpec, describe, endpoint, partitions
from tap_gitlab.streams import SPECS, STREAMS
from tap_gitlab.streams.base import load_schema

SCOPE = Scope(
    groups={1: {"full_path": "top"}, 2: {"full_path": "top/sub"}},
    projects={10: {"path_with_namespace": "top/sub/app"}, 20: {"path_with_namespace": "other/lib"}},
    top_groups=[1],
    project_top_group={10: 1},
)


def _settings(**values: t.Any) -> t.Any:
    return normalize({"api_url": "https://gitlab.example.com", "private_token": "x", **values})


def test_every_stream_is_declared_once_with_a_schema() -> None:
    assert len(SPECS) == len(STREAMS) == 41
    for spec in STREAMS:
        schema = load_schema(spec.name)
        for key in spec.keys:
            assert key in schema["properties"], (spec.name, key)


@pytest.mark.parametrize("spec", STREAMS, ids=lambda spec: spec.name)
def test_a_declaration_is_frozen_and_its_parts_fit_together(spec: StreamSpec) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    assert (spec.parent is None) == (spec.child is None), "a fan-out stream has both a parent and a child"
    if spec.parent:
        assert spec.reader in (fan_out.read, project_jobs.read)
        assert spec.replication_key in spec.parent.fields, "the bookmark is a parent field"
        assert not spec.path
    if spec.group_listing:
        assert spec.scope == "project"
    if spec.sorted:
        assert spec.replication_key
    assert endpoint(spec).startswith("/")


def test_partitions_follow_the_scope_and_the_settings() -> None:
    issues, pipelines, members = SPECS["issues"], SPECS["pipelines"], SPECS["group_members"]
    assert partitions(issues, _settings(), SCOPE) == [{"group_id": 1}, {"project_id": 20}]
    assert partitions(issues, _settings(include_subgroups=False), SCOPE) == [{"project_id": 10}, {"project_id": 20}]
    assert partitions(pipelines, _settings(include_child_pipelines=False), SCOPE) == [
        {"project_id": 10},
        {"project_id": 20},
    ]
    assert partitions(pipelines, _settings(), SCOPE)[:2] == [
        {"project_id": 10},
        {"project_id": 10, "source": "parent_pipeline"},
    ]
    assert partitions(members, _settings(), SCOPE) == [{"group_id": 1}, {"group_id": 2}]
    assert partitions(SPECS["site_users"], _settings(), SCOPE) is None
    assert describe(pipelines, SCOPE, {"project_id": 10, "source": "parent_pipeline"}) == (
        "project 10 (top/sub/app) (source=parent_pipeline)"
    )


@pytest.mark.parametrize("spec", STREAMS, ids=lambda spec: spec.name)
def test_listings_are_ordered_by_their_declared_paginator_not_by_parameters(spec: StreamSpec) -> None:
    parts = [spec.params, *(part.params for part in (spec.parent, spec.child) if part is not None)]
    for params in parts:
        assert not {"order_by", "sort", "pagination"} & set(params), spec.name
    if spec.sorted and spec.reader is not events.read:  # events page by windows of days (readers/events.py)
        assert isinstance(spec.listing[2], UpdatedAtSeekPaginator), spec.name
    assert isinstance(spec.listing[2], LinkPaginator)  # every paginator follows GitLab's next links
