"""Configuration: the settings schema and its normalisation into one typed `Settings` object.

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

from tap_gitlab.errors import ConfigError

DEFAULT_API_URL = "https://gitlab.com"
DEFAULT_MAX_CONCURRENCY = 16
DEFAULT_REQUESTS_PER_MINUTE = 1800  # gitlab.com allows 2,000/min for authenticated API traffic; keep headroom
# Self-managed instances: GitLab's default authenticated API limit, when an admin enables it, is 7,200/min;
# RateLimit-* headers and 429s slow the tap further wherever the instance is stricter.
DEFAULT_SELF_MANAGED_REQUESTS_PER_MINUTE = 7200
DEFAULT_REQUEST_TIMEOUT = 60.0

_STRING_OR_LIST: dict[str, t.Any] = {
    "anyOf": [
        {"type": "array", "items": {"type": ["string", "integer"]}},
        {"type": "string"},
        {"type": "null"},
    ]
}

# JSON Schema of the tap's settings. Kept permissive on types that `normalize` converts (lists given as
# strings, numbers given as strings) so that `normalize` can give one clear line for anything wrong.
SETTINGS_SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "api_url": {
            "type": "string",
            "title": "GitLab URL",
            "description": "Base URL of the GitLab instance, e.g. https://gitlab.com or "
            "https://corp.example/gitlab (a trailing /api/v4 is accepted).",
            "default": DEFAULT_API_URL,
        },
        "private_token": {
            "type": ["string", "null"],
            "title": "Access token",
            "description": "Personal, project or group access token with the read_api scope.",
            "secret": True,
            "writeOnly": True,
        },
        "credentials": {
            "type": ["object", "null"],
            "title": "Credentials",
            "description": "Estuary-style credentials: {auth_type: access_token, access_token} or "
            "{auth_type: oauth2.0, client_id, client_secret, access_token, refresh_token, token_expiry_date}.",
            "properties": {
                "auth_type": {"type": "string", "enum": ["access_token", "oauth2.0"]},
                "access_token": {"type": "string", "secret": True, "writeOnly": True},
                "personal_access_token": {"type": "string", "secret": True, "writeOnly": True},
                "option_title": {"type": "string"},
                "client_id": {"type": "string", "secret": True, "writeOnly": True},
                "client_secret": {"type": "string", "secret": True, "writeOnly": True},
                "refresh_token": {"type": "string", "secret": True, "writeOnly": True},
                "token_expiry_date": {"type": "string"},
            },
        },
        "groups": {
            **_STRING_OR_LIST,
            "title": "Groups",
            "description": "Groups to extract, as full paths or numeric ids (a list, or text separated by spaces "
            "or commas, or a JSON list). Their subgroups and all their projects are included.",
        },
        "projects": {
            **_STRING_OR_LIST,
            "title": "Projects",
            "description": "Projects to extract, as full paths (group/project) or numeric ids "
            "(a list, or text separated by spaces or commas, or a JSON list).",
        },
        "start_date": {
            "type": ["string", "null"],
            "format": "date-time",
            "title": "Start date",
            "description": "Only records updated (or committed) on or after this instant are extracted by "
            "incremental streams, e.g. 2024-01-01T00:00:00Z. Empty means everything.",
        },
        "include_subgroups": {
            "type": ["boolean", "null"],
            "default": True,
            "title": "Include subgroups",
            "description": "Also extract all descendant groups of the configured groups, and their projects.",
        },
        "include_archived": {
            "type": ["boolean", "null"],
            "default": True,
            "title": "Include archived projects",
            "description": "Extract archived projects too.",
        },
        "fetch_site_users": {
            "type": ["boolean", "null"],
            "default": False,
            "title": "Extract all users of the instance",
            "description": "Opt-in: the site_users stream lists every user of the instance (GET /users).",
        },
        "fetch_project_variables": {
            "type": ["boolean", "null"],
            "default": False,
            "title": "Extract project CI/CD variables",
            "description": "Opt-in: project_variables holds CI/CD secrets. Needs Maintainer access.",
        },
        "fetch_group_variables": {
            "type": ["boolean", "null"],
            "default": False,
            "title": "Extract group CI/CD variables",
            "description": "Opt-in: group_variables holds CI/CD secrets. Needs Owner access.",
        },
        "fetch_vulnerabilities": {
            "type": ["boolean", "null"],
            "default": False,
            "title": "Extract vulnerabilities",
            "description": "Opt-in: the vulnerabilities stream (GitLab Ultimate).",
        },
        "fetch_resource_events": {
            "type": ["boolean", "null"],
            "default": False,
            "title": "Extract resource events",
            "description": "Opt-in: the label, state and milestone change history of issues and merge requests (six "
            "streams: issue_label_events, issue_state_events, ...). Three requests per issue and per merge request on "
            "the first run, per changed one after.",
        },
        "fetch_trigger_jobs": {
            "type": ["boolean", "null"],
            "default": False,
            "title": "Extract trigger jobs",
            "description": "Opt-in: the trigger_jobs stream (bridges: the jobs that start child and multi-project "
            "pipelines, which no job listing includes). One request per pipeline on the first run, per changed "
            "pipeline after.",
        },
        "commits_all_branches": {
            "type": ["boolean", "null"],
            "default": False,
            "title": "Commits from all branches",
            "description": "Read commits of every branch (all=true) instead of the default branch only.",
        },
        "include_child_pipelines": {
            "type": ["boolean", "null"],
            "default": True,
            "title": "Child pipelines",
            "description": "Also extract child pipelines (source parent_pipeline) and their jobs, which GitLab "
            "17.0+ hides from the pipeline listing: one more listing request per project for each of pipelines, "
            "pipelines_extended and jobs.",
        },
        "emit_activate_version_messages": {
            "type": ["boolean", "null"],
            "default": True,
            "title": "Signal deletions (ACTIVATE_VERSION)",
            "description": "Full-table streams (branches, members, labels, ...) end with an ACTIVATE_VERSION "
            "message once every partition was read in full, so that the target deletes (or soft-deletes) the rows "
            "GitLab no longer lists; a run that skipped a partition sends none. In Flow, full-refresh bindings then "
            "emit deletion documents. False: nothing is ever deleted.",
        },
        "max_concurrency": {
            "type": ["integer", "null"],
            "default": DEFAULT_MAX_CONCURRENCY,
            "minimum": 1,
            "maximum": 64,
            "title": "Concurrent requests",
            "description": "How many requests may be in flight at once.",
        },
        "requests_per_minute": {
            "type": ["integer", "null"],
            "minimum": 1,
            "title": "Request budget per minute",
            "description": "Upper bound on the request rate shared by all workers; RateLimit-* headers and "
            f"429s slow it further. Default: {DEFAULT_REQUESTS_PER_MINUTE} on gitlab.com (its limit is 2,000), "
            f"{DEFAULT_SELF_MANAGED_REQUESTS_PER_MINUTE} on other instances.",
        },
        "request_timeout": {
            "type": ["number", "null"],
            "default": DEFAULT_REQUEST_TIMEOUT,
            "minimum": 1,
            "title": "Request timeout (seconds)",
            "description": "Seconds to wait for GitLab to answer one request before retrying it.",
        },
        "user_agent": {
            "type": ["string", "null"],
            "title": "User-Agent",
            "description": "User-Agent header sent with every request.",
        },
        "ca_bundle": {
            "type": ["string", "null"],
            "title": "CA bundle",
            "description": "Path to a PEM file of certificate authorities to trust, for self-hosted instances "
            "with a private CA. TLS verification is always on.",
        },
        "oauth_token_store": {
            "type": ["string", "null"],
            "title": "OAuth token store",
            "description": "Path of a JSON file where rotated OAuth tokens are saved (atomically, before use) "
            "so the next run starts with a valid refresh token.",
        },
        "config_encryption_url": {
            "type": ["string", "null"],
            "title": "Config encryption service",
            "description": "Flow connector only: the service that encrypts the endpoint config holding rotated "
            "OAuth tokens before it is handed back to Flow. Default: the ENCRYPTION_URL environment "
            "variable, else Estuary's https://config-encryption.estuary.dev/v1/encrypt-config.",
        },
    },
}

SECRET_SETTINGS = ("private_token", "credentials")


def text_tolerant_schema(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """A copy of `schema` whose number and boolean settings also accept text.

    Meltano passes an environment variable or a `meltano config set` value of a string-kind setting on as text
    (meltano.yml gives number settings the string kind, see there); `normalize` parses it and names the setting
    in one line when it is not a number, so the JSON Schema check after it must not reject "2.5" first.
    """
    result = copy.deepcopy(schema)
    for spec in result["properties"].values():
        kinds = spec.get("type")
        if isinstance(kinds, list) and {"integer", "number", "boolean"} & set(kinds) and "string" not in kinds:
            spec["type"] = [*kinds, "string"]
    return result


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
    """Validated, normalised settings."""

    api_url: str  # instance base URL without a trailing slash or /api/v4
    token: str | None  # personal/project/group access token (sent as PRIVATE-TOKEN)
    oauth: OAuthCredentials | None
    groups: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    start_date: dt.datetime | None = None
    include_subgroups: bool = True
    include_archived: bool = True
    fetch_site_users: bool = False
    fetch_project_variables: bool = False
    fetch_group_variables: bool = False
    fetch_vulnerabilities: bool = False
    fetch_trigger_jobs: bool = False
    fetch_resource_events: bool = False
    commits_all_branches: bool = False
    include_child_pipelines: bool = True
    emit_activate_version_messages: bool = True
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    user_agent: str | None = None
    ca_bundle: str | None = None
    oauth_token_store: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def api_root(self) -> str:
        """The REST API root, e.g. https://corp.example/gitlab/api/v4."""
        return f"{self.api_url}/api/v4"


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
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = dt.datetime.fromisoformat(text + "T00:00:00+00:00")
        else:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"setting '{name}' is not a valid date-time: {value!r}; use ISO 8601 like 2024-01-31T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


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


