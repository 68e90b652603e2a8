"""The task entry points of the drift monitor DAG (`dags/monitor_models.py`: `monitor_<model>`), with no
Airflow in them.

task           stage function
check_drift    retrainer.monitoring.monitor.check_drift
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from retrainer.monitoring.monitor import check_drift as check
from retrainer.tasks.context import Context


def check_drift(
    as_of: datetime | str, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> dict:
    """Judge the days before the logical date for drift; returns the report's URIs and the verdict."""
    ctx = Context.load(dag_params, model)
    return check(ctx.storage, ctx.source, ctx.params, as_of)
