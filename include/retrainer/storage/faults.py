"""Fault injection for crash tests: kill this process with SIGKILL right after its Nth storage write.

Off unless `RETRAINER_FAULT_AFTER_WRITES=N` is set. With `RETRAINER_FAULT_KEYS=<glob>` (fnmatch, e.g.
`registry/*/versions/*`) only writes to matching keys count. With `RETRAINER_FAULT_ONCE=<path>` the fault
fires only if that file does not exist yet, and creates it first: the retried process then runs through,
as a task retried by Airflow would. Every backend calls `after_write` once an object is durably written.
"""

from __future__ import annotations

import fnmatch
import os
import signal
from pathlib import Path

AFTER_WRITES = "RETRAINER_FAULT_AFTER_WRITES"
KEYS = "RETRAINER_FAULT_KEYS"
ONCE = "RETRAINER_FAULT_ONCE"

_counted = 0


def after_write(key: str) -> None:
    """Count a completed write of `key`; on the configured one, die as `kill -9` would kill us."""
    global _counted
    limit = os.environ.get(AFTER_WRITES)
    if not limit:
        return
    pattern = os.environ.get(KEYS)
    if pattern and not fnmatch.fnmatchcase(key, pattern):
        return
    _counted += 1
    if _counted != int(limit):
        return
    if once := os.environ.get(ONCE):
        marker = Path(once)
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            with open(marker, "x") as handle:  # create-only: of all processes, one fires
                handle.write(f"{os.getpid()} killed after writing {key}\n")
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)
