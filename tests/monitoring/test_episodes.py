"""A confirmed drift reaches a person once per episode (issue 25, item 4): posted when the episode starts
and when a retraining is signalled in it, then only as a reminder every `monitoring.reminder_days`; a drift
suppressed by the cool-down says so and until when; a drift-triggered retraining that failed leaves the
cool-down free, one still running holds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from retrainer.core import layout
from retrainer.core.models import load_model
from retrainer.drift import CONFIRMED, PENDING
from retrainer.monitoring import episodes
from retrainer.tasks import retrain
from tests.conftest import PROJECT_DIR

MODEL = "fraud-xgb"
START = datetime(2026, 11, 1, 6, tzinfo=UTC)
NO_DRIFT = "no drift"


def _simulate(
    verdicts: list[str], cooldown_days=7, reminder_days=7, champions=None, failed=(), version_age=30
):
    """The monitor's decisions over daily runs with these verdicts, as `monitor.check_drift` takes them
    (`episodes.judge`): the cool-down from the last retraining (one version registered `version_age` days
    before START, or a signal since), then whether to post. `failed`: the days whose signalled retraining
    failed. Returns the reports, as the monitor stores them."""
    versions = [{"as_of": (START - timedelta(days=version_age)).isoformat()}]
    reports: list[dict] = []
    for day, verdict in enumerate(verdicts):
        as_of = START + timedelta(days=day)
        champion = (champions or {}).get(day, 1)
        failed_runs = {r["run"] for r in reports if r["day"] in failed}
        trigger, alert = episodes.judge(
            reports, versions, failed_runs, verdict, champion, as_of, cooldown_days, reminder_days
        )
        reports.append(
            {
                "run": f"run-{day}",
                "day": day,
                "as_of": as_of.isoformat(),
                "verdict": verdict,
                "champion_version": champion,
                "trigger": trigger,
                "alert": alert,
                "note": episodes.alert_note(alert, trigger),
            }
        )
    return reports


def _posted(reports: list[dict]) -> list[tuple[int, str]]:
    return [(r["day"], r["alert"]["why"]) for r in reports if r["alert"]["posted"]]


def test_a_drift_confirmed_for_three_weeks_is_posted_once_then_weekly_not_daily():
    verdicts = [PENDING, PENDING] + [CONFIRMED] * 19 + [NO_DRIFT]
    reports = _simulate(verdicts, cooldown_days=10, reminder_days=7)
    posted = _posted(reports)
    confirmed = sum(v == CONFIRMED for v in verdicts)
    print(
        f"\none episode, {confirmed} confirmed runs: {len(posted)} posts {posted} (before: {confirmed} posts)"
    )
    # its start (a retraining is signalled: the cool-down was free), a reminder 7 days later, the day the
    # 10-day cool-down ends (a retraining signalled again), a reminder 7 days after that; never between
    assert posted == [
        (2, episodes.NEW),
        (9, episodes.REMINDER),
        (12, episodes.RETRAINING),
        (19, episodes.REMINDER),
    ]
    assert "Reminder: drift confirmed since" in reports[9]["note"] and "(8 runs)" in reports[9]["note"]
    episode = {r["alert"]["episode_started"] for r in reports if r["verdict"] == CONFIRMED}
    assert episode == {reports[2]["as_of"]}


def test_a_suppressed_drift_says_it_is_suppressed_and_until_when():
    # a version registered 2 days before the drift is confirmed: the 30-day cool-down suppresses the drift
    reports = _simulate([CONFIRMED] * 3, cooldown_days=30, version_age=2)
    first = reports[0]
    assert first["trigger"]["suppressed"] and first["alert"]["posted"]  # the episode's start is posted
    until = first["trigger"]["suppressed_until"]
    assert until == (START + timedelta(days=28)).isoformat()
    print(f"\nsuppressed drift: ...{first['note']}")
    last = first["trigger"]["last_retraining"]
    assert f"Suppressed: inside the 30-day cool-down after the retraining of {last}" in first["note"]
    assert f"until {until}; no retraining starts" in first["note"]
    assert [r["alert"]["posted"] for r in reports] == [True, False, False]  # not re-posted daily


def test_a_drift_that_ends_and_comes_back_is_a_new_episode():
    reports = _simulate([CONFIRMED, CONFIRMED, NO_DRIFT, PENDING, CONFIRMED], cooldown_days=30, version_age=2)
    assert _posted(reports) == [(0, episodes.NEW), (4, episodes.NEW)]


def test_a_new_champion_starts_a_new_episode():
    reports = _simulate([CONFIRMED] * 4, cooldown_days=30, champions={0: 1, 1: 1, 2: 2, 3: 2}, version_age=2)
    assert _posted(reports) == [(0, episodes.NEW), (2, episodes.NEW)]


def test_reports_from_before_episodes_count_as_posted():
    earlier = [{"run": "r", "as_of": START.isoformat(), "verdict": CONFIRMED, "champion_version": 1}]
    alert = episodes.drift_alert(earlier, CONFIRMED, 1, START + timedelta(days=1), False, 7)
    assert alert["posted"] is False and alert["runs"] == 2


def test_a_failed_drift_retraining_leaves_the_cool_down_free_and_a_running_one_holds_it():
    running = _simulate([CONFIRMED] * 3)
    assert [r["trigger"]["retrain"] for r in running] == [True, False, False]  # one retraining per burst
    failed = _simulate([CONFIRMED] * 3, failed={0})
    print(
        "\nretraining signalled on day 0: "
        f"still running -> day 1 {running[1]['trigger']}, failed -> day 1 {failed[1]['trigger']}"
    )
    assert [r["trigger"]["retrain"] for r in failed] == [True, True, False]  # free again the next day
    assert failed[1]["alert"]["why"] == episodes.RETRAINING  # and the new retraining is posted


def test_the_retraining_dags_failure_records_the_failed_signal_where_the_monitor_reads_it(storage):
    params = load_model(PROJECT_DIR, MODEL)
    evidence = SimpleNamespace(extra={"run": "2026-11-26T000000Z", "as_of": "2026-11-26T00:00:00+00:00"})
    other = SimpleNamespace(extra={"run": "2026-11-27T000000Z"})
    run = SimpleNamespace(run_id="asset_triggered__x", consumed_asset_events=[evidence, other])
    keys = retrain.retraining_failed(run, None, MODEL, "train: StageTimeout")
    assert keys == [
        layout.monitoring_file_key(MODEL, "2026-11-26T000000Z", layout.RETRAINING_FAILED),
        layout.monitoring_file_key(MODEL, "2026-11-27T000000Z", layout.RETRAINING_FAILED),
    ]
    earlier = [
        {"run": "2026-11-26T000000Z", "trigger": {"retrain": True}},
        {"run": "2026-11-25T000000Z", "trigger": {"retrain": True}},  # its retraining did not fail
    ]
    assert episodes.failed_runs(storage, MODEL, earlier) == {"2026-11-26T000000Z"}
    # a failed gate is a verdict of a retraining that trained and judged: the cool-down holds
    from retrainer.evaluation.gates import GateFailed

    refused = SimpleNamespace(run_id="asset_triggered__y", consumed_asset_events=[other])
    assert retrain.retraining_failed(refused, None, MODEL, "evaluate: GateFailed", GateFailed([])) == []
    # a scheduled or manual run was not started by drift: it frees no cool-down
    assert retrain.retraining_failed(SimpleNamespace(run_id="scheduled__x"), None, MODEL, "x") == []
    assert params["monitoring"]["reminder_days"] == 7  # the shipped interval, models/defaults.yaml
