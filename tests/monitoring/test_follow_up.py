"""The follow-up retraining of a drift-triggered version: asked once the drifted days' labels have matured
(evidence `as_of` + `data.label_maturity_days`), exactly once, never for a version already followed up;
its lineage says "follow-up of vN" (registry.register.trigger_of)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from retrainer.core.clock import as_utc
from retrainer.monitoring.follow_up import follow_up_due, labels_matured_uri, record_request
from retrainer.registry.register import trigger_of
from retrainer.registry.store import Registry

EVIDENCE_AS_OF = "2026-11-26T00:00:00+00:00"


class _Asset(str):
    """An asset key of triggering_asset_events (hashable, with its `uri`)."""

    @property
    def uri(self) -> str:
        return str(self)


def _events(uri: str, extra: dict) -> dict:
    """Airflow's triggering_asset_events, as duck-typed by trigger_of: asset -> events."""
    event = SimpleNamespace(extra=extra, source_dag_id="monitor_fraud-xgb", source_run_id="r", timestamp="t")
    return {_Asset(uri): [event]}


def _register(registry: Registry, key: str, trigger: dict, as_of: str = EVIDENCE_AS_OF) -> int:
    record, _ = registry.register(
        {"model.ubj": key.encode()}, {"as_of": as_of, "trigger": trigger}, key, "test"
    )
    return record["version"]


def _drift_version(registry: Registry) -> int:
    _register(registry, "weekly", trigger_of("scheduled"), "2026-11-16T00:00:00+00:00")
    evidence = {"as_of": EVIDENCE_AS_OF, "run": "2026-11-26T000000Z", "verdict": "drift confirmed"}
    return _register(
        registry, "drift", trigger_of("asset_triggered", _events("retrainer://drift/fraud-xgb", evidence))
    )


def test_the_follow_up_is_due_at_label_maturity_and_asked_once(storage, params):
    registry = Registry(storage, "fraud-xgb")
    drifted = _drift_version(registry)
    days = params["data"]["label_maturity_days"]
    due = as_utc(EVIDENCE_AS_OF) + timedelta(days=days)
    assert follow_up_due(storage, params, due - timedelta(days=1)) is None  # the drifted labels are not in
    request = follow_up_due(storage, params, due)
    assert request["follows_up"] == drifted and request["evidence_run"] == "2026-11-26T000000Z"
    held = params | {"monitoring": params["monitoring"] | {"cooldown_days": 365}}
    assert follow_up_due(storage, held, due) == request  # not drift: the drift cool-down does not hold it
    assert request["due"] == due.isoformat() and request["as_of"] == due.isoformat()  # trains up to it
    assert follow_up_due(storage, params, due + timedelta(days=3)) == request | {
        "as_of": (due + timedelta(days=3)).isoformat(),
        "requested_by": "2026-12-20T000000Z",
    }  # not asked yet: a later run asks
    record_request(storage, request)
    assert follow_up_due(storage, params, due) is None  # the same day rerun: asked already
    assert follow_up_due(storage, params, due + timedelta(days=5)) is None  # nor any later day


def test_a_version_already_followed_up_is_not_asked_again_and_its_lineage_names_it(storage, params):
    registry = Registry(storage, "fraud-xgb")
    drifted = _drift_version(registry)
    due = as_utc(EVIDENCE_AS_OF) + timedelta(days=params["data"]["label_maturity_days"])
    request = follow_up_due(storage, params, due)
    trigger = trigger_of("asset_triggered", _events(labels_matured_uri("fraud-xgb"), request))
    assert trigger["kind"] == "follow-up" and trigger["follow_up_of"] == drifted
    assert trigger["reason"] == f"follow-up of v{drifted}"
    follow_up = _register(registry, "follow-up", trigger, request["as_of"])
    assert follow_up_due(storage, params, due) is None  # registered without the request recorded: not again
    assert follow_up_due(storage, params, due + timedelta(days=40)) is None  # a follow-up is not drift
    assert registry.get(follow_up)["trigger"]["asset_events"][0]["extra"]["follows_up"] == drifted


def test_scheduled_and_manual_versions_ask_for_nothing(storage, params):
    registry = Registry(storage, "fraud-xgb")
    _register(registry, "weekly", trigger_of("scheduled"))
    _register(registry, "manual", trigger_of("manual"))
    assert follow_up_due(storage, params, "2027-03-01T00:00:00+00:00") is None
    assert trigger_of("scheduled")["kind"] == "schedule" and "follow_up_of" not in trigger_of("scheduled")


def test_a_later_retraining_up_to_the_due_date_makes_the_follow_up_moot(storage, params):
    registry = Registry(storage, "fraud-xgb")
    _drift_version(registry)
    due = as_utc(EVIDENCE_AS_OF) + timedelta(days=params["data"]["label_maturity_days"])
    _register(registry, "weekly after", trigger_of("scheduled"), (due + timedelta(days=1)).isoformat())
    assert follow_up_due(storage, params, due + timedelta(days=2)) is None
