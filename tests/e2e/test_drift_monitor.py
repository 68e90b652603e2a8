"""The drift monitor through real Airflow: a persistent shift in two features makes `monitor_fraud-xgb` post
an alert to an HTTP receiver on 127.0.0.1 (Airflow's HttpNotifier) and emit the drift Asset event with the
evidence, which queues a `retrain_fraud-xgb` run; a drift confirmed again inside the cool-down emits
nothing. Then, under `airflow standalone`, the event starts that run, which registers a challenger trained
up to the evidence, its lineage naming it."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.parse
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from tests.conftest import _free_port, shift_features
from tests.e2e import servers

DRIFT_URI = "retrainer://drift/fraud-xgb"


@pytest.fixture
def receiver():
    """An HTTP server on 127.0.0.1 that keeps the JSON bodies posted to it; stopped after the test."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", _free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _db(airflow, query: str) -> list[tuple]:
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        return db.execute(query).fetchall()


def _drift_events(airflow) -> list[dict]:
    rows = _db(
        airflow,
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        f"WHERE a.uri = '{DRIFT_URI}' ORDER BY e.id",
    )
    return [json.loads(extra) for (extra,) in rows]


def test_confirmed_drift_alerts_and_queues_one_retraining(airflow, receiver):
    url, alerts = receiver
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "70")
    first = airflow.dags_test("retrain_fraud-xgb", "2026-11-16", {"extract_window_days": 56})
    assert first.state == "success", first.log[-3000:]
    airflow.retrainer("generate", "--start", "2026-11-16", "--end", "2026-11-26")
    shift_features(open_storage(airflow.var / "source"), date(2026, 11, 23), date(2026, 11, 26))
    airflow.airflow("dags", "reserialize")
    airflow.airflow("dags", "unpause", "retrain_fraud-xgb")  # a paused DAG would not be queued by the event
    env = {"AIRFLOW_CONN_RETRAINER_ALERTS": url}

    for day in ("2026-11-24", "2026-11-25"):  # drift, not yet persistent: no alert, no event
        run = airflow.dags_test("monitor_fraud-xgb", day, extra_env=env)
        assert run.state == "success", run.log[-3000:]
    assert alerts == [] and _drift_events(airflow) == []

    confirmed = airflow.dags_test("monitor_fraud-xgb", "2026-11-26", extra_env=env)
    assert confirmed.state == "success", confirmed.log[-3000:]
    assert len(alerts) == 1, confirmed.log[-3000:]
    assert "drift confirmed" in alerts[0]["text"] and "ip_risk_score (PSI" in alerts[0]["text"]
    assert alerts[0]["evidence"]["trigger"] is True  # the whole check, as data
    (event,) = _drift_events(airflow)
    assert {f["feature"] for f in event["features"][:2]} == {"ip_risk_score", "minutes_since_last_tx"}
    assert event["report_uri"].endswith("monitoring/fraud-xgb/2026-11-26T000000Z/drift.json")
    assert _db(airflow, "SELECT target_dag_id FROM asset_dag_run_queue") == [("retrain_fraud-xgb",)]

    again = airflow.dags_test("monitor_fraud-xgb", "2026-11-27", extra_env=env)  # inside the cool-down
    assert again.state == "success", again.log[-3000:]
    assert len(_drift_events(airflow)) == 1, "a drift inside the cool-down emitted another event"
    assert "no retraining" in again.log
    # the same episode, suppressed by the cool-down of the retraining just signalled: not posted again
    print(f"\nalerts received after a second confirmed day in the episode: {len(alerts)}")
    assert len(alerts) == 1, again.log[-3000:]

    # Under a real scheduler the queued event starts retrain_fraud-xgb: a run of the week up to the evidence
    # (2026-11-19 .. 2026-11-26), which registers a challenger whose lineage names that evidence. The DAG
    # being unpaused, the scheduler also starts the latest weekly run; its approval form times out at once.
    quick_forms = {"RETRAINER_APPROVAL_TIMEOUT_SECONDS": "5"}
    with servers.standalone(airflow, env | quick_forms) as (base, token):
        runs_url = f"{base}/api/v2/dags/retrain_fraud-xgb/dagRuns"

        def drift_run():
            runs = servers.request("GET", runs_url, token)["dag_runs"]
            return next((r for r in runs if r["run_type"] == "asset_triggered"), None)

        run = servers.wait(drift_run, 300, "the asset-triggered retrain_fraud-xgb run")
        register_url = f"{runs_url}/{urllib.parse.quote(run['dag_run_id'])}/taskInstances/register"
        finished = ("success", "failed", "upstream_failed", "skipped")
        state = servers.wait(
            lambda: (s := servers.request("GET", register_url, token)["state"]) in finished and s,
            1200,
            "the drift run's register task",
        )
        assert state == "success", (airflow.home / "standalone.log").read_text()[-3000:]
    registry = Registry(open_storage(airflow.var / "storage"), "fraud-xgb")
    (drifted,) = [v for v in registry.versions() if v["trigger"]["kind"] == "drift"]
    assert drifted["run_key"] == "2026-11-26T000000Z" and drifted["airflow_run_id"] == run["dag_run_id"]
    (cause,) = drifted["trigger"]["asset_events"]
    assert cause["asset"] == DRIFT_URI and cause["source_dag_id"] == "monitor_fraud-xgb"
    assert cause["extra"]["as_of"].startswith("2026-11-26") and cause["extra"]["features"][0]["psi"] > 0.2
    assert drifted["training_window"]["end"].startswith("2026-11-26")  # it trained on the drifted days
