"""The DAG side of issue 22, item 4: a move a task returned becomes the `extra` of the deployment Asset's
event and a task that moved nothing skips (Airflow emits an outlet's event whenever its task succeeds);
a `lineage_task`'s returned lineage is what Airflow's OpenLineage provider extracts for it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

MODEL = "fraud-xgb"
VERSION_KEY = "registry/fraud-xgb/versions/000007.json"
MOVE = {
    "event": "deployment_rolled_back",
    "what": "rollback",
    "revision": [4, 5],
    "version": 2,
    "from": {"mode": "canary", "share": 25, "champion": 1, "challenger": 2},
    "to": {"mode": "champion", "share": 0, "champion": 1, "challenger": None},
    "actor": "monitor",
    "reason": "automatic rollback: alert rate 3.1x the champion's",
    "breaches": ["alert rate 3.1x"],
    "event_id": "20261102T040000Z-0a1b2c3d",
    "at": "2026-11-02T04:10:00.000+00:00",
}


def test_a_move_sets_the_deployment_events_extra_and_no_move_skips():
    from airflow.sdk import Asset
    from airflow.sdk.exceptions import AirflowSkipException
    from airflow.sdk.execution_time.context import OutletEventAccessors

    from retrainer_airflow.events import announce_move

    outlet_events = OutletEventAccessors()  # what Airflow passes a task as `outlet_events`
    extra = announce_move(MODEL, {"action": "rollback", "move": MOVE}, outlet_events)
    emitted = outlet_events[Asset("retrainer://deployment/fraud-xgb")].extra
    assert emitted == extra
    assert (emitted["version"], emitted["mode"], emitted["share"], emitted["actor"]) == (
        2,
        "champion",
        0,
        "monitor",
    )
    assert emitted["audit_event_id"] == MOVE["event_id"] and emitted["reason"] == MOVE["reason"]
    with pytest.raises(AirflowSkipException, match="did not move"):
        announce_move(MODEL, {"action": "hold", "move": None}, OutletEventAccessors())


def test_the_openlineage_provider_extracts_what_a_lineage_task_returned():
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.sdk import dag
    from airflow.utils.state import TaskInstanceState

    from retrainer_airflow.lineage import lineage_task

    @dag(dag_id="lineage_probe", schedule=None)
    def probe():
        @lineage_task
        def register() -> dict:
            return {}

        register()

    task = probe().task_dict["register"]
    task.returned = {  # what execute keeps of the task's return value
        "version": 7,
        "lineage": {
            "inputs": [{"namespace": "file", "name": "/var/batches/b.parquet", "version": "a" * 64}],
            "outputs": [
                {"namespace": "s3://lake", "name": "registry/fraud-xgb/versions/000007.json", "version": "7"}
            ],
        },
    }
    found = ExtractorManager().extract_metadata(
        SimpleNamespace(run_id="manual__1"), task, TaskInstanceState.SUCCESS, SimpleNamespace()
    )
    assert [(d.namespace, d.name, d.facets["version"].datasetVersion) for d in found.inputs] == [
        ("file", "/var/batches/b.parquet", "a" * 64)
    ]
    assert [(d.namespace, d.name) for d in found.outputs] == [
        ("s3://lake", "registry/fraud-xgb/versions/000007.json")
    ]
