"""Configuration: every setting declared once (`SETTINGS`), and its normalisation into one typed `Settings` object.

Each `Setting` holds a setting's name, kind, default, title, description and how it is offered. From that one
table come the tap's JSON Schema (`SETTINGS_SCHEMA`: `--about`, discover, the Flow spec), meltano.yml's settings
(`meltano_settings`, written by `python -m tap_gitlab.docs`), the Flow form (tap_gitlab/flow/spec.py) and
`normalize`, which runs each declaration's parser in the table's order.

Accepts Meltano's flat `private_token`, Estuary's `credentials` shapes (`auth_type: access_token | oauth2.0`)
and the shape in Estuary's GitLab docs (`option_title: "PAT Credentials"`, `personal_access_token`).
Every invalid value raises `ConfigError` with one line saying what is wrong and how to fix it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import re
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from tap_gitlab import timestamps
from tap_gitlab.errors import ConfigError
from tap_gitlab.sharding import Shard, parse_shard

DEFAULT_API_URL = "https://gitlab.com"
DEFAULT_REQUESTS_PER_MINUTE = 1800  # gitlab.com allows 2,000/min for authenticated API traffic; keep headroom
# Self-managed instances: GitLab's default authenticated API limit, when an admin enables it, is 7,200/min;
# RateLimit-* headers and 429s slow the tap further wherever the instance is stricter.
DEFAULT_SELF_MANAGED_REQUESTS_PER_MINUTE = 7200


@dataclass(frozen=True)
class OAuthCredentials:
    """OAuth2 application credentials and the current token pair."""

    client_id: str
    client_secret: str
    access_token: str
    refresh_token: str
    token_expiry: dt.datetime | None


@dataclass(frozen=True)
class Settings:
    """Validated, normalised settings. Only `normalize` builds one: the values, defaults included, come from
    `SETTINGS` (a field missing there fails every run at once)."""

    api_url: str  # instance base URL without a trailing slash or /api/v4
    token: str | None  # personal/project/group access token (sent as PRIVATE-TOKEN)
    oauth: OAuthCredentials | None
    groups: tuple[str, ...]
    projects: tuple[str, ...]
    start_date: dt.datetime | None
    include_subgroups: bool
    include_archived: bool
    fetch_site_users: bool
    fetch_project_variables: bool
    fetch_group_variables: bool
    fetch_vulnerabilities: bool
    fetch_trigger_jobs: bool
    fetch_resource_events: bool
    commits_all_branches: bool
    include_child_pipelines: bool
    emit_activate_version_messages: bool
    max_concurrency: int
    requests_per_minute: int
    request_timeout: float
    user_agent: str | None
    ca_bundle: str | None
    oauth_token_store: str | None
    shard: Shard
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def api_root(self) -> str:
        """The REST API root, e.g. https://corp.example/gitlab/api/v4."""
        return f"{self.api_url}/api/v4"


@dataclass
class _Given:
    """What a parser reads: the raw config, the clock, and the `Settings` fields parsed before it (table order)."""

    config: t.Mapping[str, t.Any]
    now: dt.datetime | None
    parsed: dict[str, t.Any] = field(default_factory=dict)


# A parser returns the `Settings` fields its setting fills (usually one, named like the setting).
Parser = t.Callable[["Setting", _Given], dict[str, t.Any]]


@dataclass(frozen=True)
class Setting:
    """One setting, declared once."""

    name: str
    kind: str  # a key of `_KINDS`: the JSON type, the Meltano kind and the parser, unless given below
    title: str
    description: str
    default: t.Any = None  # None: no default (or one that depends on other settings, see its parser)
    secret: bool = False  # Meltano `sensitive`; the JSON Schema marks a scalar one `secret`/`writeOnly`
    minimum: int | None = None
    maximum: int | None = None
    parse: Parser | None = None  # None: the kind's
    meltano_kind: str = ""  # "": the kind's
    in_flow_form: bool = True
    flow_note: str = ""  # why the Flow form does not offer it, or how it does
    flow_description: str = ""  # the Flow form's wording, where it differs from `description`
    schema_extra: t.Mapping[str, t.Any] = field(default_factory=dict)  # more JSON Schema (an object's properties)

    @property
    def meltano(self) -> str:
        return self.meltano_kind or _KINDS[self.kind].meltano

    def parser(self) -> Parser:
        parse = self.parse or _KINDS[self.kind].parse
        assert parse is not None, f"setting {self.name} needs a parser"
        return parse

    def json_schema(self) -> dict[str, t.Any]:
        kind = _KINDS[self.kind]
        schema: dict[str, t.Any] = copy.deepcopy(dict(kind.schema))
        for key, value in (("default", self.default), ("minimum", self.minimum), ("maximum", self.maximum)):
            if value is not None:
                schema[key] = value
        schema.update(copy.deepcopy(dict(kind.extra)))
        schema["title"] = self.title
        schema["description"] = self.description
        if self.secret and "properties" not in self.schema_extra:  # an object marks its secret properties
            schema.update({"secret": True, "writeOnly": True})
        schema.update(copy.deepcopy(dict(self.schema_extra)))
        return schema


