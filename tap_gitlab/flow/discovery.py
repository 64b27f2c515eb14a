"""The tap's discovery as Flow bindings, and the checks behind `validate`.

Discovery runs in-process: the tap's catalog is static (stream classes and schema files; no API call), so
building `TapGitLab` here gives exactly what `tap-gitlab --discover` prints, with the config checked by
the same normaliser, without a second interpreter start. Anything singer-sdk might print goes to stderr
(`__main__` points file descriptor 1 there; protocol messages have their own descriptor).
"""

from __future__ import annotations

import copy
import re
import typing as t
from dataclasses import dataclass

from tap_gitlab.errors import ConfigError, UserError
from tap_gitlab.flow.spec import tap_config

INCREMENTAL = "incremental"
FULL_REFRESH = "full_refresh"
SYNC_MODES = (INCREMENTAL, FULL_REFRESH)

# Formats Flow's schema validator knows; others (e.g. singer.decimal) are dropped from document schemas.
_KNOWN_FORMATS = {
    "date",
    "date-time",
    "time",
    "duration",
    "email",
    "hostname",
    "idn-email",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "iri",
    "iri-reference",
    "uri",
    "uri-reference",
    "uri-template",
    "uuid",
    "json-pointer",
    "relative-json-pointer",
    "regex",
    "integer",
    "number",
}


class BindingError(UserError):
    """A binding names an unknown stream or a sync mode the stream cannot do."""


@dataclass(frozen=True)
class StreamInfo:
    """One stream of the tap's catalog, as the adapter needs it."""

    name: str
    entry: dict[str, t.Any]  # the Singer catalog entry
    key_properties: tuple[str, ...]
    incremental: bool
    enabled: bool  # false for opt-in streams whose setting is off
    opt_in_setting: str | None


def tap_catalog(config: dict[str, t.Any]) -> dict[str, StreamInfo]:
    """The tap's catalog for a *tap* config, by stream name, in the tap's order. Raises `UserError`."""
    from tap_gitlab.streams import SPECS, STREAMS  # noqa: PLC0415 - singer-sdk is slow to import; spec needs none
    from tap_gitlab.tap import TapGitLab  # noqa: PLC0415

    # singer-sdk fills defaults into the config it is given: hand it a copy.
    tap = TapGitLab(config=dict(config), parse_env_config=False, validate_config=True, setup_mapper=False)
    entries = {entry["tap_stream_id"]: entry for entry in tap.catalog_dict["streams"]}
    # The tap's registry order (the order it syncs in), not the catalog's alphabetical one.
    registry = [spec.name for spec in STREAMS if spec.name in entries]
    order = registry + [name for name in entries if name not in registry]
    streams: dict[str, StreamInfo] = {}
    for entry in (entries[name] for name in order):
        name = entry["tap_stream_id"]
        stream = tap.streams.get(name)
        root = _root_metadata(entry)
        keys = entry.get("key_properties") or root.get("table-key-properties") or []
        incremental = bool(
            entry.get("replication_key")
            or root.get("replication-key")
            or root.get("valid-replication-keys")
            or root.get("forced-replication-method") == "INCREMENTAL"
        )
        streams[name] = StreamInfo(
            name=name,
            entry=entry,
            key_properties=tuple(keys),
            incremental=incremental,
            enabled=bool(getattr(stream, "enabled", True)),
            opt_in_setting=SPECS[name].opt_in if name in SPECS else None,
        )
    return streams


def _root_metadata(entry: dict[str, t.Any]) -> dict[str, t.Any]:
    for item in entry.get("metadata") or []:
        if list(item.get("breadcrumb") or []) == []:
            return t.cast(dict[str, t.Any], item.get("metadata") or {})
    return {}


def pointer(field: str) -> str:
    """A top-level field name as a JSON pointer (RFC 6901 escaping)."""
    return "/" + field.replace("~", "~0").replace("/", "~1")


def recommended_name(stream: str) -> str:
    """The collection name suffix Flow suggests: letters, digits, `-`, `_`, `.`, `/` only."""
    return re.sub(r"[^A-Za-z0-9\-_./]", "_", stream)


def _drop_unknown_formats(node: t.Any) -> None:
    if isinstance(node, dict):
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt not in _KNOWN_FORMATS:
            del node["format"]
        for value in node.values():
            _drop_unknown_formats(value)
    elif isinstance(node, list):
        for value in node:
            _drop_unknown_formats(value)


