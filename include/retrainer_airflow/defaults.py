"""What every task of a model's DAGs shares (`default_args`): its owner, retries, time limit, the rule
that a verdict is final, and the alert when it fails for good. One place, so the four DAG kinds agree."""

from __future__ import annotations

from typing import Any

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from retrainer.core import errors, timeouts  # stdlib only: the verdicts, the time limits
from retrainer_airflow.notifiers import TaskFailed


def default_args(model: str, config: dict[str, Any], retries: int = 2) -> dict[str, Any]:
    """The `default_args` of a DAG of `model` (checked params `config`): `retries` tries more after an
    unexpected failure (after `[core] default_task_retry_delay`), none after a verdict (`Rejected`: a
    refused batch, a failed gate, a bad checksum, a config mistake, no champion); `timeouts.task_minutes`
    as every task's execution_timeout (tasks set their own `timeouts.tasks.<id>`); and a post to the
    model's alert connection when a task fails for good."""
    return {
        "owner": "ml-platform",
        "retries": retries,
        "execution_timeout": timeouts.task_timeout(config),
        "retry_policy": ExceptionRetryPolicy([RetryRule(errors.Rejected, RetryAction.FAIL)]),
        "on_failure_callback": [TaskFailed(model, config)],
    }
