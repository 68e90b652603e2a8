"""The follow-up retraining through real Airflow: a drift-triggered version is in the registry; the first
`monitor_fraud-xgb` run at its evidence's `as_of` + `data.label_maturity_days` emits the
`retrainer://labels-matured/fraud-xgb` Asset event (the version it follows up, the evidence run, the due
date), which queues a `retrain_fraud-xgb` run, as the metadata DB shows; rerunning that monitor day emits
nothing more."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from retrainer.core.clock import as_utc
from retrainer.core.models import load_model
from retrainer.registry.register import trigger_of
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.e2e

LABELS_MATURED = "retrainer://labels-matured/fraud-xgb"
EVIDENCE_AS_OF = "2026-11-26T00:00:00+00:00"


class _Asset(str):
    @property
    def uri(self) -> str:
        return str(self)


class _Event:
    """One of Airflow's triggering asset events, as `trigger_of` reads it (what retrain's register gets)."""

    def __init__(self, extra: dict):
        self.extra, self.source_dag_id, self.source_run_id, self.timestamp = (
            extra,
            "monitor_fraud-xgb",
            "r",
            "",
        )


def _db(airflow, query: str) -> list[tuple]:
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        return db.execute(query).fetchall()


def _follow_up_events(airflow) -> list[dict]:
    rows = _db(
        airflow,
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        f"WHERE a.uri = '{LABELS_MATURED}' ORDER BY e.id",
    )
    return [json.loads(extra) for (extra,) in rows]


def test_the_follow_up_is_asked_once_at_label_maturity_and_queues_a_retraining(airflow):
    registry = Registry(open_storage(airflow.var / "storage"), "fraud-xgb")
    evidence = {"as_of": EVIDENCE_AS_OF, "run": "2026-11-26T000000Z", "verdict": "drift confirmed"}
    trigger = trigger_of("asset_triggered", {_Asset("retrainer://drift/fraud-xgb"): [_Event(evidence)]})
    record, _ = registry.register(
        {"model.ubj": b"drifted"}, {"as_of": EVIDENCE_AS_OF, "trigger": trigger}, "k"
    )
    days = load_model(PROJECT_DIR, "fraud-xgb")["data"]["label_maturity_days"]
    due = (as_utc(EVIDENCE_AS_OF) + timedelta(days=days)).date().isoformat()
    airflow.airflow("dags", "reserialize")
    airflow.airflow("dags", "unpause", "retrain_fraud-xgb")  # a paused DAG would not be queued by the event

    run = airflow.dags_test("monitor_fraud-xgb", due)
    assert run.state == "success", run.log[-3000:]
    assert run.tasks.get("signal_follow_up") == "success", run.tasks
    (event,) = _follow_up_events(airflow)
    print(f"\n[follow-up] monitor run {due}: labels-matured event {event}")
    assert event["follows_up"] == record["version"] and event["evidence_run"] == "2026-11-26T000000Z"
    assert event["due"].startswith(due)
    queued = _db(airflow, "SELECT target_dag_id FROM asset_dag_run_queue")
    print(f"[follow-up] queued in asset_dag_run_queue: {queued}")
    assert queued == [("retrain_fraud-xgb",)]

    again = airflow.dags_test("monitor_fraud-xgb", due)  # the same day rerun: asked already
    assert again.state == "success", again.log[-3000:]
    assert len(_follow_up_events(airflow)) == 1, "a rerun of the monitor day asked for the follow-up again"