def _non_null(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """A property schema with null no longer allowed (for collection keys)."""
    schema = dict(schema)
    types = schema.get("type")
    if isinstance(types, list):
        types = [x for x in types if x != "null"]
        schema["type"] = types[0] if len(types) == 1 else types
    for combinator in ("anyOf", "oneOf"):
        if isinstance(schema.get(combinator), list):
            branches = [b for b in schema[combinator] if not (isinstance(b, dict) and b.get("type") == "null")]
            schema[combinator] = branches
    return schema


def document_schema(schema: dict[str, t.Any], keys: t.Sequence[str]) -> dict[str, t.Any]:
    """The Singer schema as a Flow document schema: an object, keys required and non-null, standard formats."""
    doc = copy.deepcopy(schema)
    doc["type"] = "object"
    _drop_unknown_formats(doc)
    properties = doc.setdefault("properties", {})
    required = list(doc.get("required") or [])
    for key in keys:
        if key not in properties:
            raise ConfigError(f"the tap's schema has no property '{key}', which is a key; this is a tap bug")
        properties[key] = _non_null(properties[key])
        if key not in required:
            required.append(key)
    doc["required"] = required
    if doc.get("additionalProperties") is False:
        # Flow writes /_meta/uuid into every document.
        properties.setdefault("_meta", {"type": "object"})
    return doc


def binding_of(info: StreamInfo) -> dict[str, t.Any]:
    """The discovered binding of one stream."""
    if not info.key_properties:
        raise ConfigError(f"stream '{info.name}' has no primary key; this is a tap bug")
    binding: dict[str, t.Any] = {
        "recommendedName": recommended_name(info.name),
        "resourceConfig": {"stream": info.name, "syncMode": INCREMENTAL if info.incremental else FULL_REFRESH},
        "documentSchema": document_schema(info.entry.get("schema") or {}, info.key_properties),
        "key": [pointer(k) for k in info.key_properties],
    }
    if not info.enabled:
        binding["disable"] = True  # an opt-in stream: enable its setting, then this binding
    return binding


def discover_bindings(config: t.Any) -> list[dict[str, t.Any]]:
    """One binding per stream of the tap."""
    return [binding_of(info) for info in tap_catalog(tap_config(config)).values()]


@dataclass(frozen=True)
class BoundStream:
    """One binding of a validate or open request, checked against the catalog."""

    index: int
    stream: str
    sync_mode: str
    info: StreamInfo


def check_bindings(streams: dict[str, StreamInfo], bindings: t.Sequence[t.Any]) -> list[BoundStream]:
    """Each binding's stream exists, its sync mode fits, and no stream is bound twice; else `BindingError`."""
    problems: list[str] = []
    bound: list[BoundStream] = []
    seen: dict[str, int] = {}
    for index, binding in enumerate(bindings):
        resource = binding.get("resourceConfig") if isinstance(binding, dict) else None
        if not isinstance(resource, dict):
            problems.append(f"binding {index} has no resourceConfig")
            continue
        stream = resource.get("stream")
        if not isinstance(stream, str) or stream not in streams:
            problems.append(f"binding {index}: unknown stream {stream!r}")
            continue
        info = streams[stream]
        mode = resource.get("syncMode") or (INCREMENTAL if info.incremental else FULL_REFRESH)
        if mode not in SYNC_MODES:
            problems.append(f"binding {index} ({stream}): syncMode must be incremental or full_refresh, got {mode!r}")
            continue
        if mode == INCREMENTAL and not info.incremental:
            problems.append(f"binding {index} ({stream}): the stream has no replication key; use full_refresh")
            continue
        if stream in seen:
            problems.append(f"binding {index} ({stream}): the stream is already bound by binding {seen[stream]}")
            continue
        seen[stream] = index
        bound.append(BoundStream(index, stream, mode, info))
    if problems:
        raise BindingError("; ".join(problems))
    return bound


def validate(config: t.Any, bindings: t.Sequence[t.Any]) -> list[list[str]]:
    """Check the config, the bindings and GitLab access (one cheap real call per group/project and /user).

    Returns the resource path of each binding, in request order. Raises `UserError` with one line.
    """
    from tap_gitlab.tap import validate_access  # noqa: PLC0415

    settings = tap_config(config)
    streams = tap_catalog(settings)
    bound = check_bindings(streams, bindings)
    off = sorted({b.info.opt_in_setting for b in bound if not b.info.enabled and b.info.opt_in_setting})
    if off:
        names = ", ".join(b.stream for b in bound if not b.info.enabled)
        raise BindingError(f"{names}: opt-in stream(s) bound while {' and '.join(off)} is off; turn it on")
    if not _validate_oauth_access(settings):
        validate_access(settings)
    return [[b.stream] for b in bound]


def _validate_oauth_access(config: dict[str, t.Any]) -> bool:
    """OAuth: check access with the access token as it is, never refreshing; False if not an OAuth config.

    A refresh here would spend the config's refresh token (GitLab revokes the old pair once the new access
    token is used) with no way to hand the new pair to Flow: only a capture session's log events reach the
    control plane as config updates (config_update.py). Estuary's CDK likewise refreshes rotating tokens only
    when a session opens. A token known to have expired is not checked at all: the next session refreshes it.
    """
    import datetime as dt  # noqa: PLC0415

    from tap_gitlab.auth import BearerAuth  # noqa: PLC0415
    from tap_gitlab.client import GitLabClient  # noqa: PLC0415
    from tap_gitlab.errors import AuthError  # noqa: PLC0415
    from tap_gitlab.flow.protocol import LOG  # noqa: PLC0415
    from tap_gitlab.scope import check_access  # noqa: PLC0415
    from tap_gitlab.settings import normalize  # noqa: PLC0415

    settings = normalize(config)
    if settings.oauth is None:
        return False
    expiry = settings.oauth.token_expiry
    if expiry is not None and expiry <= dt.datetime.now(dt.UTC):
        LOG.warn(
            "validate: the OAuth access token has expired, so GitLab access is not checked now; the next "
            "capture session refreshes it and hands the new pair to Flow"
        )
        return True
    client = GitLabClient(settings)
    client.auth = BearerAuth(settings.oauth.access_token)
    try:
        check_access(client, settings.groups, settings.projects)
    except AuthError as exc:
        if "401" not in str(exc):
            raise
        raise AuthError(
            "GitLab rejected the OAuth access token (401): it expired or was revoked, and validation does not "
            "refresh it (only a capture session can hand the new pair to Flow); re-authorize the connector"
        ) from None
    return True
