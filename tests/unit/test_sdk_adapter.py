"""tap_gitlab/sdk_adapter.py relies on singer-sdk's private names: each is pinned here against the installed SDK.

When singer-sdk is upgraded and one of these fails, the adapter is the one file to change.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from singer_sdk import Stream, Tap
from singer_sdk.helpers import _typing

from tap_gitlab import sdk_adapter

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# name -> the parameters (name, kind, default) the adapter calls or overrides it with.
P = inspect.Parameter
STREAM_SIGNATURES = {
    "_sync_records": [("self", P.POSITIONAL_OR_KEYWORD, P.empty), ("context", P.POSITIONAL_OR_KEYWORD, None),
                      ("write_messages", P.KEYWORD_ONLY, True)],
    "_increment_stream_state": [("self", P.POSITIONAL_OR_KEYWORD, P.empty),
                                ("latest_record", P.POSITIONAL_OR_KEYWORD, P.empty),
                                ("context", P.KEYWORD_ONLY, None)],
    "_process_record": [("self", P.POSITIONAL_OR_KEYWORD, P.empty), ("record", P.POSITIONAL_OR_KEYWORD, P.empty),
                        ("child_context", P.POSITIONAL_OR_KEYWORD, None),
                        ("partition_context", P.POSITIONAL_OR_KEYWORD, None)],
    "_write_state_message": [("self", P.POSITIONAL_OR_KEYWORD, P.empty)],
    "_write_starting_replication_value": [("self", P.POSITIONAL_OR_KEYWORD, P.empty),
                                          ("context", P.POSITIONAL_OR_KEYWORD, P.empty)],
    "_write_activate_version_message": [("self", P.POSITIONAL_OR_KEYWORD, P.empty),
                                        ("full_table_version", P.POSITIONAL_OR_KEYWORD, P.empty)],
    "_generate_record_messages": [("self", P.POSITIONAL_OR_KEYWORD, P.empty),
                                  ("record", P.POSITIONAL_OR_KEYWORD, P.empty)],
}  # fmt: skip
TAP_SIGNATURES = {
    "_validate_config": [("self", P.POSITIONAL_OR_KEYWORD, P.empty), ("raise_errors", P.KEYWORD_ONLY, True)],
}
TYPING_ARITY = {"_conform_primitive_property": 2, "_is_exclusive_boolean_type": 1, "is_object_type": 1,
                "is_uniform_list": 1}  # fmt: skip


def _parameters(function: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]  # type: ignore[arg-type]


def test_the_installed_singer_sdk_satisfies_pyproject() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    requirement = next(Requirement(d) for d in dependencies if Requirement(d).name == "singer-sdk")
    assert requirement.specifier.contains(importlib.metadata.version("singer-sdk"))


def test_every_private_name_the_adapter_uses_is_listed_here() -> None:
    assert set(sdk_adapter.PRIVATE_STREAM_METHODS) == set(STREAM_SIGNATURES)
    assert set(sdk_adapter.PRIVATE_TAP_METHODS) == set(TAP_SIGNATURES)
    assert set(sdk_adapter.PRIVATE_TYPING_NAMES) == set(TYPING_ARITY)


@pytest.mark.parametrize("name", sorted(STREAM_SIGNATURES))
def test_private_stream_methods_keep_their_signatures(name: str) -> None:
    assert _parameters(getattr(Stream, name)) == STREAM_SIGNATURES[name]


@pytest.mark.parametrize("name", sorted(TAP_SIGNATURES))
def test_private_tap_methods_keep_their_signatures(name: str) -> None:
    assert _parameters(getattr(Tap, name)) == TAP_SIGNATURES[name]


@pytest.mark.parametrize("name", sorted(TYPING_ARITY))
def test_private_typing_helpers_exist_with_their_arity(name: str) -> None:
    assert len(inspect.signature(getattr(_typing, name)).parameters) == TYPING_ARITY[name]


def test_private_attributes_are_set_by_the_sdk() -> None:
    """`_stream_version` (Stream.__init__) and `_state_writer` (Tap.__init__) are assigned in the SDK's source."""
    stream_source = inspect.getsource(Stream.__init__)
    tap_source = inspect.getsource(Tap.__init__)
    for name in sdk_adapter.PRIVATE_STREAM_ATTRIBUTES:
        assert f"self.{name}" in stream_source, name
    for name in sdk_adapter.PRIVATE_TAP_ATTRIBUTES:
        assert f"self.{name}" in tap_source, name
    # What `write_activate_version` and `write_state` use them for.
    assert "_stream_version" in inspect.getsource(Stream._generate_record_messages)
    assert callable(getattr(getattr(Tap, "state_writer", None), "fget", None))


def _private_methods(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if n.startswith("_") and not n.startswith("__") and callable(v)}


def test_the_adapter_overrides_exactly_the_hooks_it_documents() -> None:
    assert _private_methods(sdk_adapter.AdaptedStream) == {
        "_sync_records",
        "_increment_stream_state",
        "_process_record",
        "_generate_record_messages",
    }
    assert _private_methods(sdk_adapter.AdaptedTap) == {"_validate_config"}


def test_the_record_message_fast_path_skips_only_what_is_a_no_op_there() -> None:
    """`AdaptedStream._generate_record_messages` skips the SDK's deselection walk and its conformance when every
    property is selected and conformance is off; the rest of the SDK's method is what the adapter does."""
    source = inspect.getsource(Stream._generate_record_messages)
    for step in ("pop_deselected_record_properties(record, self.schema, self.mask)", "conform_record_data_types(",
                 "level=self.TYPE_CONFORMANCE_LEVEL", "for stream_map in self.stream_maps:",
                 "stream_map.transform(record)", "stream=stream_map.stream_alias", "version=self._stream_version",
                 "time_extracted=utc_now()"):  # fmt: skip
        assert step in source, step
    from singer_sdk.helpers import _util
    from singer_sdk.singerlib.catalog import SelectionMask

    assert len(inspect.signature(_util.utc_now).parameters) == 0
    mask = SelectionMask({(): True, ("properties", "a"): True})
    assert mask[("properties", "unknown", "properties", "x")] is True  # missing breadcrumbs: the parent's value
