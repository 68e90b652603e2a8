"""The task entry point of the deploy DAG (`dags/deploy_models.py`: `deploy_<model>`): one deployment action,
by hand, through Airflow's authenticated API or its trigger form, with who asked and why in the audit log.

    task      stage function
    deploy    retrainer.deployment.actions.run_action
"""

from __future__ import annotations

from typing import Any

from retrainer.deployment.actions import run_action
from retrainer.deployment.moves import moved_by
from retrainer.deployment.state import read_or_none
from retrainer.tasks import summaries
from retrainer.tasks.context import Context


def deploy(dag_params: dict[str, Any], triggered_by: str | None = None, model: str | None = None) -> dict:
    """Run the `action` Param (promote, shadow, canary, ramp, rollback) on `version` with `reason`, from
    the `expected_revision` Param when given (DeploymentMoved if the record moved past it). `move`: what
    moved (None: nothing, e.g. the same move retried), posted by the task's `DeploymentMoved` notifier."""
    ctx = Context.load(dag_params, model)
    reason = dag_params.get("reason") or "no reason given"
    version = dag_params.get("version")
    actor = triggered_by or "airflow"
    expected = dag_params.get("expected_revision")
    before = read_or_none(ctx.registry)
    state = run_action(ctx.registry, dag_params["action"], version, actor, reason, ctx.params, expected)
    moved = {"move": moved_by(ctx.registry, before)}
    result = {k: state[k] for k in ("mode", "champion", "challenger", "share", "revision")} | moved
    summaries.log_summary(summaries.deploy_lines, dag_params["action"], version, result)
    return result
