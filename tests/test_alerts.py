"""A failure reaches a person: the alert bodies (what failed, the named error, the run's link), the model's
own alert connection and approvers in its params, the DAGs' notifiers posting to that connection, and
Airflow refusing an approval answer from a user who is not one of the model's approvers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import yaml

from retrainer.core import alerts
from retrainer.core.errors import NoDataInterval
from retrainer.core.models import ModelConfigError, load_model
from tests.conftest import PROJECT_DIR, copy_configuration

URL = "http://airflow.example/dags/retrain_fraud-xgb/runs/scheduled__2026-11-16/tasks/extract?try_number=1"


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every POST's JSON body: the alert connection of a test."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                posts.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def connection(self) -> str:
        """The connection as a user sets it in the environment (`AIRFLOW_CONN_<ID>`, JSON form)."""
        return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": self.port, "schema": "http"})


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A running `Receiver`, shut down whatever happens."""
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(10)


# --- the bodies ---------------------------------------------------------------------------------------


def test_a_failed_task_says_what_failed_why_by_the_errors_name_and_where_the_run_is():
    error = NoDataInterval("manual__2026-11-18")
    body = alerts.task_failed("fraud-xgb", "retrain_fraud-xgb", "extract", "manual__2026-11-18", error, URL)
    assert body["event"] == "task_failed"
    assert (body["model"], body["dag_id"], body["task_id"], body["run_id"]) == (
        "fraud-xgb",
        "retrain_fraud-xgb",
        "extract",
        "manual__2026-11-18",
    )
    assert body["error"] == {"type": "NoDataInterval", "message": str(error)}
    assert body["url"] == URL
    # one line a person reads in a chat: the model, the task, the run, the named error and the link
    text = body["text"]
    for part in ("[fraud-xgb]", "retrain_fraud-xgb.extract", "manual__2026-11-18", "NoDataInterval:", URL):
        assert part in text
    json.dumps(body)  # JSON as it is posted


def test_an_error_from_outside_the_task_or_none_at_all_is_still_reported():
    killed = alerts.describe_error("Executor reports task instance finished (failed) although ...")
    assert killed == {
        "type": None,
        "message": "Executor reports task instance finished (failed) although ...",
    }
    assert (
        alerts.describe_error(None)["type"] is None
        and "from outside" in alerts.describe_error(None)["message"]
    )
    long = alerts.describe_error(RuntimeError("x" * 10_000))
    assert long["type"] == "RuntimeError" and len(long["message"]) == alerts.MAX_MESSAGE


def test_an_approval_waiting_names_who_may_answer_until_when_and_the_forms_link():
    deadline = "2026-11-19T03:00:00+00:00"
    body = alerts.approval_waiting(
        "fraud-xgb", "retrain_fraud-xgb", "approve", "run-1", "Deploy fraud-xgb v3?", URL, ["alice"], deadline
    )
    assert body["event"] == "approval_waiting" and body["approvers"] == ["alice"]
    assert all(part in body["text"] for part in ("Deploy fraud-xgb v3?", "alice", deadline, URL, "Reject"))
    anyone = alerts.approval_waiting("m", "d", "approve", "r", "s", None, [], None)
    assert "any user" in anyone["text"] and anyone["timeout"] is None


def test_the_bodies_are_read_from_airflows_callback_context():
    ti = SimpleNamespace(
        dag_id="score_fraud-xgb", task_id="score", run_id="scheduled__x", log_url=URL, try_number=3
    )
    failed = alerts.failed_from_context("fraud-xgb", {"ti": ti, "exception": ValueError("bad day")})
    assert failed["error"] == {"type": "ValueError", "message": "bad day"} and failed["try_number"] == 3
    task = SimpleNamespace(subject="Deploy?", response_timeout=timedelta(hours=2))
    now = datetime(2026, 11, 16, 3, tzinfo=UTC)
    waiting = alerts.waiting_from_context("fraud-xgb", {"ti": ti, "task": task}, [], now)
    assert waiting["timeout"] == "2026-11-16T05:00:00+00:00"


def test_a_batch_with_warnings_is_one_message_naming_the_batch_and_each_warning():
    validated = {
        "run_key": "2026-11-16T000000Z",
        "batch_uri": "file:///s/batches/fraud-xgb/2026-11-16T000000Z/batch.parquet",
        "validation_uri": "file:///s/batches/fraud-xgb/2026-11-16T000000Z/validation.json",
        "data_docs_url": "/registry/data-docs/fraud-xgb/x.html",
        "warnings": ["expect_column_mean_to_be_between on column 'is_fraud': observed 0.08", "missing day"],
    }
    body = alerts.data_warnings("fraud-xgb", validated, "retrain_fraud-xgb", "validate", "run-1", URL)
    assert body["event"] == "data_warnings" and body["warnings"] == validated["warnings"]
    lines = body["text"].splitlines()
    assert (
        lines[0] == "[fraud-xgb] batch 2026-11-16T000000Z passed its contract with 2 warning(s) (run run-1):"
    )
    assert lines[1:3] == [f"- {w}" for w in validated["warnings"]] and lines[-1] == f"({URL})"
    assert alerts.data_warnings("fraud-xgb", validated | {"warnings": []}, "d", "t", "r", None) is None
    many = validated | {"warnings": ["x" * 500] * 10}  # the text is a digest; every warning is in `warnings`
    long = alerts.data_warnings("fraud-xgb", many, "d", "t", "r", None)
    assert len(long["warnings"]) == 10 and len(long["text"]) < alerts.MAX_MESSAGE + 100


