"""`flow-source-gitlab` (also `python -m tap_gitlab.flow`): the Flow capture connector's entry point."""

from __future__ import annotations

import logging
import os
import sys
import traceback
import typing as t

from tap_gitlab import gcpolicy
from tap_gitlab.errors import UserError
from tap_gitlab.flow.protocol import LOG, LogHandler, Output, parse_request


def serve(stdin: t.BinaryIO, out: Output) -> int:
    """Answer requests until end of input, or run the capture session an `open` starts. Returns the exit code."""
    from tap_gitlab.flow import capture, discovery, spec  # noqa: PLC0415 - keep `spec` fast to answer

    for line in stdin:
        if not line.strip():
            continue
        kind, body = parse_request(line)
        LOG.debug(f"request: {kind}")
        if kind == "spec":
            out.send({"spec": spec.spec_response()})
        elif kind == "discover":
            LOG.add_secrets(spec.secrets_of(body.get("config")))
            out.send({"discovered": {"bindings": discovery.discover_bindings(body.get("config"))}})
        elif kind == "validate":
            LOG.add_secrets(spec.secrets_of(body.get("config")))
            paths = discovery.validate(body.get("config"), body.get("bindings") or [])
            out.send({"validated": {"bindings": [{"resourcePath": path} for path in paths]}})
        elif kind == "apply":
            out.send({"applied": {"actionDescription": ""}})
        elif kind == "open":
            LOG.add_secrets(spec.secrets_of((body.get("capture") or {}).get("config")))
            out.flush()
            # A session never reads stdin again: the runtime keeps it open, and reading it would block.
            return capture.run(body, out)
        else:  # acknowledge: only sent when requested, which this connector never does
            LOG.debug("ignoring an acknowledge request")
        out.flush()
    return 0


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

    gcpolicy.for_extraction()  # the translator allocates a dict per STATE it reads, like the tap per record
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
