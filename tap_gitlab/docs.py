"""Documentation generated from the code: the README's stream table comes from the stream registry.

`python -m tap_gitlab.docs` rewrites the table between the README's markers; a test fails when it is stale.
"""

from __future__ import annotations

import json
import pathlib
import re
import typing as t

import yaml

from tap_gitlab.scope import Scope
from tap_gitlab.settings import SETTINGS_SCHEMA, Settings, meltano_settings, normalize
from tap_gitlab.spec import StreamSpec, endpoint, partitions, template
from tap_gitlab.streams import STREAMS

BEGIN = "<!-- stream-table:begin -->"
END = "<!-- stream-table:end -->"
SETTINGS_BEGIN = "<!-- settings-table:begin -->"
SETTINGS_END = "<!-- settings-table:end -->"


def _mode(spec: StreamSpec) -> str:
    if not spec.replication_key:
        return "full"
    if spec.parent:
        return "incremental (changed parents)"
    return "incremental" + (", sorted" if spec.sorted else "")


def _notes(spec: StreamSpec) -> str:
    notes = []
    if spec.opt_in:
        notes.append(f"opt-in: `{spec.opt_in}`")
    if spec.licence_note:
        notes.append(spec.licence_note)
    if spec.since_param and spec.replication_key:
        notes.append(f"server filter `{spec.since_param}`")
    if spec.doc_note:
        notes.append(spec.doc_note)
    if spec.hidden:
        setting = f" (`{spec.hidden.setting}`)" if spec.hidden.setting else ""
        notes.append(f"a second partition per project reads `{spec.hidden.param}={spec.hidden.value}`{setting}")
    return "; ".join(notes)


def _parent(spec: StreamSpec) -> str:
    """The listing whose changed records tell a fan-out stream which parents to read: per partition kind."""
    if not spec.parent:
        return "—"
    if spec.group_listing:
        return f"`{template(spec.group_listing.path)}` (top group); `{template(spec.parent.path)}` (project)"
    return f"`{template(spec.parent.path)}`"


# A sample scope for `_partitions`: top group 1 holds project 10 (and subgroup 2); project 20 is configured alone.
_SAMPLE_SCOPE = Scope(
    groups={1: {"full_path": "top"}, 2: {"full_path": "top/sub"}},
    projects={10: {"path_with_namespace": "top/sub/app"}, 20: {"path_with_namespace": "other/lib"}},
    top_groups=[1],
    project_top_group={10: 1},
)
_KEY_NAMES = {"group_id": "group", "project_id": "project"}


def _partitions(spec: StreamSpec) -> str:
    """What the stream's state is keyed by: the stream's own partitions over the sample scope, by shape
    (and, where it differs, with `include_subgroups` off)."""
    shapes = _shapes(spec, _sample_settings())
    other = _shapes(spec, _sample_settings(include_subgroups=False))
    if other != shapes:
        return f"{shapes}; with `include_subgroups` off: {other}"
    return shapes


def _shapes(spec: StreamSpec, settings: Settings) -> str:
    if spec.scope.startswith("resolved_"):
        return "one (the whole scope)"
    contexts = partitions(spec, settings, _SAMPLE_SCOPE)
    if contexts is None:
        return "one (the instance)"
    shapes: list[str] = []
    for context in contexts:
        parts = []
        for key, value in context.items():
            if key not in _KEY_NAMES:
                parts.append(f"`{key}={value}`")
            elif key == "group_id" and spec.scope == "project":
                parts.append("top group (`group_id`)")
            elif key == "project_id" and spec.group_listing and settings.include_subgroups:
                parts.append("project configured alone (`project_id`)")
            else:
                parts.append(f"{_KEY_NAMES[key]} (`{key}`)")
        shape = " + ".join(parts)
        if shape not in shapes:
            shapes.append(shape)
    return "; ".join(shapes)


def _sample_settings(**settings: t.Any) -> Settings:
    """The settings of a tap with every opt-in on (no request is made)."""
    config: dict[str, t.Any] = {"api_url": "https://127.0.0.1:9", "private_token": "docs-sample", **settings}
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        if spec.get("type") == ["boolean", "null"] and spec.get("default") is False and name.startswith("fetch_"):
            config[name] = True
    return normalize(config)


