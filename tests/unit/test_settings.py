"""Settings normalisation: every accepted shape, and one clear line for every bad value."""

from __future__ import annotations

import datetime as dt

import pytest

from tap_gitlab.errors import ConfigError
from tap_gitlab.settings import SETTINGS, SETTINGS_SCHEMA, normalize

TOKEN = {"private_token": "glpat-abc"}


@pytest.mark.parametrize(
    ("api_url", "expected_root"),
    [
        (None, "https://gitlab.com/api/v4"),
        ("https://gitlab.example.com", "https://gitlab.example.com/api/v4"),
        ("https://gitlab.example.com/", "https://gitlab.example.com/api/v4"),
        ("https://gitlab.example.com/api/v4", "https://gitlab.example.com/api/v4"),
        ("https://gitlab.example.com/api/v4/", "https://gitlab.example.com/api/v4"),
        ("https://corp.example/gitlab", "https://corp.example/gitlab/api/v4"),
        ("https://corp.example/gitlab/api/v4", "https://corp.example/gitlab/api/v4"),
        ("http://127.0.0.1:8080/sub/path", "http://127.0.0.1:8080/sub/path/api/v4"),
    ],
)
def test_api_url_accepts_hosts_sub_paths_and_api_suffix(api_url, expected_root):
    settings = normalize({**TOKEN, "api_url": api_url})
    assert settings.api_root == expected_root


def test_plain_http_works_but_warns():
    settings = normalize({**TOKEN, "api_url": "http://gitlab.local"})
    assert settings.warnings and "http://" in settings.warnings[0]
    assert not normalize({**TOKEN, "api_url": "https://gitlab.local"}).warnings


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"api_url": "gitlab.example.com"}, "must start with https://"),
        ({"api_url": "ftp://gitlab.example.com"}, "not an http(s) URL"),
        ({"api_url": "https://user:pw@gitlab.example.com"}, "must not contain credentials"),
        ({"api_url": "https://gitlab.example.com:99999"}, "invalid port"),
        ({"api_url": 5}, "must be a URL string"),
        ({"start_date": "yesterday"}, "not a valid date-time"),
        ({"start_date": "2999-01-01T00:00:00Z"}, "in the future"),
        ({"start_date": 20240101}, "ISO 8601"),
        ({"groups": {"a": 1}}, "must be a list or a space-separated string"),
        ({"projects": [["a"]]}, "use paths like"),
        ({"projects": "https://gitlab.com/group/project"}, "give the path after the host"),
        ({"include_subgroups": "maybe"}, "must be true or false"),
        ({"max_concurrency": 0}, "at least 1"),
        ({"max_concurrency": 2.5}, "whole number"),
        ({"request_timeout": "soon"}, "must be a number"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "does not exist"),
    ],
)
def test_bad_values_give_one_line_naming_the_setting(config, fragment):
    with pytest.raises(ConfigError) as info:
        normalize({**TOKEN, **config})
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert "glpat-abc" not in message


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"private_token": ""},
        {"private_token": "   "},
        {"credentials": {"auth_type": "access_token", "access_token": ""}},
        {"credentials": {"auth_type": "access_token"}},
    ],
)
def test_missing_or_empty_token_is_a_clear_error(config):
    with pytest.raises(ConfigError, match="token"):
        normalize(config)


def test_credential_shapes_meltano_estuary_and_estuary_docs():
    assert normalize({"private_token": "t1"}).token == "t1"
    assert normalize({"credentials": {"auth_type": "access_token", "access_token": "t2"}}).token == "t2"
    docs_shape = {"credentials": {"option_title": "PAT Credentials", "personal_access_token": "t3"}}
    assert normalize(docs_shape).token == "t3"
    oauth = normalize(
        {
            "credentials": {
                "auth_type": "oauth2.0",
                "client_id": "cid",
                "client_secret": "secret",
                "access_token": "at",
                "refresh_token": "rt",
                "token_expiry_date": "2030-01-01T00:00:00Z",
            }
        }
    )
    assert oauth.token is None
    assert oauth.oauth is not None and oauth.oauth.refresh_token == "rt"
    assert oauth.oauth.token_expiry == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def test_oauth_without_refresh_token_asks_to_reauthorize():
    with pytest.raises(ConfigError, match="re-authorize"):
        normalize({"credentials": {"auth_type": "oauth2.0", "client_id": "a", "access_token": "b"}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("group-a group-b/sub", ("group-a", "group-b/sub")),
        ("group-a,group-b", ("group-a", "group-b")),
        (["group-a", 42, " /group-c/ "], ("group-a", "42", "group-c")),
        (42, ("42",)),
        ("", ()),
        (None, ()),
        ("a a", ("a",)),
    ],
)
def test_groups_and_projects_accept_lists_and_strings(value, expected):
    assert normalize({**TOKEN, "groups": value}).groups == expected
    assert normalize({**TOKEN, "projects": value}).projects == expected


def test_start_date_accepts_dates_offsets_and_naive_times_as_utc():
    assert normalize({**TOKEN, "start_date": "2024-01-31"}).start_date == dt.datetime(2024, 1, 31, tzinfo=dt.UTC)
    got = normalize({**TOKEN, "start_date": "2024-01-31T02:00:00+02:00"}).start_date
    assert got == dt.datetime(2024, 1, 31, tzinfo=dt.UTC)
    assert normalize({**TOKEN, "start_date": "2024-01-31T00:00:00"}).start_date == dt.datetime(
        2024, 1, 31, tzinfo=dt.UTC
    )


def test_defaults():
    settings = normalize(TOKEN)
    assert settings.include_subgroups and settings.include_archived
    assert not (settings.fetch_site_users or settings.fetch_project_variables or settings.fetch_group_variables)
    assert settings.max_concurrency >= 1 and settings.requests_per_minute <= 2000


def test_defaults_are_the_settings_tables():
    """Each default is written once, in SETTINGS: normalize, the schema and meltano.yml take it from there."""
    settings = normalize(TOKEN)
    declared = [setting for setting in SETTINGS if setting.default is not None]
    assert {s.name for s in declared} >= {"api_url", "include_subgroups", "max_concurrency", "request_timeout"}
    for setting in declared:
        assert getattr(settings, setting.name) == setting.default, setting.name
        assert SETTINGS_SCHEMA["properties"][setting.name]["default"] == setting.default
    assert [s.name for s in SETTINGS] == list(SETTINGS_SCHEMA["properties"])
    assert normalize({**TOKEN, "api_url": "https://gitlab.example.com"}).requests_per_minute == 7200
    assert normalize(TOKEN).requests_per_minute == 1800
