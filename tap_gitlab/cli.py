"""Console entry point: the singer-sdk CLI, with user errors as one line and exit code 1."""

from __future__ import annotations

import sys

from tap_gitlab.errors import UserError


def main() -> None:
    """Run `tap-gitlab`."""
    from tap_gitlab.tap import TapGitLab  # noqa: PLC0415 - keep `--help` of a broken install readable

    try:
        TapGitLab.cli()
    except UserError as exc:
        sys.stdout.flush()
        print(f"tap-gitlab: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
