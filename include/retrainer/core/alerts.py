"""What a person is told when a model needs them: a task that failed for good (after its retries, or at once
for a verdict such as a quarantined batch or a failed gate) and an approval form waiting for an answer.

Pure functions from what happened (model, DAG, task, run, the error, the link to the run in the Airflow UI)
to the JSON body posted to the model's alert connection (`alerts.connection`); the DAG files' notifiers
only collect those values from Airflow's callback context and post the result. Light: no Airflow import.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# An error's message is cut to this many characters: a chat message, not a log (the link has the rest).
MAX_MESSAGE = 2000


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
