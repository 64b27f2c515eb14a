"""The tap as a Meltano plugin, checked with real Meltano (the one scripts/warehouse-bootstrap installs).

- every setting takes the forms the README gives through environment variables, `meltano config set` and
  meltano.yml, and the config Meltano writes for the tap parses to the intended values;
- a bad value is the tap's one line naming the setting;
- meltano.yml's capabilities are `tap-gitlab --about`'s; its validation groups are a token or OAuth credentials;
- the plugin definition (plugins/extractors/tap-gitlab.yml) is current and `meltano add --from-ref` takes it;
- the distribution builds as a wheel named apart from PyPI's tap-gitlab, with every stream's schema inside;
- opt-in streams whose setting is off are not selected by default and, selected anyway, send no SCHEMA.

The Meltano tests are skipped, with the reason, when Meltano is not installed outside CI; in CI (CI=true)
that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tap_gitlab.docs import PLUGIN_DEFINITION, plugin_definition_yaml
from tap_gitlab.settings import SETTINGS_SCHEMA, normalize
from tap_gitlab.streams import STREAMS
from tests.gitlab_sim import Dataset, GitLabSimulator
from tests.support.tap_harness import all_opt_ins, discover, run_tap, select, sim_config

ROOT = Path(__file__).resolve().parents[2]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
PROJECT = ROOT / ".warehouse" / "project"
TOKEN = "glpat-meltano-settings-0123456789"


def _extractor(path: Path) -> dict:
    project = yaml.safe_load(path.read_text())
    return next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-gitlab")


@pytest.fixture(scope="module")
def meltano_installed() -> None:
    if MELTANO.exists() and list(PROJECT.glob(".installed-*")):
        return
    message = "Meltano or .warehouse/project is not installed; run scripts/warehouse-bootstrap (scripts/test does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def project(meltano_installed, tmp_path) -> Path:
    """A Meltano project of its own (meltano.yml copied from the bootstrap's), reusing its installed tap."""
    root = tmp_path / "project"
    (root / ".meltano").mkdir(parents=True)
    shutil.copy(PROJECT / "meltano.yml", root / "meltano.yml")
    (root / ".meltano" / "extractors").symlink_to(PROJECT / ".meltano" / "extractors")
    return root


def _meltano(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_GITLAB_", "MELTANO_", "VIRTUAL_ENV"))}
    base.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_CLI_DISABLE_VERSION_CHECK="true",
        MELTANO_DATABASE_URI=f"sqlite:///{project / 'meltano.db'}",
        **(env or {}),
    )
    return subprocess.run(
        [str(MELTANO), *args], cwd=project, env=base, capture_output=True, text=True, timeout=300, check=False
    )


def _tap_config(project: Path, env: dict[str, str] | None = None) -> dict:
    """The config file Meltano writes for the tap (`meltano invoke --dump=config`)."""
    proc = _meltano(project, "invoke", "--dump=config", "tap-gitlab", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_environment_variables_in_the_readme_forms_reach_the_tap_parsed(project):
    config = _tap_config(
        project,
        {
            "TAP_GITLAB_PRIVATE_TOKEN": TOKEN,
            "TAP_GITLAB_GROUPS": "platform-co data-co,ops-co",
            "TAP_GITLAB_PROJECTS": '["other/lib", 42]',
            "TAP_GITLAB_REQUEST_TIMEOUT": "2.5",
            "TAP_GITLAB_MAX_CONCURRENCY": "8",
            "TAP_GITLAB_REQUESTS_PER_MINUTE": "600",
            "TAP_GITLAB_INCLUDE_ARCHIVED": "false",
            "TAP_GITLAB_FETCH_SITE_USERS": "true",
            "TAP_GITLAB_START_DATE": "2024-01-31",
            "TAP_GITLAB_API_URL": "https://gitlab.example.com/api/v4",
            "TAP_GITLAB_SHARD": "2/4",
        },
    )
    settings = normalize(config)
    assert settings.token == TOKEN
    assert settings.groups == ("platform-co", "data-co", "ops-co")
    assert settings.projects == ("other/lib", "42")
    assert settings.request_timeout == 2.5
    assert settings.max_concurrency == 8
    assert settings.requests_per_minute == 600
    assert settings.include_archived is False
    assert settings.fetch_site_users is True
    assert settings.start_date is not None and settings.start_date.isoformat() == "2024-01-31T00:00:00+00:00"
    assert settings.api_url == "https://gitlab.example.com"
    assert (settings.shard.index, settings.shard.count) == (2, 4)


def test_oauth_credentials_as_a_json_environment_variable_reach_the_tap(project):
    credentials = {
        "auth_type": "oauth2.0",
        "client_id": "app-id",
        "client_secret": "app-secret",
        "access_token": "access-1",
        "refresh_token": "refresh-1",
    }
    config = _tap_config(project, {"TAP_GITLAB_CREDENTIALS": json.dumps(credentials)})
    settings = normalize(config)
    assert settings.token is None
    assert settings.oauth is not None and settings.oauth.refresh_token == "refresh-1"


def test_meltano_config_set_stores_values_the_tap_parses(project):
    for name, value in (
        ("groups", "platform-co data-co"),
        ("projects", '["other/lib"]'),
        ("request_timeout", "2.5"),
        ("include_subgroups", "false"),
        ("shard", '{"index": 1, "count": 3}'),
    ):
        proc = _meltano(project, "config", "set", "tap-gitlab", name, value)
        assert proc.returncode == 0, f"meltano config set {name} {value!r}: {proc.stderr[-2000:]}"
    settings = normalize(_tap_config(project, {"TAP_GITLAB_PRIVATE_TOKEN": TOKEN}))
    assert settings.groups == ("platform-co", "data-co")
    assert settings.projects == ("other/lib",)
    assert settings.request_timeout == 2.5
    assert settings.include_subgroups is False
    assert (settings.shard.index, settings.shard.count) == (1, 3)


def test_values_written_in_meltano_yml_as_lists_or_numbers_reach_the_tap_parsed(project):
    path = project / "meltano.yml"
    meltano = yaml.safe_load(path.read_text())
    extractor = next(p for p in meltano["plugins"]["extractors"] if p["name"] == "tap-gitlab")
    extractor["config"] = {
        "groups": ["platform-co", 7],
        "projects": "other/lib third/app",
        "request_timeout": 2.5,
        "max_concurrency": 3,
        "commits_all_branches": True,
    }
    path.write_text(yaml.safe_dump(meltano, sort_keys=False))
    settings = normalize(_tap_config(project, {"TAP_GITLAB_PRIVATE_TOKEN": TOKEN}))
    assert settings.groups == ("platform-co", "7")
    assert settings.projects == ("other/lib", "third/app")
    assert settings.request_timeout == 2.5
    assert settings.max_concurrency == 3
    assert settings.commits_all_branches is True


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("TAP_GITLAB_REQUEST_TIMEOUT", "soon", "tap-gitlab: error: setting 'request_timeout' must be a number"),
        ("TAP_GITLAB_MAX_CONCURRENCY", "2.5", "tap-gitlab: error: setting 'max_concurrency' must be a whole number"),
        ("TAP_GITLAB_GROUPS", "[platform-co", "tap-gitlab: error: setting 'groups' starts with '[' but is not"),
    ],
)
def test_a_bad_value_stops_the_tap_with_one_line_naming_the_setting(project, variable, value, line):
    proc = _meltano(
        project, "invoke", "tap-gitlab", "--discover", env={"TAP_GITLAB_PRIVATE_TOKEN": TOKEN, variable: value}
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    tap_lines = [text for text in output.splitlines() if "tap-gitlab: error:" in text]
    assert tap_lines and all(line in text for text in tap_lines), output[-3000:]
    # The tap itself says it in one line: no traceback of the tap's (Meltano prints its own after it).
    assert "tap_gitlab" not in output.split("Traceback")[0]
    assert TOKEN not in output


def test_meltano_yml_capabilities_are_the_taps_about_and_validation_names_the_credentials():
    about = subprocess.run(
        [sys.executable, "-m", "tap_gitlab", "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    extractor = _extractor(ROOT / "meltano.yml")
    assert sorted(extractor["capabilities"]) == sorted(json.loads(about.stdout)["capabilities"])
    assert extractor["settings_group_validation"] == [["private_token"], ["credentials"]]


def test_meltano_yml_kinds_pass_every_documented_form_to_the_tap():
    """Meltano parses an array kind's text as JSON (so "a b" fails before the tap) and an integer kind's with
    int(), and cannot write a decimal one read from the environment: the tap parses these settings itself."""
    settings = {s["name"]: s for s in _extractor(ROOT / "meltano.yml")["settings"]}
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        kind = settings[name]["kind"]
        kinds = spec.get("type") or [option.get("type") for option in spec.get("anyOf", [])]
        if "array" in kinds or "integer" in kinds or "number" in kinds:
            assert kind == "string", f"{name}: kind {kind}"
        elif "boolean" in kinds:
            assert kind == "boolean", name
        elif "object" in kinds and "string" in kinds:
            assert kind == "string", name  # also text (`shard`: "0/4"), which an object kind would parse as JSON
        elif "object" in kinds:
            assert kind == "object", name


def test_the_plugin_definition_is_generated_from_meltano_yml():
    text = (ROOT / PLUGIN_DEFINITION).read_text()
    assert text == plugin_definition_yaml((ROOT / "meltano.yml").read_text()), (
        "plugins/extractors/tap-gitlab.yml is stale: run `.venv/bin/python -m tap_gitlab.docs`"
    )
    definition = yaml.safe_load(text)
    assert definition["pip_url"] == "tap-gitlab-connector"
    assert definition["capabilities"] == _extractor(ROOT / "meltano.yml")["capabilities"]


def test_meltano_add_from_ref_takes_the_plugin_definition_into_a_fresh_project(meltano_installed, tmp_path):
    fresh = tmp_path / "fresh"
    init = _meltano(tmp_path, "init", "--no-usage-stats", str(fresh))
    assert init.returncode == 0, init.stderr[-2000:]
    add = _meltano(
        fresh,
        "add",
        "--plugin-type",
        "extractor",
        "tap-gitlab",
        "--from-ref",
        str(ROOT / PLUGIN_DEFINITION),
        "--no-install",
    )
    assert add.returncode == 0, add.stderr[-2000:]
    project = yaml.safe_load((fresh / "meltano.yml").read_text())
    assert [p["name"] for p in project["plugins"]["extractors"]] == ["tap-gitlab"]
    assert "utilities" not in project["plugins"]
    added = project["plugins"]["extractors"][0]
    assert added["pip_url"] == "tap-gitlab-connector"
    assert {s["name"] for s in added["settings"]} >= set(SETTINGS_SCHEMA["properties"])
    listed = _meltano(fresh, "config", "list", "tap-gitlab")
    assert listed.returncode == 0, listed.stderr[-2000:]
    # settings_group_validation as Meltano shows it: a token, or OAuth credentials.
    assert "Group 1: private_token" in listed.stdout
    assert "Group 2: credentials" in listed.stdout


def test_the_distribution_builds_as_a_wheel_named_apart_from_pypis_tap_gitlab_with_every_schema(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list(tmp_path.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["tap_gitlab_connector"]
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        assert "Name: tap-gitlab-connector" in wheel.read(metadata).decode()
        entry_points = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    for stream in STREAMS:
        assert f"tap_gitlab/schemas/{stream.name}.json" in names, stream.name
    assert "tap-gitlab = tap_gitlab.cli:main" in entry_points
    assert "flow-source-gitlab = tap_gitlab.flow.__main__:main" in entry_points


# -- the Singer catalog: opt-in streams ----------------------------------------------------------------------

DISCOVER_CONFIG = {"api_url": "https://127.0.0.1:9", "private_token": "glpat-discover-0123456789"}
OPT_IN = {spec.name: spec.opt_in for spec in STREAMS if spec.opt_in}


def _top_metadata(catalog: dict) -> dict[str, dict]:
    return {
        entry["tap_stream_id"]: next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        for entry in catalog["streams"]
    }


def test_opt_in_streams_are_not_selected_by_default_while_their_setting_is_off(tmp_path):
    off = _top_metadata(discover(tmp_path / "off", DISCOVER_CONFIG))
    on = _top_metadata(discover(tmp_path / "on", {**DISCOVER_CONFIG, **all_opt_ins()}))
    assert len(OPT_IN) >= 11
    for name, meta in off.items():
        expected = name not in OPT_IN
        assert meta["selected-by-default"] is expected, name
        assert meta["selected"] is expected, name
    assert all(meta["selected-by-default"] and meta["selected"] for meta in on.values())


def test_a_catalog_selecting_every_stream_sends_no_schema_for_opt_in_streams_whose_setting_is_off(tmp_path):
    """Meltano's default select rule `*.*` selects every stream: the off ones still make no table."""
    dataset = Dataset.generate(size="tiny", seed=3)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        config = sim_config(sim, TOKEN, groups=dataset.top_group_paths())
        run = run_tap(tmp_path / "run", config, catalog=select(discover(tmp_path, config), None))
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(run.schemas) == {spec.name for spec in STREAMS} - set(OPT_IN)
    assert not set(run.records) & set(OPT_IN)
    lines = [line for line in run.stderr.splitlines() if "Opt-in streams whose setting is off" in line]
    assert len(lines) == 1, lines
    for name, setting in OPT_IN.items():
        assert f"{name} ({setting})" in lines[0]
    assert "is selected but" not in run.stderr
