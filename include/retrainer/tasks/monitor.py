"""The task entry points of the drift monitor DAG (`dags/monitor_models.py`: `monitor_<model>`), with no
Airflow in them.

task              stage function
wait_for_days     retrainer.monitoring.monitor.days_landed
check_drift       retrainer.monitoring.monitor.check_drift
follow_up_due     retrainer.monitoring.follow_up.follow_up_due
signal_follow_up  retrainer.monitoring.follow_up.record_request
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from retrainer.core import clock
from retrainer.monitoring import follow_up
from retrainer.monitoring.monitor import check_drift as check
from retrainer.monitoring.monitor import days_landed
from retrainer.tasks import summaries
from retrainer.tasks.context import Context


def wait_for_days(
    as_of: datetime | str, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> bool:
    """True once the whole days the run judges have landed; False while they may still land; DayNotLanded
    (naming each day and why) once `monitoring.days.wait_hours` after their end have passed."""
    ctx = Context.load(dag_params, model)
    return days_landed(ctx.storage, ctx.source, ctx.params, as_of, clock.now())


def check_drift(
    as_of: datetime | str, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> dict:
    """Judge the whole days before the logical date for drift (DayNotLanded for a day that has not fully
    landed); returns the verdict, the evidence and the drift page's address in the Airflow UI (`page_url`,
    also as `report_url`: the task's "Report" button), not the storage URIs of the report's files."""
    ctx = Context.load(dag_params, model)
    result = check(ctx.storage, ctx.source, ctx.params, as_of)
    summaries.log_summary(summaries.drift_lines, result, ctx.storage.root_uri)
    unlinked = {k: v for k, v in result.items() if k not in ("report_uri", "page_uri")}
    return unlinked | {"report_url": result.get("page_url")}  # none without a champion: no report


def follow_up_due(
    as_of: datetime | str, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> dict | None:
    """The follow-up retraining due at the logical date (a drift-triggered version whose drifted days'
    labels have matured, not asked yet), or None."""
    ctx = Context.load(dag_params, model)
    return follow_up.follow_up_due(ctx.storage, ctx.params, as_of)


def signal_follow_up(
    request: dict, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> dict:
    """Record the follow-up request as asked (so no later run asks again); returns the Asset event's extra."""
    ctx = Context.load(dag_params, model)
    return follow_up.record_request(ctx.storage, request)
