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