# -- parsers ---------------------------------------------------------------------------------------------------


def _bool(config: t.Mapping[str, t.Any], name: str, default: bool) -> bool:
    value = config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    raise ConfigError(f"setting '{name}' must be true or false, got {value!r}")


def _number(config: t.Mapping[str, t.Any], name: str, default: float, *, minimum: float) -> float:
    value = config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ConfigError(f"setting '{name}' must be a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting '{name}' must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"setting '{name}' must be a finite number, got {value!r}")
    if number < minimum:
        raise ConfigError(f"setting '{name}' must be at least {minimum:g}, got {value!r}")
    return number


def _int(config: t.Mapping[str, t.Any], name: str, default: int, *, minimum: int, maximum: int) -> int:
    number = _number(config, name, default, minimum=minimum)
    if number != int(number) or number > maximum:
        raise ConfigError(f"setting '{name}' must be a whole number from {minimum} to {maximum}, got {number:g}")
    return int(number)


def _string(config: t.Mapping[str, t.Any], name: str) -> str | None:
    value = config.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"setting '{name}' must be a string, got {type(value).__name__}")
    return value.strip() or None


def _selection(config: t.Mapping[str, t.Any], name: str) -> tuple[str, ...]:
    """Groups/projects: a list, or a string separated by spaces or commas; paths or numeric ids."""
    value = config.get(name)
    if value is None or value == "":
        return ()
    items: list[t.Any]
    if isinstance(value, str) and value.strip().startswith("["):
        # A JSON list as text: what `meltano config set` stores for '["a", "b"]' under the string kind.
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(
                f"setting '{name}' starts with '[' but is not a JSON list: {value!r}; "
                'use e.g. ["group", "group/project"] or a space-separated string'
            ) from None
    if isinstance(value, str):
        items = re.split(r"[\s,]+", value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ConfigError(
            f"setting '{name}' must be a list or a space-separated string of paths or ids, got {type(value).__name__}"
        )
    result: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ConfigError(f"setting '{name}' holds {item!r}; use paths like 'group/project' or numeric ids")
        text = str(item).strip().strip("/")
        if not text:
            continue
        if "://" in text:
            raise ConfigError(
                f"setting '{name}' holds a URL ({text}); give the path after the host, like 'group/project'"
            )
        if text not in result:
            result.append(text)
    return tuple(result)


def parse_datetime(value: str, name: str) -> dt.datetime:
    """Parse an ISO 8601 instant (date-only means midnight UTC); naive times are taken as UTC."""
    try:
        return timestamps.parse(value)
    except ValueError:
        raise ConfigError(
            f"setting '{name}' is not a valid date-time: {value!r}; use ISO 8601 like 2024-01-31T00:00:00Z"
        ) from None


def _default_rate(api_url: str) -> int:
    host = (urlsplit(api_url).hostname or "").lower()
    on_gitlab_com = host == "gitlab.com" or host.endswith(".gitlab.com")
    return DEFAULT_REQUESTS_PER_MINUTE if on_gitlab_com else DEFAULT_SELF_MANAGED_REQUESTS_PER_MINUTE


def normalize_api_url(value: t.Any) -> tuple[str, list[str]]:
    """Return the instance base URL (no trailing slash, no /api/v4) and any warnings about it."""
    if value is None or value == "":
        return DEFAULT_API_URL, []
    if not isinstance(value, str):
        raise ConfigError(f"setting 'api_url' must be a URL string, got {type(value).__name__}")
    text = value.strip()
    if re.search(r"\s", text):
        raise ConfigError(f"setting 'api_url' is not a URL: {text!r}; use e.g. https://gitlab.example.com")
    if "://" not in text:
        raise ConfigError(f"setting 'api_url' must start with https:// (or http://), got {text!r}; e.g. https://{text}")
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"setting 'api_url' is not an http(s) URL: {text!r}; e.g. https://gitlab.example.com")
    if parts.username or parts.password:
        raise ConfigError("setting 'api_url' must not contain credentials; put the token in private_token")
    if parts.query or parts.fragment:
        raise ConfigError(f"setting 'api_url' must not have a query or fragment: {text!r}")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"setting 'api_url' has an invalid port: {text!r}") from None
    path = re.sub(r"/+$", "", parts.path)
    path = re.sub(r"/api/v4$", "", path)
    warnings = []
    if parts.scheme == "http":
        warnings.append(
            "api_url uses plain http://: the token travels unencrypted; use https:// unless this is a local test"
        )
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), warnings


