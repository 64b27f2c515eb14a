"""The connector's spec: endpoint config schema (Estuary's shape), resource config schema, OAuth2 block.

The endpoint schema is derived from the tap's settings table (`tap_gitlab.settings.SETTINGS`: its schema,
`in_flow_form`, `flow_note`, `flow_description`), so a new tap setting shows up in Flow with its title and
description. What differs from the tap's own schema:

- `credentials` is a `oneOf` on `auth_type` in the shape Estuary's GitLab connector has always had (access
  token; OAuth2 with `x-oauth2-provider: gitlab`), plus the shape Estuary's GitLab docs show
  (`option_title: "PAT Credentials"`, `personal_access_token`). Secrets carry `"secret": true`.
- `groups` and `projects` are space-separated strings (the form the UI renders); the tap reads both forms.
- Settings that name files inside the container (`ca_bundle`, `oauth_token_store`) and the flat
  `private_token` are not offered; a config that carries them still reaches the tap.

`tap_config` turns a Flow endpoint config into the tap's config.
"""

from __future__ import annotations

import copy
import os
import typing as t

from tap_gitlab.errors import ConfigError
from tap_gitlab.settings import DEFAULT_API_URL, SETTINGS, SETTINGS_SCHEMA, Setting

PROTOCOL_VERSION = 3032023
DOCUMENTATION_URL = os.environ.get("DOCS_URL") or "https://go.estuary.dev/source-gitlab"

# Tap settings the Flow form does not offer, and why (the settings table's `in_flow_form` and `flow_note`).
NOT_IN_FORM: dict[str, str] = {s.name: s.flow_note for s in SETTINGS if not s.in_flow_form}

PAT_OPTION_TITLE = "PAT Credentials"

_CREDENTIALS: dict[str, t.Any] = {
    "type": "object",
    "title": "Authentication",
    "description": "How the connector authenticates to GitLab.",
    "discriminator": {"propertyName": "auth_type"},
    "oneOf": [
        {
            "type": "object",
            "title": "Access Token",
            "description": "A personal, project or group access token with the read_api scope.",
            "properties": {
                "auth_type": {"type": "string", "const": "access_token", "default": "access_token", "order": 0},
                "access_token": {
                    "type": "string",
                    "title": "Access Token",
                    "description": "Personal, project or group access token with the read_api scope.",
                    "secret": True,
                    "order": 1,
                },
            },
            "required": ["auth_type", "access_token"],
        },
        {
            "type": "object",
            "title": "OAuth2.0",
            "description": "Sign in to GitLab with OAuth (scope read_api).",
            "x-oauth2-provider": "gitlab",
            "properties": {
                "auth_type": {"type": "string", "const": "oauth2.0", "default": "oauth2.0", "order": 0},
                "client_id": {"type": "string", "title": "Client ID", "secret": True, "order": 1},
                "client_secret": {"type": "string", "title": "Client Secret", "secret": True, "order": 2},
                "access_token": {"type": "string", "title": "Access Token", "secret": True, "order": 3},
                "refresh_token": {"type": "string", "title": "Refresh Token", "secret": True, "order": 4},
                "token_expiry_date": {
                    "type": "string",
                    "format": "date-time",
                    "title": "Token Expiry Date",
                    "description": "When the access token expires.",
                    "order": 5,
                },
            },
            "required": ["auth_type", "client_id", "client_secret", "access_token", "refresh_token"],
        },
        {
            "type": "object",
            "title": PAT_OPTION_TITLE,
            "description": "The credential shape shown in Estuary's GitLab docs: a personal access token.",
            "properties": {
                "auth_type": {
                    "type": "string",
                    "const": "personal_access_token",
                    "default": "personal_access_token",
                    "order": 0,
                },
                "option_title": {"type": "string", "const": PAT_OPTION_TITLE, "default": PAT_OPTION_TITLE, "order": 1},
                "personal_access_token": {
                    "type": "string",
                    "title": "Personal Access Token",
                    "description": "Personal access token with the read_api scope.",
                    "secret": True,
                    "order": 2,
                },
            },
            "required": ["option_title", "personal_access_token"],
        },
    ],
}

# The instance the OAuth URLs point at: the endpoint config's `api_url`, else gitlab.com. Estuary renders
# these templates with the endpoint config as `config` (estuary/flow supabase/functions/oauth/auth-url.ts
# with Mustache, access-token.ts with Handlebars; Estuary's Zendesk connector builds both URLs from
# `config.subdomain`). The form is valid in both engines: a section on a non-empty string renders once with
# the string as `.`, the inverted section renders when the form has no `api_url` (checked with mustache.js and
# handlebars.js 4; only an empty-string `api_url`, which the form's default prevents, renders a bare path in
# Handlebars). GitLab serves OAuth at the instance root (config/routes.rb `use_doorkeeper`), which is what
# `api_url` is: the base URL without /api/v4.
INSTANCE_TEMPLATE = (
    "{{#config.api_url}}{{{.}}}{{/config.api_url}}{{^config.api_url}}" + DEFAULT_API_URL + "{{/config.api_url}}"
)

