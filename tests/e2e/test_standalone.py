"""The DAG under a real scheduler and executor: `airflow standalone`, a run triggered through the REST API.

Unlike `airflow dags test`, every task runs in a process of its own here, as it does in production; the
register task's first process is killed (SIGKILL, by the storage fault hook) right after it wrote the
version record, and Airflow's retry finishes the registration.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests import processes
from tests.conftest import _free_port
from tests.e2e.conftest import BIN

pytestmark = pytest.mark.e2e


def _request(method: str, url: str, token: str | None = None, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def standalone(airflow):
    port = _free_port()
    env = airflow.env | {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(_free_port()),
        # kill -9 the first process that writes a registry version record: the register task, mid-task
        "RETRAINER_FAULT_KEYS": "registry/*/versions/*",
        "RETRAINER_FAULT_AFTER_WRITES": "1",
        "RETRAINER_FAULT_ONCE": str(airflow.home / "register-killed"),
    }
    log = (airflow.home / "standalone.log").open("w")
    process = processes.start(
        [str(BIN / "airflow"), "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _request("GET", f"{base}/api/v2/version"), 180, "the API server")
        token = _request("GET", f"{base}/auth/token")["access_token"]
        yield base, token
    finally:
        # The scheduler was seen ignoring SIGTERM for 15 s, and each task runs in a process group of its
        # own: stop every process the standalone started, whatever group it is in, then kill what is left.
        processes.stop(process, grace=30)
        assert not processes.tagged(process.tag)
        log.close()


def test_a_run_triggered_through_the_rest_api_registers_a_champion_despite_a_killed_task(airflow, standalone):
    base, token = standalone
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "70")
    _wait(
        lambda: _request("GET", f"{base}/api/v2/dags/retrain_fraud-xgb", token), 120, "the DAG to be parsed"
    )
    run = _request(
        "POST",
        f"{base}/api/v2/dags/retrain_fraud-xgb/dagRuns",
        token,
        {"logical_date": "2026-11-16T00:00:00Z", "conf": {"extract_window_days": 56}},
    )
    _request("PATCH", f"{base}/api/v2/dags/retrain_fraud-xgb", token, {"is_paused": False})
    run_url = f"{base}/api/v2/dags/retrain_fraud-xgb/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"
    state = _wait(
        lambda: (s := _request("GET", run_url, token)["state"]) in ("success", "failed") and s, 420, "the run"
    )
    assert state == "success", (airflow.home / "standalone.log").read_text()[-3000:]
    killed = (airflow.home / "register-killed").read_text()
    assert "killed after writing registry/fraud-xgb/versions/000001.json" in killed
    register = _request("GET", f"{run_url}/taskInstances/register", token)
    assert register["state"] == "success" and register["try_number"] == 2  # killed once, retried
    versions = json.loads(airflow.retrainer("registry", "list", "--json"))
    mine = [v for v in versions if v["airflow_run_id"] == run["dag_run_id"]]
    assert len(mine) == 1 and "champion" in mine[0]["aliases"] and mine[0]["verified"]
    audit = json.loads(airflow.retrainer("registry", "audit", "--json"))
    assert [(e["event"], e.get("alias")) for e in audit] == [
        ("version_registered", None),
        ("alias_moved", "champion"),
    ]
