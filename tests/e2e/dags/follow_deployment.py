"""
### Follow a model's deployment (a downstream DAG of the tests, not shipped)

Scheduled on `retrainer://deployment/fraud-xgb`: every move of the model's deployment (a promotion, a canary
start or step, a shadow start, a rollback) starts a run, whose `react` task returns the moves it was given
(the events' `extra`: version, mode, share, reason, actor, the audit event's id). A system following the
moves does its work there: refresh a cache, tell a dashboard, start a comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Asset, dag, task


@dag(
    dag_id="follow_deployment_fraud-xgb",
    schedule=[Asset("retrainer://deployment/fraud-xgb")],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["fraud-xgb", "deployment", "test"],
    default_args={"owner": "tests", "retries": 0},
    doc_md=__doc__,
)
def follow_deployment():
    @task
    def react(triggering_asset_events=None) -> list[dict]:
        return [dict(event.extra) for events in triggering_asset_events.values() for event in events]

    react()


follow_deployment()
