"""What a person is told when a model needs them: a task that failed for good (after its retries, or at once
for a verdict such as a quarantined batch or a failed gate), an approval form waiting for an answer, a
deployment move (a rollback, a promotion, a canary start or step), automatic or not, and a batch that
passed its contract with warnings.

Pure functions from what happened (model, DAG, task, run, the error, the link to the run in the Airflow UI)
to the JSON body posted to the model's alert connection (`alerts.connection`); the DAG files' notifiers
only collect those values from Airflow's callback context and post the result. Light: no Airflow import.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from retrainer.core.errors import Rejected

# An error's message is cut to this many characters: a chat message, not a log (the link has the rest).
MAX_MESSAGE = 2000


# How a person defines the alert connection, named by every message about one that is missing.
DEFINE_CONNECTION = (
    'define it (AIRFLOW_CONN_{ID}=\'{{"conn_type": "http", "host": "hooks.example.com", '
    '"schema": "https"}}\' in the environment of every Airflow component, a secrets backend, or the UI\'s '
    "Admin > Connections), or turn the model's alerts off (alerts.enabled: false in its params.yaml)"
)


class AlertConnectionUndefined(Rejected):
    """The alert connection (`alerts.connection`) cannot be resolved by Airflow: alerts would go nowhere."""

    def __init__(self, conn_id: str, why: str = "", model: str | None = None) -> None:
        whose = f" of {model}" if model else ""
        reason = why or (
            f"Airflow finds it neither in the environment (AIRFLOW_CONN_{conn_id.upper()}) nor in its "
            "secrets backend or metadata DB"
        )
        super().__init__(
            f"alert connection {conn_id!r}{whose} (alerts.connection) cannot be used: {reason}; "
            + DEFINE_CONNECTION.format(ID=conn_id.upper())
        )
        self.conn_id = conn_id


class AlertNotDelivered(RuntimeError):
    """An alert was not accepted by the endpoint of the alert connection (down, refused, an HTTP error).
    Not a verdict: a retry may find the endpoint back."""

    def __init__(self, model: str, conn_id: str, address: str, cause: BaseException) -> None:
        super().__init__(
            f"the alert of {model} was not delivered to {address} (connection {conn_id!r}, "
            f"alerts.connection): {type(cause).__name__}: {cause}. Check that the endpoint is up and "
            "accepts a JSON POST"
        )


def alert_route(params: dict[str, Any], resolve: Callable[[str], str]) -> tuple[bool, str]:
    """Where a model's alerts go, as `retrainer models check` says it: (deliverable, one phrase). `resolve`
    gives where a connection id points (Airflow's resolution, passed in: this package never imports
    Airflow) or raises AlertConnectionUndefined. Alerts turned off are deliverable and say so."""
    settings = params["alerts"]
    if not settings.get("enabled", True):
        return True, "alerts off (alerts.enabled: false): failures, drift and approvals are posted nowhere"
    try:
        return True, f"alerts to {resolve(settings['connection'])}"
    except AlertConnectionUndefined as error:
        return False, f"ALERTS UNDELIVERABLE: {error}"


def describe_error(error: BaseException | str | None) -> dict[str, str | None]:
    """The error as `{"type", "message"}`: the exception's class (our named errors say what failed, e.g.
    `MissingSourcePartition`) and its message. Airflow passes the exception itself when the task's own
    process saw it; a task killed from outside (out of memory, a lost worker) reaches the callback with a
    text or nothing, reported as such."""
    if error is None:
        return {"type": None, "message": "no error was passed: the task was failed from outside its process"}
    if isinstance(error, BaseException):
        message = str(error) or repr(error)
        kind = type(error).__name__
    else:
        message, kind = str(error), None
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return {"type": kind, "message": message}


def task_failed(
    model: str,
    dag_id: str,
    task_id: str,
    run_id: str,
    error: BaseException | str | None,
    url: str | None,
    logical_date: Any = None,
    try_number: int | None = None,
) -> dict[str, Any]:
    """The alert of a task that failed for good: `{"event": "task_failed", "text": one line a person reads,
    "model", "dag_id", "task_id", "run_id", "logical_date", "try_number", "error": {"type", "message"},
    "url"}`. `url` is the task in its run in the Airflow UI (its log and the run around it)."""
    described = describe_error(error)
    why = f"{described['type']}: {described['message']}" if described["type"] else described["message"]
    text = f"[{model}] {dag_id}.{task_id} failed in run {run_id}: {why}"
    if url:
        text += f" ({url})"
    return {
        "event": "task_failed",
        "text": text,
        "model": model,
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "logical_date": None if logical_date is None else str(logical_date),
        "try_number": try_number,
        "error": described,
        "url": url,
    }


def approval_waiting(
    model: str,
    dag_id: str,
    task_id: str,
    run_id: str,
    subject: str,
    url: str | None,
    approvers: list[str],
    timeout: Any = None,
) -> dict[str, Any]:
    """The alert of an approval form waiting for an answer: `{"event": "approval_waiting", "text", "model",
    "dag_id", "task_id", "run_id", "subject", "approvers", "timeout", "url"}`. `approvers` empty: any user
    allowed to answer the DAG's forms; `timeout`: when no answer counts as Reject."""
    who = ", ".join(approvers) if approvers else "any user allowed to answer this DAG's forms"
    text = f"[{model}] {subject}: an approval waits for an answer from {who} (run {run_id})"
    if timeout is not None:
        text += f"; no answer by {timeout} counts as Reject"
    if url:
        text += f" ({url})"
    return {
        "event": "approval_waiting",
        "text": text,
        "model": model,
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "subject": subject,
        "approvers": list(approvers),
        "timeout": None if timeout is None else str(timeout),
        "url": url,
    }


