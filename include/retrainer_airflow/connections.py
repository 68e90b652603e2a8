"""Where a model's alerts go, as Airflow itself resolves the alert connection (`alerts.connection`), and
posting an alert from inside a task so that one that cannot be delivered fails the task.

Airflow runs a notifier given as a task's callback after the task has ended and only logs its failure
(`Failed to send notification ... isn't defined`): the task stays green. The alerts a task exists to post
(the drift monitor's and the scoring day's `alert` tasks) are posted here, in the task's body, instead.
"""

from __future__ import annotations

import logging
from typing import Any

from retrainer.core.alerts import AlertConnectionUndefined, AlertNotDelivered

log = logging.getLogger(__name__)


def _address(conn: Any) -> str:
    """The connection's address as the HTTP hook builds it (a host holding a scheme is taken as it is);
    never its login or password."""
    host = conn.host or ""
    address = host if "://" in host else f"{conn.schema or 'http'}://{host}"
    return address + (f":{conn.port}" if conn.port else "")


def _from_environment(conn_id: str) -> bool:
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend

    return EnvironmentVariablesBackend().get_conn_value(conn_id) is not None


def describe_connection(conn_id: str) -> str:
    """Where the connection `conn_id` points and where Airflow found it, resolved as `airflow connections
    get` resolves it: the environment (`AIRFLOW_CONN_<ID>`), the configured secrets backend, the metadata
    DB. Raises AlertConnectionUndefined when none defines it, or it has no host to post to."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        raise AlertConnectionUndefined(conn_id) from None
    if not conn.host:
        raise AlertConnectionUndefined(conn_id, "it is defined but has no host to post to")
    where = (
        f"environment AIRFLOW_CONN_{conn_id.upper()}"
        if _from_environment(conn_id)
        else "Airflow's secrets backend or metadata DB"
    )
    return f"{_address(conn)} (connection {conn_id}, {conn.conn_type or 'no type'}, from {where})"


def post_alert(model: str, config: dict[str, Any], body: dict[str, Any]) -> str:
    """POST `body` to the alert connection of `model` (checked params `config`) from inside a task; returns
    what happened, for the task's log and XCom. A connection Airflow cannot resolve fails the task at once
    (AlertConnectionUndefined, a verdict: a retry cannot define it); an endpoint that refuses or cannot be
    reached fails it with AlertNotDelivered (retried). With `alerts.enabled: false` nothing is posted, and
    the log says so."""
    settings = config["alerts"]
    conn_id = settings["connection"]
    if not settings.get("enabled", True):
        log.warning("alerts.enabled is false for %s: not posted: %s", model, body.get("text"))
        return "not posted (alerts.enabled: false)"
    from airflow.providers.http.hooks.http import HttpHook
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise AlertConnectionUndefined(conn_id, model=model) from None
    try:
        response = HttpHook(method="POST", http_conn_id=conn_id).run(endpoint="/", json=body)
    except Exception as error:  # the hook raises requests' errors and AirflowException on a 4xx/5xx
        raise AlertNotDelivered(model, conn_id, _address(conn), error) from error
    log.info("alert posted to %s (connection %s): HTTP %s", _address(conn), conn_id, response.status_code)
    return f"posted to {_address(conn)} (connection {conn_id}): HTTP {response.status_code}"
