"""Every move of a deployment is an event other systems can follow (issue 22, item 4): what a task that
moved the deployment returns becomes the `extra` of one Asset event on `retrainer://deployment/<model>`,
naming the version, mode, share, reason, who moved it and the move's audit event; no move, no event."""

from __future__ import annotations

import json

import pytest

from retrainer.deployment import actions
from retrainer.deployment.events import asset_uri, event_extra
from retrainer.registry import chain
from retrainer.tasks import deploy
from tests.deploy_helpers import three_versions

MODEL = "fraud-xgb"


def _move_events(storage) -> dict[str, dict]:
    """The audit chain's move events by the move id they carry."""
    return {e["move_id"]: e for e in chain.load(storage, MODEL).events.values() if e.get("move_id")}


def test_a_promotion_and_its_rollback_by_hand_each_make_one_event_naming_the_audit_event(storage, params):
    three_versions(storage, params)  # v1 champion
    promoted = deploy.deploy({"action": "promote", "version": 3, "reason": "v3 wins"}, "alice", MODEL)
    rolled = deploy.deploy({"action": "rollback", "reason": "alerts doubled"}, "bob", MODEL)

    first, second = event_extra(MODEL, promoted["move"]), event_extra(MODEL, rolled["move"])
    print(f"\npromotion event: {first}\nrollback event: {second}")
    assert first["model"] == MODEL and first["event"] == "deployment_promoted"
    assert (first["version"], first["mode"], first["share"], first["champion"]) == (3, "champion", 0, 3)
    assert (first["reason"], first["actor"]) == ("v3 wins", "alice")
    assert first["from"]["champion"] == 1
    assert second["event"] == "deployment_rolled_back" and second["champion"] == 1
    assert (second["version"], second["reason"], second["actor"]) == (3, "alerts doubled", "bob")
    assert second["revision"] == first["revision"] + 1

    # each names its own audit event, which the registry's chain holds with the same who and why
    audited = _move_events(storage)
    for extra in (first, second):
        event = audited[extra["audit_event_id"]]
        assert (event["event"], event["actor"], event["reason"]) == (
            extra["event"],
            extra["actor"],
            extra["reason"],
        )
    assert json.loads(json.dumps(first)) == first  # an Asset event's extra must be JSON


def test_a_canary_start_its_steps_and_a_shadow_stop_are_events_with_their_share(storage, params):
    registry = three_versions(storage, params)
    started = deploy.deploy({"action": "canary", "version": 2, "reason": "try v2"}, "alice", MODEL)
    ramped = deploy.deploy({"action": "ramp", "reason": "looks fine"}, "alice", MODEL)
    steps = params["deployment"]["canary"]["steps"]
    start, step = event_extra(MODEL, started["move"]), event_extra(MODEL, ramped["move"])
    assert (start["event"], start["mode"], start["share"], start["version"]) == (
        "canary_started",
        "canary",
        steps[0],
        2,
    )
    assert (step["event"], step["share"], step["from"]["share"]) == ("canary_ramped", steps[1], steps[0])
    assert step["challenger"] == 2 and step["champion"] == 1

    actions.start_shadow(registry, 3, "carol", "watch v3")  # ends the canary
    stopped = deploy.deploy({"action": "rollback", "reason": "enough"}, "carol", MODEL)
    stop = event_extra(MODEL, stopped["move"])
    assert (stop["event"], stop["version"], stop["mode"], stop["from"]["mode"]) == (
        "deployment_rolled_back",
        3,
        "champion",
        "shadow",
    )


def test_a_move_retried_after_it_landed_is_no_event(storage, params):
    three_versions(storage, params)
    asked = {"action": "promote", "version": 2, "reason": "v2 wins", "expected_revision": 0}
    assert event_extra(MODEL, deploy.deploy(asked, "alice", MODEL)["move"]) is not None
    again = deploy.deploy(asked, "alice", MODEL)  # Airflow retried the task after the move landed
    assert again["move"] is None and event_extra(MODEL, again["move"]) is None


@pytest.mark.parametrize("model", ["fraud-xgb", "churn_v2"])
def test_the_asset_uri_is_one_airflow_keeps_as_written(model):
    from airflow.sdk import Asset

    assert Asset(asset_uri(model)).uri == f"retrainer://deployment/{model}"