def failed_from_context(model: str, context: Any) -> dict[str, Any]:
    """`task_failed` from an Airflow callback context (a mapping with `ti`, `exception`, `logical_date`),
    read by key and attribute only: the DAG files' `on_failure_callback` notifier passes its context."""
    ti = context["ti"]
    return task_failed(
        model,
        ti.dag_id,
        ti.task_id,
        ti.run_id,
        context.get("exception"),
        getattr(ti, "log_url", None),
        context.get("logical_date"),
        getattr(ti, "try_number", None),
    )


def waiting_from_context(model: str, context: Any, approvers: list[str], now: datetime) -> dict[str, Any]:
    """`approval_waiting` from the approval task's context (`ti`, and `task`: the HITL operator, its
    subject rendered, its `response_timeout` counted from `now`)."""
    ti, task = context["ti"], context["task"]
    timeout = getattr(task, "response_timeout", None)
    return approval_waiting(
        model,
        ti.dag_id,
        ti.task_id,
        ti.run_id,
        str(task.subject),
        getattr(ti, "log_url", None),
        approvers,
        (now + timeout).isoformat() if timeout else None,
    )


def _deployed(side: dict[str, Any]) -> str:
    """One side of a move as a person reads it: `champion v2 only`, `canary v3 at 25 % (champion v2)`."""
    mode, champion, challenger = side.get("mode"), side.get("champion"), side.get("challenger")
    if mode is None:
        return "nothing deployed"
    if mode == "champion" or challenger is None:
        return f"champion v{champion} only"
    share = f" at {side.get('share')} %" if mode == "canary" else ""
    return f"{mode} v{challenger}{share} (champion v{champion})"


def deployment_moved(
    model: str, move: dict[str, Any], dag_id: str, task_id: str, run_id: str, url: str | None
) -> dict[str, Any]:
    """The alert of a deployment move (`retrainer.deployment.moves.move_of`): `{"event":
    "deployment_moved", "text", "model", "move": its audit event, "version", "from" and "to": {mode,
    share, champion, challenger}, "revision": [from, to], "actor", "reason", "breaches", "dag_id",
    "task_id", "run_id", "url"}`. The text names the model, the
    move, the versions, from -> to mode and share, who or what moved it, why (a rollback's breaches one by
    one) and the link to the task in its run."""
    before, after = move.get("from") or {}, move.get("to") or {}
    revisions = move.get("revision") or [None, None]
    automatic = "automatic " if move.get("actor") == "monitor" else ""  # the daily verdict moved it
    text = (
        f"[{model}] {automatic}{move.get('what')} of v{move.get('version')} by {move.get('actor')}: "
        f"{_deployed(before)} -> {_deployed(after)} (revision {revisions[0]} -> {revisions[1]})"
    )
    breaches = list(move.get("breaches") or [])
    text += ". Why: " + ("; ".join(breaches) if breaches else str(move.get("reason")))
    if url:
        text += f" ({url})"
    return {
        "event": "deployment_moved",
        "text": text,
        "model": model,
        "move": move.get("event"),
        "version": move.get("version"),
        "from": before,
        "to": after,
        "revision": revisions,
        "actor": move.get("actor"),
        "reason": move.get("reason"),
        "breaches": breaches,
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "url": url,
    }


def moved_from_context(model: str, context: Any) -> dict[str, Any] | None:
    """`deployment_moved` from a task's success callback context: the move is in the task's own return
    value (`"move"`, pushed to XCom before the callback runs); None when the task moved nothing."""
    ti = context["ti"]
    result = ti.xcom_pull(task_ids=ti.task_id)
    move = result.get("move") if isinstance(result, dict) else None
    if not move:
        return None
    return deployment_moved(model, move, ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "log_url", None))


def data_warnings(
    model: str,
    validated: dict[str, Any],
    dag_id: str,
    task_id: str,
    run_id: str,
    url: str | None,
) -> dict[str, Any] | None:
    """The alert of a batch that passed its contract with warnings (`validated`: the validate task's
    result, `retrainer.tasks.retrain.validate`: `run_key`, `batch_uri`, `validation_uri`, `data_docs_url`
    and `warnings`, each described): `{"event": "data_warnings", "text", "model", "run_key", "batch_uri",
    "validation_uri", "data_docs_url", "warnings", "dag_id", "task_id", "run_id", "url"}`. The text names
    the batch and every warning, one per line; None when the batch had none."""
    warnings = [str(w) for w in validated.get("warnings") or []]
    if not warnings:
        return None
    batch = validated.get("run_key") or validated.get("batch_uri")
    text = f"[{model}] batch {batch} passed its contract with {len(warnings)} warning(s) (run {run_id}):"
    text += "".join(f"\n- {w}" for w in warnings)
    if len(text) > MAX_MESSAGE:  # every warning is in `warnings` and validation.json; the text is a digest
        text = text[: MAX_MESSAGE - 1] + "…"
    if validated.get("data_docs_url"):
        text += f"\nData Docs: {validated['data_docs_url']}"
    if url:
        text += f"\n({url})"
    return {
        "event": "data_warnings",
        "text": text,
        "model": model,
        "run_key": validated.get("run_key"),
        "batch_uri": validated.get("batch_uri"),
        "validation_uri": validated.get("validation_uri"),
        "data_docs_url": validated.get("data_docs_url"),
        "warnings": warnings,
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "url": url,
    }


def warnings_from_context(model: str, context: Any) -> dict[str, Any] | None:
    """`data_warnings` from the validate task's success callback context: its result is in XCom (pushed
    before the callback runs); None when it passed with no warning."""
    ti = context["ti"]
    result = ti.xcom_pull(task_ids=ti.task_id)
    if not isinstance(result, dict):
        return None
    return data_warnings(model, result, ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "log_url", None))