def normalize(config: t.Mapping[str, t.Any], *, now: dt.datetime | None = None) -> Settings:
    """Validate and normalise a raw config mapping. Raises `ConfigError` with a one-line message."""
    if not isinstance(config, t.Mapping):
        raise ConfigError("the config must be a JSON object")
    api_url, warnings = normalize_api_url(config.get("api_url"))
    token, oauth = _credentials(config)
    start_text = config.get("start_date")
    start_date = None
    if start_text not in (None, ""):
        if not isinstance(start_text, str):
            raise ConfigError("setting 'start_date' must be an ISO 8601 string like 2024-01-31T00:00:00Z")
        start_date = parse_datetime(start_text, "start_date")
        if start_date > (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=1):
            raise ConfigError(f"setting 'start_date' is in the future ({start_text}); nothing would be extracted")
    ca_bundle = _string(config, "ca_bundle")
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise ConfigError(f"setting 'ca_bundle' names a file that does not exist: {ca_bundle}")
    token_store = _string(config, "oauth_token_store")
    if token_store and not os.path.isdir(os.path.dirname(os.path.abspath(token_store))):
        raise ConfigError(f"setting 'oauth_token_store' is in a folder that does not exist: {token_store}")
    return Settings(
        api_url=api_url,
        token=token,
        oauth=oauth,
        groups=_selection(config, "groups"),
        projects=_selection(config, "projects"),
        start_date=start_date,
        include_subgroups=_bool(config, "include_subgroups", True),
        include_archived=_bool(config, "include_archived", True),
        fetch_site_users=_bool(config, "fetch_site_users", False),
        fetch_project_variables=_bool(config, "fetch_project_variables", False),
        fetch_group_variables=_bool(config, "fetch_group_variables", False),
        fetch_vulnerabilities=_bool(config, "fetch_vulnerabilities", False),
        fetch_trigger_jobs=_bool(config, "fetch_trigger_jobs", False),
        fetch_resource_events=_bool(config, "fetch_resource_events", False),
        commits_all_branches=_bool(config, "commits_all_branches", False),
        include_child_pipelines=_bool(config, "include_child_pipelines", True),
        emit_activate_version_messages=_bool(config, "emit_activate_version_messages", True),
        max_concurrency=_int(config, "max_concurrency", DEFAULT_MAX_CONCURRENCY, minimum=1, maximum=64),
        requests_per_minute=_int(config, "requests_per_minute", _default_rate(api_url), minimum=1, maximum=1_000_000),
        request_timeout=_number(config, "request_timeout", DEFAULT_REQUEST_TIMEOUT, minimum=1),
        user_agent=_string(config, "user_agent"),
        ca_bundle=ca_bundle,
        oauth_token_store=token_store,
        warnings=tuple(warnings),
    )
