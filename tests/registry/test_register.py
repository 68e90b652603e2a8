"""Why a retraining ran goes into its lineage: the drift evidence of the asset events that started it."""

from dataclasses import dataclass, field

from retrainer.registry.register import trigger_of


@dataclass(frozen=True)
class _Asset:  # what Airflow's triggering_asset_events maps from (an Asset) and to (AssetEvents)
    uri: str


@dataclass
class _Event:
    extra: dict = field(default_factory=dict)
    source_dag_id: str | None = None
    source_run_id: str | None = None
    timestamp: str | None = None


def test_a_drift_triggered_run_records_the_evidence_of_each_event():
    events = {
        _Asset("retrainer://drift/fraud-xgb"): [
            _Event(
                {"verdict": "drift confirmed", "features": [{"feature": "ip_risk_score"}]},
                "monitor_fraud-xgb",
                "r1",
            ),
            _Event({"verdict": "drift confirmed"}, "monitor_fraud-xgb", "r2"),
        ]
    }
    trigger = trigger_of("asset_triggered", events)
    assert trigger["kind"] == "drift" and len(trigger["asset_events"]) == 2
    first = trigger["asset_events"][0]
    assert first["asset"] == "retrainer://drift/fraud-xgb" and first["source_run_id"] == "r1"
    assert first["extra"]["features"] == [{"feature": "ip_risk_score"}]


def test_scheduled_and_manual_runs_say_so():
    assert trigger_of("scheduled", {}) == {"kind": "schedule", "asset_events": []}
    assert trigger_of("manual", None)["kind"] == "manual"
    assert trigger_of()["kind"] == "manual"