def _credentials(config: t.Mapping[str, t.Any]) -> tuple[str | None, OAuthCredentials | None]:
    flat = config.get("private_token")
    creds = config.get("credentials")
    if flat is not None and not isinstance(flat, str):
        raise ConfigError("setting 'private_token' must be a string")
    if creds is not None and not isinstance(creds, dict):
        raise ConfigError("setting 'credentials' must be an object with auth_type and a token")
    if flat and flat.strip():
        return flat.strip(), None
    if not creds:
        raise ConfigError(
            "no access token: set private_token (a token with the read_api scope) or credentials.access_token"
        )
    auth_type = creds.get("auth_type")
    if auth_type == "oauth2.0":
        missing = [k for k in ("client_id", "client_secret", "access_token", "refresh_token") if not creds.get(k)]
        if missing:
            raise ConfigError(f"OAuth credentials are missing {', '.join(missing)}; re-authorize the connector")
        expiry_text = creds.get("token_expiry_date")
        expiry = parse_datetime(expiry_text, "credentials.token_expiry_date") if expiry_text else None
        return None, OAuthCredentials(
            client_id=str(creds["client_id"]),
            client_secret=str(creds["client_secret"]),
            access_token=str(creds["access_token"]),
            refresh_token=str(creds["refresh_token"]),
            token_expiry=expiry,
        )
    if auth_type not in (None, "access_token"):
        raise ConfigError(f"credentials.auth_type must be 'access_token' or 'oauth2.0', got {auth_type!r}")
    token = creds.get("access_token") or creds.get("personal_access_token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigError("credentials has no access token: set credentials.access_token (scope read_api)")
    return token.strip(), None


def _api_url_fields(setting: Setting, given: _Given) -> dict[str, t.Any]:
    api_url, warnings = normalize_api_url(given.config.get(setting.name))
    return {"api_url": api_url, "warnings": tuple(warnings)}


def _token_fields(setting: Setting, given: _Given) -> dict[str, t.Any]:
    """`credentials`: the token or the OAuth application, from it or from the flat `private_token`."""
    token, oauth = _credentials(given.config)
    return {"token": token, "oauth": oauth}


def _read_with_credentials(setting: Setting, given: _Given) -> dict[str, t.Any]:
    """`private_token`: read together with `credentials` (`_token_fields`)."""
    return {}


def _not_read(setting: Setting, given: _Given) -> dict[str, t.Any]:
    """Read where it is used (`config_encryption_url`: tap_gitlab/flow/config_update.py), not a `Settings` field."""
    return {}


def _start_date(setting: Setting, given: _Given) -> dict[str, t.Any]:
    start_text = given.config.get(setting.name)
    start_date = None
    if start_text not in (None, ""):
        if not isinstance(start_text, str):
            raise ConfigError("setting 'start_date' must be an ISO 8601 string like 2024-01-31T00:00:00Z")
        start_date = parse_datetime(start_text, "start_date")
        if start_date > (given.now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=1):
            raise ConfigError(f"setting 'start_date' is in the future ({start_text}); nothing would be extracted")
    return {setting.name: start_date}


def _rate(setting: Setting, given: _Given) -> dict[str, t.Any]:
    """`requests_per_minute`: its default depends on the host (`_default_rate`)."""
    assert setting.minimum is not None, setting.name
    default = _default_rate(given.parsed["api_url"])  # api_url comes first in the table
    value = _int(given.config, setting.name, default, minimum=setting.minimum, maximum=1_000_000)  # no schema maximum
    return {setting.name: value}


def _existing_file(setting: Setting, given: _Given) -> dict[str, t.Any]:
    path = _string(given.config, setting.name)
    if path and not os.path.isfile(path):
        raise ConfigError(f"setting '{setting.name}' names a file that does not exist: {path}")
    return {setting.name: path}


def _file_in_existing_folder(setting: Setting, given: _Given) -> dict[str, t.Any]:
    path = _string(given.config, setting.name)
    if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise ConfigError(f"setting '{setting.name}' is in a folder that does not exist: {path}")
    return {setting.name: path}


def _shard(setting: Setting, given: _Given) -> dict[str, t.Any]:
    return {setting.name: parse_shard(given.config.get(setting.name))}


def _parse_bool(setting: Setting, given: _Given) -> dict[str, t.Any]:
    return {setting.name: _bool(given.config, setting.name, setting.default)}


def _parse_int(setting: Setting, given: _Given) -> dict[str, t.Any]:
    assert setting.minimum is not None and setting.maximum is not None, setting.name
    value = _int(given.config, setting.name, setting.default, minimum=setting.minimum, maximum=setting.maximum)
    return {setting.name: value}


def _parse_number(setting: Setting, given: _Given) -> dict[str, t.Any]:
    assert setting.minimum is not None, setting.name
    return {setting.name: _number(given.config, setting.name, setting.default, minimum=setting.minimum)}


def _parse_string(setting: Setting, given: _Given) -> dict[str, t.Any]:
    return {setting.name: _string(given.config, setting.name)}


def _parse_selection(setting: Setting, given: _Given) -> dict[str, t.Any]:
    return {setting.name: _selection(given.config, setting.name)}


# -- kinds -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    schema: t.Mapping[str, t.Any]  # the JSON Schema's type (first in the property)
    meltano: str
    parse: Parser | None  # None: each setting of the kind names its own
    extra: t.Mapping[str, t.Any] = field(default_factory=dict)  # JSON Schema after the default and bounds


def _nullable(json_type: str) -> dict[str, t.Any]:
    return {"type": [json_type, "null"]}


# Meltano kinds: number settings are `string` because Meltano 4 casts an integer setting's text with int() (a
# traceback for "2.5" or "abc") and cannot write a decimal one read from an environment variable to the tap's
# config; the tap parses the number and names the setting in one line when it is not one. Groups and projects
# are `string`, not array: Meltano parses an array setting's text as JSON, so "a b" and `platform-co` would fail
# before the tap sees them; the tap takes a space- or comma-separated string, a JSON list or a list.
_KINDS: dict[str, _Kind] = {
    "url": _Kind({"type": "string"}, "string", None),
    "secret": _Kind(_nullable("string"), "password", None),
    "object": _Kind(_nullable("object"), "object", None),
    "selection": _Kind(
        {
            "anyOf": [
                {"type": "array", "items": {"type": ["string", "integer"]}},
                {"type": "string"},
                {"type": "null"},
            ]
        },
        "string",
        _parse_selection,
    ),
    "date-time": _Kind(_nullable("string"), "date_iso8601", None, extra={"format": "date-time"}),
    "boolean": _Kind(_nullable("boolean"), "boolean", _parse_bool),
    "integer": _Kind(_nullable("integer"), "string", _parse_int),
    "number": _Kind(_nullable("number"), "string", _parse_number),
    "string": _Kind(_nullable("string"), "string", _parse_string),
    # `{index, count}`, or its JSON text, or `i/N`: Meltano's `object` kind cannot take `i/N` from a variable.
    "shard": _Kind(
        {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "index": {"type": ["integer", "string"]},
                        "count": {"type": ["integer", "string"]},
                    },
                },
                {"type": "string"},
                {"type": "null"},
            ]
        },
        "string",
        _shard,
    ),
}

