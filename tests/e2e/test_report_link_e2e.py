"""The "Report" button of a task instance in the Airflow UI, through real Airflow: a task's run returns its
report's address as `report_url` (as the validate, evaluate, register, check_drift and score report_day tasks
do), and the API server the UI asks for the task's extra links answers with it, from the registry plugin's
global operator extra link; a task that made no report gets no button (null, which the UI hides)."""

from __future__ import annotations

import json
import urllib.parse

from tests.conftest import copy_configuration
from tests.e2e import servers
from tests.e2e.servers import request

REPORT = "/registry/scores/fraud-xgb/2026-11-15/report.html"
PROBE = f'''
from datetime import UTC, datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False, tags=["test"])
def report_link_probe():
    @task
    def reported() -> dict:
        return {{"day": "2026-11-15", "report_url": "{REPORT}"}}

    @task
    def silent() -> dict:
        return {{"rows": 1}}

    reported() >> silent()


report_link_probe()
'''


def test_a_task_that_returned_a_report_url_shows_a_report_button(airflow, tmp_path):
    airflow.project = copy_configuration(tmp_path / "project", ("models", "expectations"))
    (airflow.project / "dags").mkdir()
    (airflow.project / "dags" / "probe.py").write_text(PROBE)
    run = airflow.dags_test("report_link_probe", "2026-11-16")
    assert run.state == "success", run.log[-3000:]
    assert run.tasks == {"reported": "success", "silent": "success"}, run.log[-3000:]

    with servers.api_server(airflow, viewer=False) as base:
        token = request("GET", f"{base}/auth/token")["access_token"]
        [dag_run] = request("GET", f"{base}/api/v2/dags/report_link_probe/dagRuns", token)["dag_runs"]
        run_id = urllib.parse.quote(dag_run["dag_run_id"], safe="")
        links = {
            task: request(
                "GET",
                f"{base}/api/v2/dags/report_link_probe/dagRuns/{run_id}/taskInstances/{task}/links",
                token,
            )["extra_links"]
            for task in ("reported", "silent")
        }
    assert links == {"reported": {"Report": REPORT}, "silent": {"Report": None}}, json.dumps(links)