# OAuth2 as Estuary's GitLab connector declares it (flow-capture-protocol.md §7), for the configured instance.
OAUTH2: dict[str, t.Any] = {
    "provider": "gitlab",
    "authUrlTemplate": (
        INSTANCE_TEMPLATE + "/oauth/authorize?client_id={{{ client_id }}}"
        "&redirect_uri={{#urlencode}}{{{ redirect_uri }}}{{/urlencode}}"
        "&response_type=code&state={{{ state }}}&scope=read_api"
    ),
    "accessTokenUrlTemplate": INSTANCE_TEMPLATE + "/oauth/token",
    "accessTokenBody": (
        "client_id={{#urlencode}}{{{ client_id }}}{{/urlencode}}"
        "&client_secret={{#urlencode}}{{{ client_secret }}}{{/urlencode}}"
        "&code={{#urlencode}}{{{ code }}}{{/urlencode}}"
        "&grant_type=authorization_code"
        "&redirect_uri={{#urlencode}}{{{ redirect_uri }}}{{/urlencode}}"
    ),
    "accessTokenHeaders": {"content-type": "application/x-www-form-urlencoded"},
    "accessTokenResponseMap": {
        "access_token": "/access_token",
        "refresh_token": "/refresh_token",
        "token_expiry_date": "{{#now_plus}}{{ expires_in }}{{/now_plus}}",
    },
}

RESOURCE_CONFIG_SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "title": "GitLab stream",
    "properties": {
        "stream": {"type": "string", "title": "Stream", "description": "Name of the tap-gitlab stream."},
        "syncMode": {
            "type": "string",
            "title": "Sync Mode",
            "description": "incremental: read what changed since the last run (streams with a replication key); "
            "full_refresh: read everything every run.",
            "enum": ["incremental", "full_refresh"],
        },
        # The runtime injects `_meta` into resource configs.
        "_meta": {"type": "object", "title": "Flow metadata"},
    },
    "required": ["stream", "syncMode"],
}

RESOURCE_PATH_POINTERS = ["/stream"]


def _form_field(setting: Setting) -> dict[str, t.Any]:
    """One tap setting as a form field: one plain type (optional means not required), same words; a list
    setting is one text box (the tap reads both forms) with the table's `flow_description`."""
    source = SETTINGS_SCHEMA["properties"][setting.name]
    out: dict[str, t.Any] = {}
    if setting.kind == "selection":
        out["type"] = "string"
    else:
        types = source.get("type")
        if isinstance(types, list):
            types = [x for x in types if x != "null"]
            types = types[0] if len(types) == 1 else types
        out["type"] = types
    for key in ("title", "description", "default", "format", "minimum", "maximum", "enum"):
        if key in source:
            out[key] = source[key]
    if setting.flow_description:
        out["description"] = setting.flow_description
    if source.get("secret"):
        out["secret"] = True
    return out


def config_schema() -> dict[str, t.Any]:
    """The endpoint config schema shown in Flow's UI: the settings the table offers in the form, in its order,
    led by `credentials` (how the connector authenticates) in Estuary's shape."""
    offered = sorted((s for s in SETTINGS if s.in_flow_form), key=lambda s: s.name != "credentials")
    properties: dict[str, t.Any] = {}
    for order, setting in enumerate(offered):
        field = copy.deepcopy(_CREDENTIALS) if setting.name == "credentials" else _form_field(setting)
        field["order"] = order
        properties[setting.name] = field
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "GitLab",
        "type": "object",
        "properties": properties,
        "required": ["credentials"],
    }


def spec_response() -> dict[str, t.Any]:
    """The body of the `spec` response."""
    return {
        "protocol": PROTOCOL_VERSION,
        "configSchema": config_schema(),
        "resourceConfigSchema": copy.deepcopy(RESOURCE_CONFIG_SCHEMA),
        "documentationUrl": DOCUMENTATION_URL,
        "oauth2": copy.deepcopy(OAUTH2),
        "resourcePathPointers": list(RESOURCE_PATH_POINTERS),
    }


def _tap_credentials(value: t.Any) -> t.Any:
    """Estuary's credential shapes → the tap's (`auth_type: access_token | oauth2.0`)."""
    if not isinstance(value, dict):
        return value
    creds = {k: v for k, v in value.items() if v is not None}
    if creds.get("auth_type") in (None, "personal_access_token") and creds.get("personal_access_token"):
        return {"auth_type": "access_token", "access_token": creds["personal_access_token"]}
    if creds.get("auth_type") == "personal_access_token":
        raise ConfigError("credentials: the PAT Credentials option needs personal_access_token")
    creds.pop("option_title", None)
    return creds


def tap_config(config: t.Any) -> dict[str, t.Any]:
    """A Flow endpoint config → the tap's config. Raises `ConfigError` (one line, no secret) if it is unusable."""
    if not isinstance(config, dict):
        raise ConfigError("the endpoint config must be a JSON object")
    known = SETTINGS_SCHEMA["properties"]
    out: dict[str, t.Any] = {}
    for name, value in config.items():
        if name not in known or value is None:
            continue  # unknown keys (e.g. a newer form's) are not the tap's business
        out[name] = value
    if "credentials" in out:
        out["credentials"] = _tap_credentials(out["credentials"])
    api_url = out.get("api_url")
    if isinstance(api_url, str):
        api_url = api_url.strip()
        # Estuary's earlier (Airbyte) GitLab connector took a bare host such as `gitlab.com`.
        out["api_url"] = f"https://{api_url}" if api_url and "://" not in api_url else api_url or DEFAULT_API_URL
    return out


def secrets_of(config: t.Any) -> list[str]:
    """Every secret string in a Flow or tap config, for scrubbing logs."""
    found: list[str] = []
    if not isinstance(config, dict):
        return found
    flat = config.get("private_token")
    if isinstance(flat, str) and flat.strip():
        found.append(flat.strip())
    creds = config.get("credentials")
    if isinstance(creds, dict):
        for key in ("access_token", "personal_access_token", "client_secret", "refresh_token", "client_id"):
            value = creds.get(key)
            if isinstance(value, str) and len(value.strip()) >= 4:
                found.append(value.strip())
    return found
