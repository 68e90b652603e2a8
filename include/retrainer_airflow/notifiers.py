"""Airflow notifiers posting a model's alerts to its alert connection (`alerts.connection`, an HTTP
connection: set it as `AIRFLOW_CONN_<ID>`, in a secrets backend or in the UI). The bodies are built by
`retrainer.core.alerts` (pure, tested without Airflow); these classes only hand it the callback context.

- `TaskFailed`: in a DAG's `default_args["on_failure_callback"]`, it runs when a task fails for good (a
  verdict such as a quarantined batch or a failed gate at once, anything else after its retries, a
  time-out included); Airflow 3.3 passes the exception as `context["exception"]`.
- `ApprovalWaiting`: in the approval form's HITL `notifiers`, it runs when the form starts waiting.
- `DeploymentMoved`: in the `on_success_callback` of a task that may move the deployment (score's `act`,
  retrain's `decide`, deploy's `deploy`): it posts the move the task returned, and nothing when it moved none.
- `DataWarnings`: in the `on_success_callback` of the retraining DAG's validate task: it posts the batch
  and each of its warnings when the batch passed its contract with warnings, and nothing otherwise.
- With `alerts.enabled: false` they post nothing. A callback's failure is only logged by Airflow (the task
  stays green): `retrainer models check` refuses a connection Airflow cannot resolve, and the alerts a task
  exists to post go through `retrainer_airflow.connections.post_alert` in the task's body instead.
- `DriftRetrainingFailed`: in the retraining DAG's `on_failure_callback`, it records that a retraining
  started by drift failed for good, so the drift monitor's cool-down does not count it (posts nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.http.notifications.http import HttpNotifier
from airflow.sdk.bases.notifier import BaseNotifier


class TaskFailed(HttpNotifier):
    """POSTs `retrainer.core.alerts.task_failed` (model, DAG, task, run, the named error, the link to the
    task in its run) to the alert connection of `model`, whose checked params are `config`."""

    def __init__(self, model: str, config: dict) -> None:
        super().__init__(http_conn_id=config["alerts"]["connection"], endpoint="/")
        self.model, self.enabled = model, config["alerts"].get("enabled", True)

    def notify(self, context) -> None:
        from retrainer.core import alerts  # at run time: the DAG files' parse stays light

        if not self.enabled:  # alerts.enabled: false, on purpose (`retrainer models check` says so)
            return
        # The body is handed to the hook as it is, never rendered as a template: an error message holding
        # "{{" stays text.
        self.hook.run(endpoint=self.endpoint, json=alerts.failed_from_context(self.model, context))


class ApprovalWaiting(HttpNotifier):
    """POSTs `retrainer.core.alerts.approval_waiting` (the form's subject, who may answer, until when, its
    link) to the alert connection of `model` (checked params `config`). A connection missing or down is
    logged, not raised: the form must still wait for its answer (Browse > Required Actions)."""

    def __init__(self, model: str, config: dict) -> None:
        super().__init__(http_conn_id=config["alerts"]["connection"], endpoint="/")
        self.model, self.approvers = model, list(config["deployment"]["approvers"])
        self.enabled = config["alerts"].get("enabled", True)

    def notify(self, context) -> None:
        from retrainer.core import alerts

        if not self.enabled:
            return
        body = alerts.waiting_from_context(self.model, context, self.approvers, datetime.now(UTC))
        try:
            self.hook.run(endpoint=self.endpoint, json=body)
        except Exception:
            self.log.exception("the approval alert was not posted to connection %s", self.http_conn_id)


class _PostsWhatTheTaskReturned(HttpNotifier):
    """A success callback that POSTs what `body(model, context)` builds from the task's result, to the
    alert connection of `model` (checked params `config`); None posts nothing, and so does `alerts.enabled:
    false`. A connection missing or down is logged, not raised: what the task did stands."""

    what = "the alert"

    def __init__(self, model: str, config: dict) -> None:
        super().__init__(http_conn_id=config["alerts"]["connection"], endpoint="/")
        self.model, self.enabled = model, config["alerts"].get("enabled", True)

    def body(self, context) -> dict | None:
        raise NotImplementedError

    def notify(self, context) -> None:
        body = self.body(context)
        if body is None or not self.enabled:
            return
        try:
            self.hook.run(endpoint=self.endpoint, json=body)
        except Exception:
            self.log.exception("%s was not posted to connection %s", self.what, self.http_conn_id)


class DeploymentMoved(_PostsWhatTheTaskReturned):
    """POSTs `retrainer.core.alerts.deployment_moved` (model, versions, from -> to mode and share, who or
    what moved it, why, the link) when the task it is the success callback of returned a `move`; a task
    that moved nothing posts nothing. A connection missing or down is logged, not raised: the move stands."""

    what = "the deployment move"

    def body(self, context) -> dict | None:
        from retrainer.core import alerts

        return alerts.moved_from_context(self.model, context)


class DataWarnings(_PostsWhatTheTaskReturned):
    """POSTs `retrainer.core.alerts.data_warnings` (the batch, each warning, its Data Docs, the link) when
    the validate task it is the success callback of passed a batch with warnings; a batch without any
    posts nothing. A connection missing or down is logged, not raised: the batch passed, the run goes on."""

    what = "the data warnings"

    def body(self, context) -> dict | None:
        from retrainer.core import alerts

        return alerts.warnings_from_context(self.model, context)


class DriftRetrainingFailed(BaseNotifier):
    """Records, through `retrainer.tasks.retrain.retraining_failed`, that the drift-triggered retraining
    run of `model` whose task failed for good failed: the monitor runs that signalled it then leave the
    cool-down free. A scheduled or manual run records nothing."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model

    def notify(self, context) -> None:
        from retrainer.tasks import retrain

        ti, exception = context["ti"], context.get("exception")
        retrain.retraining_failed(
            context["dag_run"], context.get("params"), self.model, f"{ti.task_id}: {exception}", exception
        )


def assigned_users(config: dict) -> list[dict[str, str]] | None:
    """The approval form's HITL `assigned_users` from a model's `deployment.approvers` (user ids, as the
    auth manager gives them; SimpleAuthManager: the username). Airflow's API compares them with the id of
    the user answering (`is_authorized_hitl_task`) and refuses anyone else with 403. None when empty: any
    user allowed to answer the DAG's forms may."""
    return [{"id": user, "name": user} for user in config["deployment"]["approvers"]] or None
