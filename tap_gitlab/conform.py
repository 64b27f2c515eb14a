"""Record conformance, compiled once per schema.

singer-sdk conforms every record to its stream's schema (recursively: properties the schema does not
declare are dropped with one warning, booleans are made booleans, NaN becomes null). It re-derives every
property's schema kind for every value of every record, which was the largest CPU cost of a sync (about
40% of the main thread, measured on the benchmark). `Conformer` does the same walk with the per-property
decisions made once per schema, and gives the same output for the same input: values that are not plain
JSON (a datetime, bytes, ...) and shapes it has no plan for go to singer-sdk's own functions.
"""

from __future__ import annotations

import logging
import math
import typing as t

from singer_sdk.helpers._typing import (
    _conform_primitive_property,
    _conform_record_data_types,
    _is_exclusive_boolean_type,
    _warn_unmapped_properties,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers.conform import TypeConformanceLevel

_RECURSIVE = TypeConformanceLevel.RECURSIVE


class _Property:
    """What to do with one property's value (or a uniform list's items), decided once from its schema."""

    __slots__ = ("boolean", "items", "obj", "schema")

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.schema = schema
        self.boolean = _is_exclusive_boolean_type(schema)
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
            self._properties = {name: _Property(sub) for name, sub in self.schema["properties"].items()}
        return self._properties


def _primitive(value: t.Any, prop: _Property) -> t.Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        if prop.boolean:
            return None if value is None else value != 0
        return value
    if kind is float:
        return None if math.isnan(value) or math.isinf(value) else value
    return _conform_primitive_property(value, prop.schema)  # datetimes, bytes, decimals, ...


def _conform_object(value: dict[str, t.Any], plan: _Object, parent: str | None, unmapped: list[str]) -> dict:
    properties = plan.properties
    out: dict[str, t.Any] = {}
    for name, elem in value.items():
        prop = properties.get(name)
        if prop is None:
            if plan.additional:
                out[name] = elem
            else:
                unmapped.append(name if parent is None else f"{parent}.{name}")
            continue
        if prop.items is not None and isinstance(elem, list):
            path = name if parent is None else f"{parent}.{name}"
            out[name] = _conform_list(elem, prop.items, path, unmapped)
        elif prop.obj is not None and isinstance(elem, dict):
            out[name] = _conform_object(elem, prop.obj, name if parent is None else f"{parent}.{name}", unmapped)
        else:
            out[name] = _primitive(elem, prop)
    return out


def _conform_list(value: list[t.Any], items: _Property, path: str, unmapped: list[str]) -> list[t.Any]:
    out = []
    for item in value:
        if isinstance(item, dict) and is_object_type(items.schema):
            if items.obj is not None:
                out.append(_conform_object(item, items.obj, path, unmapped))
            else:  # an object schema without properties: whatever singer-sdk does with it
                conformed, more = _conform_record_data_types(item, items.schema, _RECURSIVE, path)
                unmapped.extend(more)
                out.append(conformed)
        else:
            out.append(_primitive(item, items))
    return out


class Conformer:
    """singer-sdk's recursive conformance of records to one schema."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.schema = schema
        self._root = _Object(schema)

    def conform(self, stream_name: str, record: dict[str, t.Any], logger: logging.Logger) -> dict[str, t.Any]:
        unmapped: list[str] = []
        out = _conform_object(record, self._root, None, unmapped)
        if unmapped:
            _warn_unmapped_properties(stream_name, tuple(unmapped), logger)
        return out