# --- the model's params ------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    """A copy of the project's configuration and DAGs, whose fraud model alerts `fraud_pager` and is
    approved by alice only."""
    copy_configuration(tmp_path)
    path = tmp_path / "models" / "fraud-xgb" / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["alerts"] = {"connection": "fraud_pager"}
    params.setdefault("deployment", {})["approvers"] = ["alice"]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


def test_each_model_has_its_alert_connection_and_approvers(project):
    shipped = load_model(PROJECT_DIR, "fraud-xgb")
    assert shipped["alerts"]["connection"] == "retrainer_alerts" and shipped["deployment"]["approvers"] == []
    mine, other = load_model(project, "fraud-xgb"), load_model(project, "ato-xgb")
    assert mine["alerts"]["connection"] == "fraud_pager" and mine["deployment"]["approvers"] == ["alice"]
    assert other["alerts"]["connection"] == "retrainer_alerts"  # the other model keeps the default


def test_a_connection_id_or_approver_that_cannot_work_is_named(project):
    path = project / "models" / "fraud-xgb" / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["alerts"] = {"connection": "my pager", "conection": "x"}
    params["deployment"]["approvers"] = [""]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ModelConfigError) as raised:
        load_model(project, "fraud-xgb")
    text = "\n".join(raised.value.problems)
    assert "alerts.connection" in text and "alerts.conection: unknown key" in text
    assert "deployment.approvers.0" in text


# --- through Airflow: the DAGs' notifiers, and who may answer ----------------------------------------


@pytest.fixture
def dags(project, monkeypatch):
    """The DAGs Airflow parses from the copied project (`RETRAINER_PROJECT_DIR`, as a deployment sets it)."""
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def test_every_task_of_a_models_dags_alerts_its_own_connection_when_it_fails_for_good(dags):
    from retrainer_airflow.notifiers import TaskFailed

    for model, connection in (("fraud-xgb", "fraud_pager"), ("ato-xgb", "retrainer_alerts")):
        for kind in ("retrain", "score", "monitor", "deploy"):
            for task in dags[f"{kind}_{model}"].tasks:
                notifiers = [n for n in task.on_failure_callback if isinstance(n, TaskFailed)]
                assert [(n.http_conn_id, n.model) for n in notifiers] == [(connection, model)], task
    # the days out of bounds and the confirmed drift post to the model's connection too, in the alert task
    # itself (test_an_alert_that_cannot_be_delivered_fails_its_task)
    # every task that may move a deployment posts the move it made (issue 25: every move reaches a person)
    from retrainer_airflow.notifiers import DeploymentMoved

    for dag_id, task_id in (("score", "act"), ("retrain", "decide"), ("deploy", "deploy")):
        callbacks = dags[f"{dag_id}_fraud-xgb"].get_task(task_id).on_success_callback
        moved = [n for n in callbacks if isinstance(n, DeploymentMoved)]
        assert [(n.http_conn_id, n.model) for n in moved] == [("fraud_pager", "fraud-xgb")], task_id
    # a batch that passed its contract with warnings is posted with each warning (issue 28, item 3)
    from retrainer_airflow.notifiers import DataWarnings

    for model, connection in (("fraud-xgb", "fraud_pager"), ("ato-xgb", "retrainer_alerts")):
        callbacks = dags[f"retrain_{model}"].get_task("validate").on_success_callback
        posted = [(n.http_conn_id, n.model) for n in callbacks if isinstance(n, DataWarnings)]
        assert posted == [(connection, model)]
    # a retraining task failing for good records it, so that a drift-triggered retraining that failed frees
    # the drift monitor's cool-down (retrainer.monitoring.episodes)
    from retrainer_airflow.notifiers import DriftRetrainingFailed

    for task in dags["retrain_fraud-xgb"].tasks:
        recorders = [n for n in task.on_failure_callback if isinstance(n, DriftRetrainingFailed)]
        assert [n.model for n in recorders] == ["fraud-xgb"], task


def test_the_approval_form_posts_when_it_waits_and_only_an_approver_may_answer(dags, monkeypatch):
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    approve = dags["retrain_fraud-xgb"].get_task("approve")
    assert approve.assigned_users == [{"id": "alice", "name": "alice"}]
    assert dags["retrain_ato-xgb"].get_task("approve").assigned_users is None  # no approvers: any user

    # What Airflow's API does when a user answers a form that has assigned users (PATCH .../hitlDetails in
    # airflow/api_fastapi/core_api/routes/public/hitl.py): 403 unless the auth manager says yes.
    # Auth as an operator runs it (`make airflow`'s demo lets every user in as admin, answering included).
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    ids = {user["id"] for user in approve.assigned_users}
    manager = SimpleAuthManager()
    assert not manager.is_authorized_hitl_task(
        assigned_users=ids, user=SimpleAuthManagerUser(username="bob", role="admin")
    )
    assert manager.is_authorized_hitl_task(
        assigned_users=ids, user=SimpleAuthManagerUser(username="alice", role="user")
    )

    # The form's notifier, fired as the operator fires it when it starts waiting, posts to fraud_pager.
    ti = SimpleNamespace(
        dag_id="retrain_fraud-xgb",
        task_id="approve",
        run_id="scheduled__2026-11-16",
        log_url=URL,
        try_number=1,
    )
    context = {
        "ti": ti,
        "task": SimpleNamespace(subject="Deploy fraud-xgb v2?", response_timeout=timedelta(1)),
    }
    with receiving() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_FRAUD_PAGER", receiver.connection())
        for notifier in approve.notifiers:
            notifier(dict(context))
    [post] = receiver.posts
    assert post["event"] == "approval_waiting" and post["approvers"] == ["alice"]
    assert post["run_id"] == "scheduled__2026-11-16" and post["url"] == URL and "alice" in post["text"]

    # Nobody listening (the connection's server is down): the form still waits, the notifier does not raise.
    for notifier in approve.notifiers:
        notifier(dict(context))


def test_an_alert_that_cannot_be_delivered_fails_its_task_instead_of_passing_green(dags, monkeypatch):
    """The confirmed drift's and the day out of bounds' alert tasks post in their body: a connection
    Airflow cannot resolve fails the task at once (a verdict), an endpoint that is down fails it (retried);
    a callback's failure Airflow would only log, the task green."""
    from airflow.sdk import RetryAction

    from retrainer.core.alerts import AlertConnectionUndefined, AlertNotDelivered

    monkeypatch.delenv("AIRFLOW_CONN_FRAUD_PAGER", raising=False)
    checked = {"alert": "fraud-xgb: drift confirmed on 2026-11-26", "confirmed": True, "trigger": True}
    report = {"alert": "fraud-xgb: 2026-11-25 out of bounds", "breaches": ["alert rate 0.31 > 0.2"]}
    for dag_id, returned in (("monitor_fraud-xgb", checked), ("score_fraud-xgb", report)):
        alert = dags[dag_id].get_task("alert")
        assert not alert.on_success_callback, "a callback's failure leaves the task green"
        with pytest.raises(AlertConnectionUndefined) as undefined:
            alert.python_callable(returned)
        assert "'fraud_pager'" in str(undefined.value) and "AIRFLOW_CONN_FRAUD_PAGER=" in str(undefined.value)
        assert alert.retry_policy.evaluate(undefined.value, 1, 3).action == RetryAction.FAIL

        with receiving() as receiver:
            monkeypatch.setenv("AIRFLOW_CONN_FRAUD_PAGER", receiver.connection())
            assert "HTTP 200" in alert.python_callable(returned)
            down = json.loads(receiver.connection())
        [post] = receiver.posts
        assert post["text"] == returned["alert"]
        assert post.get("evidence", post.get("breaches")) in (checked, report["breaches"])

        monkeypatch.setenv("AIRFLOW_CONN_FRAUD_PAGER", json.dumps(down))  # its server is gone
        with pytest.raises(AlertNotDelivered) as lost:
            alert.python_callable(returned)
        assert f"127.0.0.1:{down['port']}" in str(lost.value)
        assert alert.retry_policy.evaluate(lost.value, 1, 3).action == RetryAction.DEFAULT
        monkeypatch.delenv("AIRFLOW_CONN_FRAUD_PAGER")


def test_alerts_turned_off_post_nothing_and_fail_nothing(project, monkeypatch):
    from retrainer_airflow.connections import post_alert
    from retrainer_airflow.notifiers import TaskFailed

    params = load_model(project, "fraud-xgb")
    params["alerts"]["enabled"] = False
    monkeypatch.delenv("AIRFLOW_CONN_FRAUD_PAGER", raising=False)
    assert post_alert("fraud-xgb", params, {"text": "drift"}) == "not posted (alerts.enabled: false)"
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", log_url=URL, try_number=1)
    TaskFailed("fraud-xgb", params)({"ti": ti, "exception": ValueError("x")})  # nothing to post to: no error
