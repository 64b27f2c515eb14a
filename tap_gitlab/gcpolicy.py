"""The cyclic garbage collector's policy for a long extraction (issue 14).

A sync allocates a dict for every record, page and STATE, almost none of them in reference cycles: reference
counting frees them. With CPython's default thresholds (700, 10, 10) the collector still runs a young
collection every 700 container allocations and, every 100 of those, an older one over everything that
survived (the catalog, the schemas, the scope, the run state): `perf` put 11% of a full sync's CPU in
`gc_collect_main` and its traversals. With the young threshold at 50,000 that is 0.6%, for the same output.

Cycles are still collected (exceptions with their tracebacks, a few framework objects): a young generation of
50,000 objects is a few megabytes at most before a collection. `gc.freeze()` moves what exists when the sync
starts (modules, schemas, the catalog) out of every generation, so older collections never walk it again.
"""

from __future__ import annotations

import gc

YOUNG = 50_000
MIDDLE = 50
OLD = 1_000


def for_extraction() -> None:
    """Set the collector up for a sync: call once, after start-up and before the records flow."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