_SECRET = {"type": "string", "secret": True, "writeOnly": True}
_IN_CONTAINER = "a path inside the container"

# The settings, in the order of `--about`, the README and meltano.yml (the Flow form leads with `credentials`).
# Kept permissive on types that `normalize` converts (lists given as strings, numbers given as strings) so that
# `normalize` can give one clear line for anything wrong.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "api_url",
        "url",
        "GitLab URL",
        "Base URL of the GitLab instance, e.g. https://gitlab.com or "
        "https://corp.example/gitlab (a trailing /api/v4 is accepted).",
        default=DEFAULT_API_URL,
        parse=_api_url_fields,
    ),
    Setting(
        "private_token",
        "secret",
        "Access token",
        "Personal, project or group access token with the read_api scope.",
        secret=True,
        parse=_read_with_credentials,
        in_flow_form=False,
        flow_note="the Flow form's credentials replace it",
    ),
    Setting(
        "credentials",
        "object",
        "Credentials",
        "Estuary-style credentials: {auth_type: access_token, access_token} or "
        "{auth_type: oauth2.0, client_id, client_secret, access_token, refresh_token, token_expiry_date}.",
        secret=True,
        parse=_token_fields,
        flow_note="the form's first field, in Estuary's shape (tap_gitlab/flow/spec.py)",
        schema_extra={
            "properties": {
                "auth_type": {"type": "string", "enum": ["access_token", "oauth2.0"]},
                "access_token": _SECRET,
                "personal_access_token": _SECRET,
                "option_title": {"type": "string"},
                "client_id": _SECRET,
                "client_secret": _SECRET,
                "refresh_token": _SECRET,
                "token_expiry_date": {"type": "string"},
            },
        },
    ),
    Setting(
        "groups",
        "selection",
        "Groups",
        "Groups to extract, as full paths or numeric ids (a list, or text separated by spaces "
        "or commas, or a JSON list). Their subgroups and all their projects are included.",
        flow_description="Space-separated full paths or numeric ids, e.g. `my-group other-group/sub`. Subgroups and "
        "all their projects are included.",
    ),
    Setting(
        "projects",
        "selection",
        "Projects",
        "Projects to extract, as full paths (group/project) or numeric ids "
        "(a list, or text separated by spaces or commas, or a JSON list).",
        flow_description="Space-separated full paths or numeric ids, e.g. `my-group/my-project 1234`.",
    ),
    Setting(
        "start_date",
        "date-time",
        "Start date",
        "Only records updated (or committed) on or after this instant are extracted by "
        "incremental streams, e.g. 2024-01-01T00:00:00Z. Empty means everything.",
        parse=_start_date,
    ),
    Setting(
        "include_subgroups",
        "boolean",
        "Include subgroups",
        "Also extract all descendant groups of the configured groups, and their projects.",
        default=True,
    ),
    Setting("include_archived", "boolean", "Include archived projects", "Extract archived projects too.", default=True),
    Setting(
        "fetch_site_users",
        "boolean",
        "Extract all users of the instance",
        "Opt-in: the site_users stream lists every user of the instance (GET /users).",
        default=False,
    ),
    Setting(
        "fetch_project_variables",
        "boolean",
        "Extract project CI/CD variables",
        "Opt-in: project_variables holds CI/CD secrets. Needs Maintainer access.",
        default=False,
    ),
    Setting(
        "fetch_group_variables",
        "boolean",
        "Extract group CI/CD variables",
        "Opt-in: group_variables holds CI/CD secrets. Needs Owner access.",
        default=False,
    ),
    Setting(
        "fetch_vulnerabilities",
        "boolean",
        "Extract vulnerabilities",
        "Opt-in: the vulnerabilities stream (GitLab Ultimate).",
        default=False,
    ),
    Setting(
        "fetch_resource_events",
        "boolean",
        "Extract resource events",
        "Opt-in: the label, state and milestone change history of issues and merge requests (six "
        "streams: issue_label_events, issue_state_events, ...). Three requests per issue and per merge request on "
        "the first run, per changed one after.",
        default=False,
    ),
    Setting(
        "fetch_trigger_jobs",
        "boolean",
        "Extract trigger jobs",
        "Opt-in: the trigger_jobs stream (bridges: the jobs that start child and multi-project "
        "pipelines, which no job listing includes). One request per pipeline on the first run, per changed "
        "pipeline after.",
        default=False,
    ),
    Setting(
        "commits_all_branches",
        "boolean",
        "Commits from all branches",
        "Read commits of every branch (all=true) instead of the default branch only.",
        default=False,
    ),
    Setting(
        "include_child_pipelines",
        "boolean",
        "Child pipelines",
        "Also extract child pipelines (source parent_pipeline) and their jobs, which GitLab "
        "17.0+ hides from the pipeline listing: one more listing request per project for each of pipelines, "
        "pipelines_extended and jobs.",
        default=True,
    ),
    Setting(
        "emit_activate_version_messages",
        "boolean",
        "Signal deletions (ACTIVATE_VERSION)",
        "Full-table streams (branches, members, labels, ...) end with an ACTIVATE_VERSION "
        "message once every partition was read in full, so that the target deletes (or soft-deletes) the rows "
        "GitLab no longer lists; a run that skipped a partition sends none. In Flow, full-refresh bindings then "
        "emit deletion documents. False: nothing is ever deleted.",
        default=True,
    ),
    Setting(
        "max_concurrency",
        "integer",
        "Concurrent requests",
        "How many requests may be in flight at once.",
        default=16,
        minimum=1,
        maximum=64,
    ),
    Setting(
        "requests_per_minute",
        "integer",
        "Request budget per minute",
        "Upper bound on the request rate shared by all workers; RateLimit-* headers and "
        f"429s slow it further. Default: {DEFAULT_REQUESTS_PER_MINUTE} on gitlab.com (its limit is 2,000), "
        f"{DEFAULT_SELF_MANAGED_REQUESTS_PER_MINUTE} on other instances.",
        minimum=1,
        parse=_rate,
    ),
    Setting(
        "shard",
        "shard",
        "Shard",
        'Run as one of N independent processes, each with its own state: {"index": 0, "count": 4} (or the '
        "text 0/4). Each reads the groups and projects whose ids hash to it; instance-wide streams run on "
        "index 0 only. Empty: one process reads everything.",
        in_flow_form=False,
        flow_note="one capture is one process: split the bindings over several captures instead (docs/sharding.md)",
    ),
    Setting(
        "request_timeout",
        "number",
        "Request timeout (seconds)",
        "Seconds to wait for GitLab to answer one request before retrying it.",
        default=60.0,
        minimum=1,
    ),
    Setting("user_agent", "string", "User-Agent", "User-Agent header sent with every request."),
    Setting(
        "ca_bundle",
        "string",
        "CA bundle",
        "Path to a PEM file of certificate authorities to trust, for self-hosted instances "
        "with a private CA. TLS verification is always on.",
        parse=_existing_file,
        in_flow_form=False,
        flow_note=_IN_CONTAINER,
    ),
    Setting(
        "oauth_token_store",
        "string",
        "OAuth token store",
        "Path of a JSON file where rotated OAuth tokens are saved (atomically, before use) "
        "so the next run starts with a valid refresh token.",
        parse=_file_in_existing_folder,
        in_flow_form=False,
        flow_note=_IN_CONTAINER + ", gone after each run",
    ),
    Setting(
        "config_encryption_url",
        "string",
        "Config encryption service",
        "Flow connector only: the service that encrypts the endpoint config holding rotated "
        "OAuth tokens before it is handed back to Flow. Default: the ENCRYPTION_URL environment "
        "variable, else Estuary's https://config-encryption.estuary.dev/v1/encrypt-config.",
        parse=_not_read,
        in_flow_form=False,
        flow_note="where Estuary's service runs is the deployment's business (also ENCRYPTION_URL)",
    ),
)

