"""Docs come from the code: the README's tables and meltano.yml follow the registry and settings schema."""

from __future__ import annotations

from pathlib import Path

import yaml

from tap_gitlab.docs import render_meltano_yml, render_readme
from tap_gitlab.settings import SETTINGS_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tables_are_current():
    text = (ROOT / "README.md").read_text()
    assert render_readme(text) == text, "README tables are stale: run `.venv/bin/python -m tap_gitlab.docs`"


def test_meltano_yml_declares_every_setting_with_kind_and_description():
    """meltano.yml's tap settings are the settings table's (written by `python -m tap_gitlab.docs`)."""
    text = (ROOT / "meltano.yml").read_text()
    assert render_meltano_yml(text) == text, (
        "meltano.yml's settings are stale: run `.venv/bin/python -m tap_gitlab.docs`"
    )
    meltano = yaml.safe_load(text)
    extractor = next(p for p in meltano["plugins"]["extractors"] if p["name"] == "tap-gitlab")
    settings = {s["name"]: s for s in extractor["settings"]}
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        assert name in settings, f"meltano.yml lacks setting {name}"
        assert settings[name].get("kind"), name
        assert settings[name].get("description") == spec["description"], name
        if spec.get("secret"):
            assert settings[name]["kind"] == "password" or settings[name].get("sensitive"), name
        assert settings[name].get("value") == spec.get("default"), f"meltano.yml's default of {name} differs"
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


def _stream_rows() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- stream-table:begin -->")[1].split("<!-- stream-table:end -->")[0]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    return rows


def test_the_stream_tables_partitions_are_the_keys_of_a_real_runs_state(tmp_path):
    """The README says what each stream's state is keyed by; a real run's STATE says the same (issues: by group)."""
    from tests.gitlab_sim import Dataset, GitLabSimulator
    from tests.support.tap_harness import all_opt_ins, discover, run_tap, select, sim_config

    dataset = Dataset.generate(size="tiny", seed=3)
    token = "glpat-docs-partitions-0123456789"
    with GitLabSimulator(dataset, token=token) as sim:
        config = sim_config(sim, token, groups=dataset.top_group_paths(), **all_opt_ins())
        run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), None))
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _stream_rows()
    assert "top group (`group_id`)" in rows["issues"][2]
    assert "top group (`group_id`)" in rows["merge_requests"][2]
    bookmarks = run.last_state["bookmarks"]
    checked = 0
    for name, state in bookmarks.items():
        keys = {key for partition in state.get("partitions", []) for key in partition["context"]}
        for key in keys:
            assert f"`{key}" in rows[name][2], f"{name}: the README's partitions ({rows[name][2]}) omit {key}"
        checked += bool(keys)
    assert {key for p in bookmarks["issues"]["partitions"] for key in p["context"]} == {"group_id"}
    assert checked >= 20
