"""What a step of the loop cost in its own process: seconds and peak resident memory (`getrusage`), logged,
and appended as one JSON line to the file `RETRAINER_RESOURCE_LOG` names (the cycle benchmark reads it).

The peak is the process's own high-water mark (`getrusage`), reset when the step starts (Linux
`/proc/self/clear_refs`), so steps that share a process (every task under `airflow dags test`) each get
their own peak, not the largest of the steps before them. The resident memory at the start is recorded
too: what the step added is the peak minus that (Airflow, pandas and the other imports are already there).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

RESOURCE_LOG = "RETRAINER_RESOURCE_LOG"

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def peak_rss_bytes() -> int:
    """The process's peak resident set size since it started or since the last `reset_peak_rss`.

    `getrusage(RUSAGE_SELF).ru_maxrss`, unless the kernel's own high-water mark of this process (`VmHWM`)
    is lower: across `exec` Linux carries the peak of the image replaced into ru_maxrss, so a DVC stage
    started by a 200 MB `dvc` process would otherwise report at least 200 MB whatever it held itself.
    """
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return maxrss
    hwm = next(
        (int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None
    )
    return maxrss if hwm is None else min(maxrss, hwm)


def current_rss_bytes() -> int:
    """The process's resident set size now."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Reset the peak to the current resident size; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextmanager
def measured(step: str) -> Iterator[dict]:
    """Measure the body as `step`: yields the record that is filled in, logged and appended on exit
    (also when the body raises, with `"failed": true`)."""
    reset = reset_peak_rss()
    record: dict[str, Any] = {"step": step, "pid": os.getpid(), "start_rss_bytes": current_rss_bytes()}
    started = time.perf_counter()
    try:
        yield record
    except BaseException:
        record["failed"] = True
        raise
    finally:
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["peak_rss_bytes"] = peak_rss_bytes()
        record["peak_reset"] = reset  # False: the peak may be an earlier step's
        log.info(
            "%s: %.1f s, peak RSS %.0f MiB (%.0f MiB at its start)",
            step,
            record["seconds"],
            record["peak_rss_bytes"] / 2**20,
            record["start_rss_bytes"] / 2**20,
        )
        if target := os.environ.get(RESOURCE_LOG):
            with open(target, "a") as handle:  # one short line per step: appends do not interleave
                handle.write(json.dumps(record) + "\n")


def measure_step(step: str) -> Callable[[F], F]:
    """Decorate a task entry point or stage so that each call is `measured(step)`."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with measured(step):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def read_resource_log(path: str | os.PathLike[str]) -> list[dict]:
    """The records appended to a resource log, in order (none if it does not exist)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
