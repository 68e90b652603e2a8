"""Every move reaches a person, once (issue 25, item 4): an automatic rollback (with its breaches), a canary
step, a promotion and an approved canary start each return the move they made and post it to the model's
alert connection; a run that moves nothing posts nothing."""

from __future__ import annotations

from types import SimpleNamespace

from retrainer.core import alerts
from retrainer.deployment import actions
from retrainer.deployment.approval import CANARY, decide
from retrainer.deployment.moves import move_of
from retrainer.deployment.state import read
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry
from retrainer.tasks import deploy, retrain, score
from tests.deploy_helpers import champion_and_challenger, register, write_days
from tests.test_alerts import receiving

MODEL = "fraud-xgb"
URL = "http://airflow.example/dags/score_fraud-xgb/runs/scheduled__2026-11-02/tasks/act?try_number=1"


def _context(result: dict, dag_id: str = f"score_{MODEL}", task_id: str = "act") -> dict:
    """A success callback's context as Airflow gives it: the task's own return value is in XCom."""
    ti = SimpleNamespace(
        dag_id=dag_id,
        task_id=task_id,
        run_id="scheduled__2026-11-02",
        log_url=URL,
        xcom_pull=lambda task_ids=None: result if task_ids == task_id else None,
    )
    return {"ti": ti}


def test_a_bad_canarys_automatic_rollback_returns_the_move_with_its_breaches(storage, source, params):
    registry = Registry(storage, MODEL)
    champion, challenger = champion_and_challenger(registry, params, bad=True)
    write_days(source, 3, fraud_rate=0.02)
    actions.start_canary(registry, challenger, "alice", "try it", params)
    as_of = "2026-11-02T00:00:00+00:00"
    acted = score.act(score.report_day(score.score(as_of, model=MODEL), as_of, model=MODEL), model=MODEL)
    move = acted["move"]
    assert acted["action"] == "rollback" and move["what"] == "rollback" and move["actor"] == "monitor"
    assert move["version"] == challenger
    assert move["from"] == {"mode": "canary", "share": 5, "champion": champion, "challenger": challenger}
    assert move["to"] == {"mode": "champion", "share": 0, "champion": champion, "challenger": None}
    assert move["breaches"] and all("alert rate" in b or "PSI" in b for b in move["breaches"])

    body = alerts.moved_from_context(MODEL, _context(acted))
    print(f"\nrollback alert: {body['text']}")
    assert body["event"] == "deployment_moved" and body["url"] == URL and body["model"] == MODEL
    text = body["text"]
    assert f"[{MODEL}] automatic rollback of v{challenger} by monitor" in text
    assert f"canary v{challenger} at 5 % (champion v{champion}) -> champion v{champion} only" in text
    assert move["breaches"][0] in text and URL in text

    # the next day nothing runs beside the champion: the act task moves nothing, and posts nothing
    as_of = "2026-11-03T00:00:00+00:00"
    quiet = score.act(score.report_day(score.score(as_of, model=MODEL), as_of, model=MODEL), model=MODEL)
    assert quiet["move"] is None and alerts.moved_from_context(MODEL, _context(quiet)) is None


def test_each_canary_step_and_the_promotion_are_moves_and_a_held_day_is_not(storage, source, params):
    registry = Registry(storage, MODEL)
    champion, challenger = champion_and_challenger(registry, params)
    write_days(source, 6, fraud_rate=0.02)
    actions.start_canary(registry, challenger, "alice", "try it", params)
    seen = []
    for day in range(2, 6):
        as_of = f"2026-11-{day:02d}T00:00:00+00:00"
        knobs = {"min_days_per_step": 2 if day == 2 else 1}  # the first day holds
        report = score.report_day(score.score(as_of, knobs, MODEL), as_of, knobs, MODEL)
        move = score.act(report, knobs, MODEL)["move"]
        seen.append(move and (move["what"], move["from"]["share"], move["to"]["mode"], move["to"]["share"]))
    assert seen == [
        None,  # held: within bounds for 1 of 2 days, nothing moved, nothing posted
        ("canary step", 5, "canary", 25),
        ("canary step", 25, "canary", 50),
        ("promotion (canary past its last step)", 50, "champion", 0),
    ]
    assert read(registry)[0]["champion"] == challenger
    by_hand = deploy.deploy({"action": "rollback", "reason": "by hand"}, "carol", MODEL)["move"]
    assert by_hand["actor"] == "carol" and by_hand["reason"] == "by hand" and by_hand["what"] == "rollback"
    assert by_hand["to"]["champion"] == champion


def test_an_approved_canary_start_is_a_move_and_a_rejection_is_not(storage, params):
    registry = Registry(storage, MODEL)
    register(registry, params, b"champion", alias=CHAMPION)
    version = register(registry, params, b"challenger", alias=CHALLENGER)
    registered = {"version": version, "aliases": [CHALLENGER], "created": True}
    answer = {
        "chosen_options": [CANARY],
        "responded_by_user": {"id": "alice", "name": "alice"},
        "responded_at": "2026-11-23T10:00:00+00:00",
    }
    decided = retrain.decide(registered, answer, None, MODEL)
    move = decided["move"]
    assert move["what"] == "canary start" and move["actor"] == "alice" and move["to"]["share"] == 5
    body = alerts.moved_from_context(MODEL, _context(decided, f"retrain_{MODEL}", "decide"))
    assert "canary start of v2 by alice: champion v1 only -> canary v2 at 5 % (champion v1)" in body["text"]
    # the same answer again (decide retried): no new move, nothing posted twice
    assert retrain.decide(registered, answer, None, MODEL)["move"] is None

    third = register(registry, params, b"third")
    registry.set_alias(CHALLENGER, third, "test", "a newer challenger", expected=version)
    rejected = {**answer, "chosen_options": ["Reject"]}
    registered = {"version": third, "aliases": [CHALLENGER], "created": True}
    assert retrain.decide(registered, rejected, None, MODEL)["move"] is None
    assert decide(registry, registered, rejected, "required", params)["decision"] == "rejected"


def test_no_move_between_two_reads_is_none():
    state = {"mode": "champion", "champion": 1, "revision": 4, "history": [{"event": "x"}]}
    assert move_of(state, state) is None
    assert move_of(None, None) is None


def test_the_notifier_posts_a_move_to_the_models_connection_and_nothing_without_one(params, monkeypatch):
    from retrainer_airflow.notifiers import DeploymentMoved

    before = {"mode": "canary", "share": 25, "champion": 1, "challenger": 2, "revision": 3}
    after = {
        "mode": "champion",
        "share": 0,
        "champion": 1,
        "challenger": None,
        "revision": 4,
        "history": [
            {"event": "deployment_rolled_back", "actor": "monitor", "reason": "automatic", "version": 2}
        ],
    }
    moved = {"action": "rollback", "move": move_of(before, after, ["error rate 3% above 1%"])}
    notifier = DeploymentMoved(MODEL, params)
    with receiving() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", receiver.connection())
        notifier.notify(_context(moved))
        notifier.notify(_context({"action": "hold", "move": None}))  # a held day: nothing
    [post] = receiver.posts
    assert post["event"] == "deployment_moved" and post["breaches"] == ["error rate 3% above 1%"]
    assert post["text"].endswith(f"Why: error rate 3% above 1% ({URL})")
    notifier.notify(_context(moved))  # nobody listening: logged, the move stands, nothing raised
