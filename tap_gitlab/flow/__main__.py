"""`flow-source-gitlab` (also `python -m tap_gitlab.flow`): the Flow capture connector's entry point."""

from __future__ import annotations

import logging
import os
import sys
import traceback

from tap_gitlab.errors import UserError
from tap_gitlab.flow.protocol import LOG, LogHandler, Output, serve


def main() -> None:
    """Serve Flow's capture protocol on stdin/stdout; exit 0, or 1 after one error line on stderr."""
    # Protocol messages get their own descriptor; anything else that writes to stdout (a stray print in a
    # library) lands on stderr, where the runtime reads it as a log line instead of failing on it.
    protocol_fd = os.dup(sys.stdout.fileno())
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    out_stream = os.fdopen(protocol_fd, "wb", buffering=1 << 16)
    out = Output(out_stream)

    root = logging.getLogger()
    root.handlers[:] = [LogHandler(LOG)]
    root.setLevel(logging.DEBUG if LOG.enabled("debug") else logging.INFO)

    code = 1
    try:
        code = serve(sys.stdin.buffer, out)
    except UserError as exc:
        LOG.error(str(exc))
    except BrokenPipeError:
        LOG.error("the runtime closed the connector's output")
    except Exception as exc:  # every failure must end with one readable line
        LOG.debug("".join(traceback.format_exception(exc)))
        LOG.error(f"internal error: {type(exc).__name__}: {exc}")
    finally:
        try:
            out.flush()
        except BrokenPipeError:
            code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
