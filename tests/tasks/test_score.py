"""The scoring DAG's entry points, as Airflow calls them: a day scored, judged and acted on."""

from retrainer.deployment import actions
from retrainer.deployment.state import read
from retrainer.registry.store import Registry
from retrainer.tasks import deploy, score
from tests.deploy_helpers import champion_and_challenger, write_days


def test_a_bad_canary_is_rolled_back_after_its_first_day_and_the_champion_decides_again(
    storage, source, params
):
    registry = Registry(storage, "fraud-xgb")
    champion, challenger = champion_and_challenger(registry, params, bad=True)
    write_days(source, 3, fraud_rate=0.02)
    actions.start_canary(registry, challenger, "alice", "try it", params)

    scored = score.score("2026-11-02T00:00:00+00:00")
    assert scored["day"] == "2026-11-01" and set(scored["decided_by"]) == {str(champion), str(challenger)}
    report = score.report_day(scored, "2026-11-02T00:00:00+00:00")
    acted = score.act(report)
    assert acted["action"] == "rollback" and acted["mode"] == "champion"
    assert "alert rate" in acted["reason"]
    rollback = next(e for e in registry.audit_log() if e["event"] == "deployment_rolled_back")
    assert rollback["actor"] == "monitor" and rollback["reason"].startswith("automatic rollback: alert rate")

    next_day = score.score("2026-11-03T00:00:00+00:00")
    assert next_day["decided_by"] == {str(champion): next_day["rows"]} and next_day["challenger"] is None


def test_a_good_canary_ramps_to_champion_over_the_days(storage, source, params):
    registry = Registry(storage, "fraud-xgb")
    _, challenger = champion_and_challenger(registry, params)
    write_days(source, 6, fraud_rate=0.02)
    actions.start_canary(registry, challenger, "alice", "try it", params)
    shares = []
    for day in range(2, 7):
        as_of = f"2026-11-{day:02d}T00:00:00+00:00"
        acted = score.act(
            score.report_day(score.score(as_of, {"min_days_per_step": 1}), as_of), {"min_days_per_step": 1}
        )
        shares.append((acted["action"], acted["mode"], acted["share"]))
    assert shares[:3] == [("ramp", "canary", 25), ("ramp", "canary", 50), ("ramp", "champion", 0)]
    assert read(registry)[0]["champion"] == challenger
    assert deploy.deploy({"action": "rollback", "reason": "by hand"}, "carol")["champion"] != challenger
