"""`python -m tests.gitlab_sim --port 8080 --size small --seed 1 --token T --latency-ms 50`: run the simulator."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tests.gitlab_sim.dataset import SIZES, Dataset
from tests.gitlab_sim.server import GitLabSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.gitlab_sim", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default="glpat-test-token-0123456789")
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--path-prefix", default="")
    parser.add_argument("--external-url", default=None)
    parser.add_argument("--rate-limit-per-minute", type=int, default=None)
    parser.add_argument("--request-log", default=None, help="append one JSON line per request to this file")
    args = parser.parse_args(argv)
    dataset = Dataset.generate(size=args.size, seed=args.seed)
    sim = GitLabSimulator(
        dataset,
        token=args.token,
        path_prefix=args.path_prefix,
        latency_ms=args.latency_ms,
        external_url=args.external_url,
        rate_limit_per_minute=args.rate_limit_per_minute,
        port=args.port,
        request_log=args.request_log,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sim.start()
    print(f"GitLab simulator ready: {sim.base_url} token={args.token}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
