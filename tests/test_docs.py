"""Docs come from the code: the README's tables and meltano.yml follow the registry and settings schema."""

from __future__ import annotations

from pathlib import Path

import yaml

from tap_gitlab.docs import render_readme
from tap_gitlab.settings import SETTINGS_SCHEMA

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tables_are_current():
    text = (ROOT / "README.md").read_text()
    assert render_readme(text) == text, "README tables are stale: run `.venv/bin/python -m tap_gitlab.docs`"


def test_meltano_yml_declares_every_setting_with_kind_and_description():
    meltano = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = next(p for p in meltano["plugins"]["extractors"] if p["name"] == "tap-gitlab")
    settings = {s["name"]: s for s in extractor["settings"]}
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        assert name in settings, f"meltano.yml lacks setting {name}"
        assert settings[name].get("kind"), name
        assert settings[name].get("description"), name
        if spec.get("secret"):
            assert settings[name]["kind"] == "password" or settings[name].get("sensitive"), name
        if "value" in settings[name] and "default" in spec:
            assert settings[name]["value"] == spec["default"], f"meltano.yml's default of {name} differs"
    assert set(extractor["capabilities"]) >= {
        "catalog",
        "state",
        "discover",
        "about",
        "stream-maps",
        "schema-flattening",
    }


def test_instantiating_the_tap_leaves_the_settings_schema_alone():
    """singer-sdk appends its built-in settings to the tap's config schema; the docs' source must not change."""
    from tap_gitlab.tap import TapGitLab

    before = sorted(SETTINGS_SCHEMA["properties"])
    TapGitLab(config={"api_url": "http://127.0.0.1:9", "private_token": "x"}, parse_env_config=False)
    assert "stream_maps" in TapGitLab.config_jsonschema["properties"]
    assert sorted(SETTINGS_SCHEMA["properties"]) == before
