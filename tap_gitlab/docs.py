"""Documentation generated from the code: the README's stream table comes from the stream registry.

`python -m tap_gitlab.docs` rewrites the table between the README's markers; a test fails when it is stale.
"""

from __future__ import annotations

import json
import pathlib
import re

from tap_gitlab.settings import SETTINGS_SCHEMA
from tap_gitlab.streams import STREAM_TYPES, GitLabStream

BEGIN = "<!-- stream-table:begin -->"
END = "<!-- stream-table:end -->"
SETTINGS_BEGIN = "<!-- settings-table:begin -->"
SETTINGS_END = "<!-- settings-table:end -->"


def _mode(stream: type[GitLabStream]) -> str:
    if not stream.replication_key:
        return "full"
    if stream.parent_path:
        return "incremental (changed parents)"
    return "incremental" + (", sorted" if stream.is_sorted else "")


def _notes(stream: type[GitLabStream]) -> str:
    notes = []
    if stream.opt_in_setting:
        notes.append(f"opt-in: `{stream.opt_in_setting}`")
    if stream.licence_note:
        notes.append(stream.licence_note)
    if stream.since_param and stream.replication_key:
        notes.append(f"server filter `{stream.since_param}`")
    if stream.hidden_filter:
        param, value = stream.hidden_filter
        setting = f" (`{stream.hidden_setting}`)" if stream.hidden_setting else ""
        notes.append(f"a second partition per project reads `{param}={value}`{setting}")
    return "; ".join(notes)


def _parent(stream: type[GitLabStream]) -> str:
    if stream.parent_path:
        return f"`{stream.parent_path.replace('{project_id}', ':id').replace('{group_id}', ':id')}`"
    return {"project": "project", "group": "group", "instance": "instance"}.get(stream.scope, "scope")


def stream_table_markdown() -> str:
    """The stream table, one row per registered stream."""
    lines = [
        "| stream | endpoint | partition / parent | primary key | replication key | mode | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for stream in STREAM_TYPES:
        lines.append(
            f"| `{stream.name}` | `{stream.endpoint()}` | {_parent(stream)} | "
            f"{', '.join(f'`{key}`' for key in stream.primary_keys)} | "
            f"{f'`{stream.replication_key}`' if stream.replication_key else '—'} | {_mode(stream)} | {_notes(stream)} |"
        )
    return "\n".join(lines)


def settings_table_markdown() -> str:
    """The settings table, from the settings schema."""
    lines = ["| setting | type | default | description |", "|---|---|---|---|"]
    for name, spec in SETTINGS_SCHEMA["properties"].items():
        kinds = spec.get("type") or [option.get("type") for option in spec.get("anyOf", [])]
        kinds = [kinds] if isinstance(kinds, str) else kinds
        kind = " or ".join(k for k in kinds if k and k != "null")
        default = spec.get("default")
        default_text = "" if default is None else f"`{json.dumps(default)}`"
        secret = " **Secret.**" if spec.get("secret") else ""
        lines.append(f"| `{name}` | {kind} | {default_text} | {spec.get('description', '')}{secret} |")
    return "\n".join(lines)


def _replace(text: str, begin: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text)


def render_readme(text: str) -> str:
    """`text` with the generated tables between their markers replaced by the current ones."""
    text = _replace(text, BEGIN, END, stream_table_markdown())
    return _replace(text, SETTINGS_BEGIN, SETTINGS_END, settings_table_markdown())


def main() -> None:
    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    readme.write_text(render_readme(readme.read_text()))


if __name__ == "__main__":
    main()