SETTING: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}

# JSON Schema of the tap's settings.
SETTINGS_SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {setting.name: setting.json_schema() for setting in SETTINGS},
}

SECRET_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.secret)


def meltano_settings() -> list[dict[str, t.Any]]:
    """meltano.yml's tap-gitlab settings (singer-sdk's built-in ones aside), as `python -m tap_gitlab.docs`
    writes them: kind, label, description, the default as `value`, secrets `sensitive`."""
    entries = []
    for setting in SETTINGS:
        entry: dict[str, t.Any] = {
            "name": setting.name,
            "kind": setting.meltano,
            "label": setting.title,
            "description": setting.description,
        }
        if setting.default is not None:
            default = setting.default
            # Meltano writes a number setting's value as it is given: 60, not 60.0, as a person would.
            entry["value"] = int(default) if isinstance(default, float) and default.is_integer() else default
        if setting.secret:
            entry["sensitive"] = True
        entries.append(entry)
    return entries


def text_tolerant_schema(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """A copy of `schema` whose number and boolean settings also accept text.

    Meltano passes an environment variable or a `meltano config set` value of a string-kind setting on as text
    (meltano.yml gives number settings the string kind, see `_KINDS`); `normalize` parses it and names the
    setting in one line when it is not a number, so the JSON Schema check after it must not reject "2.5" first.
    """
    result = copy.deepcopy(schema)
    for spec in result["properties"].values():
        kinds = spec.get("type")
        if isinstance(kinds, list) and {"integer", "number", "boolean"} & set(kinds) and "string" not in kinds:
            spec["type"] = [*kinds, "string"]
    return result


def normalize(config: t.Mapping[str, t.Any], *, now: dt.datetime | None = None) -> Settings:
    """Validate and normalise a raw config mapping. Raises `ConfigError` with a one-line message."""
    if not isinstance(config, t.Mapping):
        raise ConfigError("the config must be a JSON object")
    given = _Given(config, now)
    for setting in SETTINGS:
        given.parsed.update(setting.parser()(setting, given))
    return Settings(**given.parsed)
