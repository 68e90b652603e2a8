"""A run's logical date against its timetable's: Airflow keeps one run per logical date (dag_id and
logical_date are unique), and a scheduled run's logical date is its interval's start. A run triggered by
hand with the moment its interval ends (the Monday that ends the week) covers that week, as the tasks read
it, but holds the logical date of the next week's scheduled run: the scheduler then skips that week ("run
already exists; skipping dagrun creation"), and a trigger of it meets 409 Conflict."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from retrainer.core.clock import as_utc

log = logging.getLogger(__name__)


def displaced_scheduled_run(run: Any) -> str | None:
    """What to tell a person when `run` (Airflow's DagRun, or a `retrainer.tasks.retrain.Run`: its
    `logical_date`, `data_interval_start`, `data_interval_end`, `run_id`) holds the logical date of the
    interval after its own, i.e. its logical date is its data interval's end; None for any other run (a
    scheduled run, one from `scripts/run_dag.py`, a form run with a later moment, a drift-triggered run)."""
    logical = getattr(run, "logical_date", None)
    start, end = getattr(run, "data_interval_start", None), getattr(run, "data_interval_end", None)
    if logical is None or start is None or end is None or as_utc(logical) != as_utc(end):
        return None
    start, end = as_utc(start), as_utc(end)
    later = _iso(end + min(timedelta(hours=12), (end - start) / 2))
    return (
        f"run {getattr(run, 'run_id', None) or '(unnamed)'} covers {_iso(start)} .. {_iso(end)} but holds "
        f"logical date {_iso(end)}, the logical date of the scheduled run of the interval that starts then "
        "(a scheduled run's logical date is its interval's start): Airflow keeps one run per logical date, "
        "so the scheduler will not create that interval's run, and triggering it gets 409 Conflict. To run "
        f"this interval by hand without that, give a moment inside the next one ({later}) as logical "
        "date, or use scripts/run_dag.py, which gives the run its interval's start; to get the scheduled "
        "run back, delete this run and clear or trigger that interval's run"
    )


def warn_if_displacing(run: Any) -> str | None:
    """Log `displaced_scheduled_run(run)` as a warning in the task's log; return it (None: nothing said)."""
    if message := displaced_scheduled_run(run):
        log.warning(message)
    return message


def _iso(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