def stream_table_markdown() -> str:
    """The stream table, one row per registered stream."""
    lines = [
        "| stream | endpoint | partitions (each with its own state) | parent listing | primary key | replication key "
        "| mode | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in STREAMS:
        lines.append(
            f"| `{spec.name}` | `{endpoint(spec)}` | {_partitions(spec)} | {_parent(spec)} | "
            f"{', '.join(f'`{key}`' for key in spec.keys)} | "
            f"{f'`{spec.replication_key}`' if spec.replication_key else '—'} | {_mode(spec)} | {_notes(spec)} |"
        )
    return "\n".join(lines)


ROOT = pathlib.Path(__file__).resolve().parent.parent


def _meltano_kinds() -> dict[str, str]:
    """Each setting's kind in meltano.yml, from the settings table (`render_meltano_yml` writes them there)."""
    return {setting["name"]: setting["kind"] for setting in meltano_settings()}


MELTANO_SETTINGS_BEGIN = "# settings:begin"
MELTANO_SETTINGS_END = "# settings:end"


def render_meltano_yml(text: str) -> str:
    """meltano.yml's `text` with the tap's settings (between the settings:begin and settings:end comments)
    written from the settings table; the comments and the lines around them are kept."""
    pattern = re.compile(
        r"^( *)(" + re.escape(MELTANO_SETTINGS_BEGIN) + r"[^\n]*\n).*?^( *" + re.escape(MELTANO_SETTINGS_END) + ")",
        re.DOTALL | re.MULTILINE,
    )

    def body(match: re.Match[str]) -> str:
        indent = match.group(1)
        entries = yaml.safe_dump(meltano_settings(), sort_keys=False, width=120, allow_unicode=True)
        lines = "".join(f"{indent}{line}\n" for line in entries.splitlines())
        return f"{indent}{match.group(2)}{lines}{match.group(3)}"

    return pattern.sub(body, text)


def settings_table_markdown() -> str:
    """The settings table, from the settings schema and the settings' Meltano kinds."""
    meltano = _meltano_kinds()
    lines = [
        "| setting | type | default | Meltano (environment variable, kind) | description |",
        "|---|---|---|---|---|",
    ]
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        kinds = spec.get("type") or [option.get("type") for option in spec.get("anyOf", [])]
        kinds = [kinds] if isinstance(kinds, str) else kinds
        kind = " or ".join(k for k in kinds if k and k != "null")
        default = spec.get("default")
        default_text = "" if default is None else f"`{json.dumps(default)}`"
        secret = " **Secret.**" if spec.get("secret") else ""
        env = f"`TAP_GITLAB_{name.upper()}`, {meltano[name]}" if name in meltano else "not in meltano.yml"
        lines.append(f"| `{name}` | {kind} | {default_text} | {env} | {spec.get('description', '')}{secret} |")
    return "\n".join(lines)


PLUGIN_DEFINITION = "plugins/extractors/tap-gitlab.yml"
# The distribution, installed by name; a project that installs from a checkout or a wheel sets its own pip_url.
PLUGIN_PIP_URL = "tap-gitlab-connector"


def plugin_definition_yaml(meltano_yml: str) -> str:
    """The Meltano plugin definition for `meltano add --from-ref`: meltano.yml's tap-gitlab entry, where the
    settings and capabilities are kept, with the distribution as pip_url."""
    project = yaml.safe_load(meltano_yml)
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-gitlab")
    definition = {"name": "tap-gitlab", "variant": "tap-gitlab-connector", **extractor, "pip_url": PLUGIN_PIP_URL}
    header = (
        f"# Generated from meltano.yml by `python -m tap_gitlab.docs`; do not edit.\n"
        f"# meltano add --plugin-type extractor tap-gitlab --from-ref {PLUGIN_DEFINITION}\n"
        "# then set pip_url to where the tap comes from (a wheel's path, `-e <checkout>`, or the distribution).\n"
    )
    return header + yaml.safe_dump(definition, sort_keys=False, width=120, allow_unicode=True)


def _replace(text: str, begin: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text)


def render_readme(text: str) -> str:
    """`text` with the generated tables between their markers replaced by the current ones."""
    text = _replace(text, BEGIN, END, stream_table_markdown())
    return _replace(text, SETTINGS_BEGIN, SETTINGS_END, settings_table_markdown())


def main() -> None:
    readme = ROOT / "README.md"
    readme.write_text(render_readme(readme.read_text()))
    meltano_yml = ROOT / "meltano.yml"
    meltano_yml.write_text(render_meltano_yml(meltano_yml.read_text()))
    (ROOT / PLUGIN_DEFINITION).write_text(plugin_definition_yaml((ROOT / "meltano.yml").read_text()))


if __name__ == "__main__":
    main()
