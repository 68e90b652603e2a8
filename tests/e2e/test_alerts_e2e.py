"""A failed retraining run reaches a person, through real Airflow (`airflow dags test`): the model's alert
connection, set the way a user sets one (`AIRFLOW_CONN_<ID>` in the environment), points at a receiver on
127.0.0.1, and the run's one failed task posts what failed, the named error and the link to the run."""

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


# Run in the test's Airflow environment: the approval form of a run of retrain_fraud-xgb waits (its row as
# the HITL operator writes it, assigned to the model's approvers), and three users answer it through
# Airflow's own REST API (the app the api-server serves), each with a token of SimpleAuthManager.
ANSWER = """
import json, sys, urllib.parse
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from airflow.api_fastapi.app import create_app
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.dag_processing.dagbag import DagBag
from airflow.models.hitl import HITLDetail
from airflow.models.serialized_dag import SerializedDagModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType, DagRunType

approve = DagBag(dag_folder=sys.argv[1]).dags["retrain_fraud-xgb"].get_task("approve")
end = datetime(2026, 11, 16, tzinfo=UTC)
with create_session() as session:
    dag = SerializedDagModel.get_dag("retrain_fraud-xgb", session=session)
    run = dag.create_dagrun(
        run_id="manual__approval", logical_date=end, data_interval=(end - timedelta(days=7), end),
        run_after=end, run_type=DagRunType.MANUAL, triggered_by=DagRunTriggeredByType.TEST,
        state=DagRunState.RUNNING, session=session,
    )
    ti = run.get_task_instance("approve", session=session)
    ti.state = TaskInstanceState.AWAITING_INPUT
    session.add(HITLDetail(
        ti_id=ti.id, options=approve.options, subject="Deploy fraud-xgb v2?", defaults=approve.defaults,
        multiple=False, params={}, assignees=approve.assigned_users,
    ))
client = TestClient(create_app("core"))
path = "/api/v2/dags/retrain_fraud-xgb/dagRuns/manual__approval/taskInstances/approve/-1/hitlDetails"
answers = {}
for user, role in (("vic", "viewer"), ("bob", "admin"), ("alice", "user")):
    token = SimpleAuthManager().generate_jwt(SimpleAuthManagerUser(username=user, role=role))
    done = client.patch(path, json={"chosen_options": ["Reject"], "params_input": {}},
                        headers={"Authorization": f"Bearer {token}"})
    answers[user] = [done.status_code, done.json()]
print("ANSWERS " + json.dumps(answers))
"""


def test_only_the_models_approvers_may_answer_its_approval_form(airflow, tmp_path):
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

    done = processes.run(
        [str(BIN / "python"), "-c", ANSWER, str(project / "dags")], env=airflow.env, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    answers = json.loads(done.stdout.split("ANSWERS ", 1)[1].splitlines()[0])
    assert answers["vic"][0] == 403  # a viewer may not answer forms at all
    assert answers["bob"][0] == 403 and "not a respondent" in json.dumps(answers["bob"][1])  # not an approver
    assert answers["alice"][0] == 200, answers["alice"]  # an approver
    assert answers["alice"][1]["responded_by"]["id"] == "alice"
