"""A failure reaches a person, through real Airflow: the model's alert connection, set the way a user sets
one (`AIRFLOW_CONN_<ID>` in the environment), points at a receiver on 127.0.0.1. A retraining run failing on
a missing source day (`airflow dags test`) posts one alert naming the task, the error and the run's link;
the approval form (its task run by `airflow tasks test`) posts that it waits, and Airflow's REST API refuses
an answer from anyone but the model's `deployment.approvers`."""

from __future__ import annotations

import pytest

from tests.test_alerts import receiving

pytestmark = pytest.mark.e2e


def test_a_day_missing_from_the_source_posts_one_alert_naming_the_task_the_error_and_the_run(airflow):
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "7")
    (airflow.var / "source" / "date=2026-11-12" / "transactions.parquet").unlink()
    with receiving() as receiver:
        env = {"AIRFLOW_CONN_RETRAINER_ALERTS": receiver.connection()}  # the shipped models' connection
        run = airflow.dags_test("retrain_fraud-xgb", "2026-11-16", extra_env=env)
    assert run.state == "failed" and run.tasks["extract"] == "failed", run.log[-3000:]

    [post] = receiver.posts  # one failed task, failed at once (a verdict): one alert, not one per retry
    assert post["event"] == "task_failed"
    assert (post["model"], post["dag_id"], post["task_id"]) == ("fraud-xgb", "retrain_fraud-xgb", "extract")
    assert post["error"]["type"] == "MissingSourcePartition" and "2026-11-12" in post["error"]["message"]
    assert post["run_id"] and f"/dags/retrain_fraud-xgb/runs/{post['run_id']}" in post["url"].replace(
        "%3A", ":"
    ).replace("%2B", "+")
    assert "2026-11-16" in post["logical_date"]
    assert "retrain_fraud-xgb.extract" in post["text"] and "MissingSourcePartition" in post["text"]


# In the test's Airflow environment: a run of retrain_fraud-xgb whose register task has returned (its XCom,
# which the approval form's subject and body read), ready for its approve task to run.
RUN = "manual__approval"
SETUP = f"""
from datetime import UTC, datetime, timedelta

from airflow.models.serialized_dag import SerializedDagModel
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunTriggeredByType, DagRunType

end = datetime(2026, 11, 16, tzinfo=UTC)
with create_session() as session:
    dag = SerializedDagModel.get_dag("retrain_fraud-xgb", session=session)
    dag.create_dagrun(
        run_id="{RUN}", logical_date=end, data_interval=(end - timedelta(days=7), end), run_after=end,
        run_type=DagRunType.MANUAL, triggered_by=DagRunTriggeredByType.TEST, state=DagRunState.RUNNING,
        session=session,
    )
    registered = {{"model": "fraud-xgb", "version": 2, "approval_body": "v2 passed every gate"}}
    XComModel.set(
        "return_value", registered, dag_id="retrain_fraud-xgb", task_id="register", run_id="{RUN}",
        serialize=False, session=session,  # stored as the task SDK stores a returned dict
    )
"""
# Three users answer the waiting form through Airflow's own REST API (the app the api-server serves), each
# with a SimpleAuthManager token: a viewer, an admin who is not an approver, the approver.
ANSWER = f"""
import json

from fastapi.testclient import TestClient

from airflow.api_fastapi.app import create_app
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

client = TestClient(create_app("core"))
path = "/api/v2/dags/retrain_fraud-xgb/dagRuns/{RUN}/taskInstances/approve/-1/hitlDetails"
answers = {{}}
for user, role in (("vic", "viewer"), ("bob", "admin"), ("alice", "user")):
    token = SimpleAuthManager().generate_jwt(SimpleAuthManagerUser(username=user, role=role))
    done = client.patch(
        path, json={{"chosen_options": ["Reject"], "params_input": {{}}}},
        headers={{"Authorization": f"Bearer {{token}}"}},
    )
    answers[user] = [done.status_code, done.json()]
print("ANSWERS " + json.dumps(answers))
"""


def test_the_waiting_approval_is_posted_and_only_the_models_approvers_may_answer_it(airflow, tmp_path):
    import json
    import shutil

    import yaml

    from tests import processes
    from tests.conftest import PROJECT_DIR
    from tests.e2e.conftest import BIN

    project = tmp_path / "project"
    for name in ("dags", "plugins", "models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, project / name)
    path = project / "models" / "fraud-xgb" / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("deployment", {})["approvers"] = ["alice"]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    airflow.project = project
    airflow.airflow("dags", "reserialize")

    def python(code: str, env: dict | None = None) -> str:
        done = processes.run([str(BIN / "python"), "-c", code], env=airflow.env | (env or {}), timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    python(SETUP)
    with receiving() as receiver:  # the approve task runs: it writes the form, notifies, and waits
        env = {"AIRFLOW_CONN_RETRAINER_ALERTS": receiver.connection()}
        done = processes.run(
            [str(BIN / "airflow"), "tasks", "test", "retrain_fraud-xgb", "approve", RUN],
            env=airflow.env | env,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert len(receiver.posts) == 1, done.stdout[-3000:] + done.stderr[-5000:]
    [post] = receiver.posts
    assert post["event"] == "approval_waiting" and post["approvers"] == ["alice"], post
    assert (
        post["subject"] == "Deploy fraud-xgb v2?"
        and post["run_id"] == RUN
        and "/tasks/approve" in post["url"]
    )
    assert post["timeout"] and "alice" in post["text"]

    answers = json.loads(python(ANSWER).split("ANSWERS ", 1)[1].splitlines()[0])
    assert answers["vic"][0] == 403  # a viewer may not answer forms at all
    assert answers["bob"][0] == 403 and "not a respondent" in json.dumps(answers["bob"][1])  # not an approver
    assert answers["alice"][0] == 200, answers["alice"]  # the approver
    assert answers["alice"][1]["responded_by"]["id"] == "alice"
