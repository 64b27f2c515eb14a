"""Console entry point: the singer-sdk CLI, with user errors as one line and exit code 1.

Before the SDK sees them, the `--config`, `--catalog` and `--state` files are read and checked, so that a
file that is not JSON, a catalog that selects a stream this tap does not have, or a state with a malformed
bookmark stops the run with one line saying what is wrong, instead of a traceback or a silent full re-read.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import typing as t
from pathlib import Path

from tap_gitlab import gcpolicy
from tap_gitlab.bookmarks import PARTITIONS_KEY, Bookmark, partition_entries
from tap_gitlab.errors import UserError

_FILE_OPTIONS = ("--config", "--catalog", "--state")


def _option_values(argv: t.Sequence[str], option: str) -> list[str]:
    values = []
    for index, arg in enumerate(argv):
        if arg == option and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def _read_json(option: str, path: str) -> t.Any:
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{option} file not found: {path}")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{option} file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{option} file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None


def check_config(config: t.Any, path: str) -> None:
    if not isinstance(config, dict):
        raise UserError(f"--config file {path} must hold a JSON object of settings, got {type(config).__name__}")


def check_catalog(catalog: t.Any, path: str, known_streams: t.Collection[str]) -> None:
    """A catalog is `{"streams": [...]}`; every selected stream must be one this tap has."""
    if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
        raise UserError(f'--catalog file {path} must be a Singer catalog ({{"streams": [...]}}); run --discover')
    for entry in catalog["streams"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("tap_stream_id") or entry.get("stream"), str):
            raise UserError(f"--catalog file {path} has an entry without tap_stream_id; run --discover")
        name = entry.get("tap_stream_id") or entry.get("stream")
        if name in known_streams:
            continue
        if _selected(entry):
            raise UserError(
                f"--catalog selects stream '{name}', which tap-gitlab does not have; "
                "run --discover for the current list of streams"
            )


def _selected(entry: dict[str, t.Any]) -> bool:
    if entry.get("selected"):
        return True
    for meta in entry.get("metadata") or []:
        if isinstance(meta, dict) and meta.get("breadcrumb") == [] and (meta.get("metadata") or {}).get("selected"):
            return True
    return False


def check_state(state: t.Any, path: str, replication_keys: t.Mapping[str, str | None]) -> None:
    """A state is `{"bookmarks": {stream: {...}}}` (or empty); bookmarks of our streams must be timestamps."""
    if state in ({}, None):
        return
    if not isinstance(state, dict):
        raise UserError(f"--state file {path} must hold a JSON object (a Singer state), got {type(state).__name__}")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        kind = type(bookmarks).__name__
        raise UserError(f"--state file {path}: 'bookmarks' must be an object of streams, got {kind}")
    for stream, stream_state in bookmarks.items():
        if not isinstance(stream_state, dict):
            raise UserError(f"--state file {path}: the bookmark of stream '{stream}' must be an object")
        partitions = partition_entries(stream_state)
        if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
            raise UserError(f"--state file {path}: '{PARTITIONS_KEY}' of stream '{stream}' must be a list of objects")
        if replication_keys.get(stream) is None:
            continue
        for entry in [stream_state, *partitions]:
            value = Bookmark.from_state(entry).value
            if value is None:
                continue
            if not isinstance(value, str) or not _is_timestamp(value):
                raise UserError(
                    f"--state file {path}: stream '{stream}' has a bookmark that is not a timestamp ({value!r}); "
                    "fix or remove it (removing it re-reads that stream from start_date)"
                )


def _is_timestamp(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def preflight(argv: t.Sequence[str]) -> None:
    """Check the files named by `argv` before the SDK reads them; raise `UserError` on the first problem."""
    from tap_gitlab.streams import STREAMS  # noqa: PLC0415

    replication_keys = {spec.name: spec.replication_key for spec in STREAMS}
    for path in _option_values(argv, "--config"):
        if path != "ENV":
            check_config(_read_json("--config", path), path)
    for path in _option_values(argv, "--catalog"):
        check_catalog(_read_json("--catalog", path), path, replication_keys)
    for path in _option_values(argv, "--state"):
        check_state(_read_json("--state", path), path, replication_keys)


def main() -> None:
    """Run `tap-gitlab`."""
    from tap_gitlab.tap import TapGitLab  # noqa: PLC0415 - keep `--help` of a broken install readable

    try:
        preflight(sys.argv[1:])
        gcpolicy.for_extraction()
        TapGitLab.cli()
    except UserError as exc:
        sys.stdout.flush()
        print(f"tap-gitlab: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
