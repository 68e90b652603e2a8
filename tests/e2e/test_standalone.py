"""The DAG under a real scheduler and executor: `airflow standalone`, a run triggered through the REST API.

Unlike `airflow dags test`, every task runs in a process of its own here, as it does in production; the
register task's first process is killed (SIGKILL, by the storage fault hook) right after it wrote the
version record, and Airflow's retry finishes the registration.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.e2e import servers

pytestmark = pytest.mark.e2e


@pytest.fixture
def standalone(airflow):
    # kill -9 the first process that writes a registry version record: the register task, mid-task
    fault = {
        "RETRAINER_FAULT_KEYS": "registry/*/versions/*",
        "RETRAINER_FAULT_AFTER_WRITES": "1",
        "RETRAINER_FAULT_ONCE": str(airflow.home / "register-killed"),
    }
    with servers.standalone(airflow, fault) as api:
        yield api


def test_a_run_triggered_through_the_rest_api_registers_a_champion_despite_a_killed_task(airflow, standalone):
    base, token = standalone
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "70")
    servers.wait(
        lambda: servers.request("GET", f"{base}/api/v2/dags/retrain_fraud-xgb", token),
        120,
        "the DAG to be parsed",
    )
    run = servers.request(
        "POST",
        f"{base}/api/v2/dags/retrain_fraud-xgb/dagRuns",
        token,
        {"logical_date": "2026-11-16T00:00:00Z", "conf": {"extract_window_days": 56}},
    )
    servers.request("PATCH", f"{base}/api/v2/dags/retrain_fraud-xgb", token, {"is_paused": False})
    run_url = f"{base}/api/v2/dags/retrain_fraud-xgb/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"
    state = servers.wait(
        lambda: (s := servers.request("GET", run_url, token)["state"]) in ("success", "failed") and s,
        420,
        "the run",
    )
    assert state == "success", (airflow.home / "standalone.log").read_text()[-3000:]
    killed = (airflow.home / "register-killed").read_text()
    assert "killed after writing registry/fraud-xgb/versions/000001.json" in killed
    register = servers.request("GET", f"{run_url}/taskInstances/register", token)
    assert register["state"] == "success" and register["try_number"] == 2  # killed once, retried
    versions = json.loads(airflow.retrainer("registry", "list", "--json"))
    mine = [v for v in versions if v["airflow_run_id"] == run["dag_run_id"]]
    assert len(mine) == 1 and "champion" in mine[0]["aliases"] and mine[0]["verified"]
    audit = json.loads(airflow.retrainer("registry", "audit", "--json"))
    assert [(e["event"], e.get("alias")) for e in audit] == [
        ("version_registered", None),
        ("alias_moved", "champion"),
    ]
