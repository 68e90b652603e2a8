"""The drift monitor on the generator's data against a champion really trained through DVC: no drift stays
quiet, a shift in chosen features is confirmed after it persists and names those features first, a
confirmed drift inside the cool-down starts nothing and is posted once per episode, a failed retraining
frees the cool-down, and concept drift is caught only once labels arrive."""

from __future__ import annotations

import copy
import json
from datetime import date
from types import SimpleNamespace

import pytest

from retrainer.monitoring.monitor import check_drift
from retrainer.synthetic import GeneratorConfig, generate
from retrainer.tasks import retrain
from tests.conftest import SHIFTED_FEATURES as SHIFTED
from tests.conftest import generate_source, shift_features, week

pytestmark = pytest.mark.e2e  # a champion trained through the whole path (DVC) first


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A champion registered on 2026-11-16, and the storage and source it lives in."""
    from retrainer.core.models import load_model
    from retrainer.core.settings import Settings
    from retrainer.storage import open_storage

    mp = pytest.MonkeyPatch()
    mp.setenv("RETRAINER_VAR_DIR", str(tmp_path_factory.mktemp("var")))
    mp.setenv("RETRAINER_MODEL", "fraud-xgb")  # two models are configured; these tests watch the fraud model
    settings = Settings.from_env()
    source, storage = open_storage(settings.source_root), open_storage(settings.storage_root)
    generate_source(source, days=70, last_day=date(2026, 11, 15))
    batch = retrain.extract(retrain.Run(*week("2026-11-16T00:00:00+00:00")), {"extract_window_days": 56})
    retrain.validate(batch["manifest_uri"])
    trained = retrain.train(retrain.Run(*week("2026-11-16T00:00:00+00:00")))
    retrain.register(trained["run_manifest_uri"], retrain.evaluate(trained["run_manifest_uri"])["gates_uri"])
    yield storage, source, load_model(settings.project_dir, "fraud-xgb")
    mp.undo()


def _monitor(storage, source, params, days: list[str], **settings) -> list[dict]:
    params = copy.deepcopy(params)
    params["monitoring"].update(settings)
    return [check_drift(storage, source, params, day) for day in days]


def test_no_drift_gives_no_trigger(champion):
    storage, source, params = champion
    generate(source, date(2026, 11, 16), date(2026, 11, 22), seed=7)
    results = _monitor(storage, source, params, ["2026-11-20", "2026-11-21", "2026-11-22"])
    assert [r["verdict"] for r in results] == ["no drift"] * 3
    assert not any(r["trigger"] for r in results)
    report = json.loads(storage.get_text(storage.key_of(results[-1]["report_uri"])))
    assert report["data"]["root_cause"] == [] and report["trigger"]["retrain"] is False


def test_a_persistent_shift_in_chosen_features_triggers_and_names_them_first(champion):
    storage, source, params = champion
    generate(source, date(2026, 11, 23), date(2026, 11, 26), seed=7)
    shift_features(source, date(2026, 11, 23), date(2026, 11, 26))
    first, second, third = _monitor(storage, source, params, ["2026-11-24", "2026-11-25", "2026-11-26"])
    assert first["verdict"] == second["verdict"] == "drift, not yet persistent"
    assert not first["trigger"] and not second["trigger"]
    assert third["verdict"] == "drift confirmed" and third["trigger"]  # 10 days after the last retraining
    named = [f["feature"] for f in third["evidence"]["features"]]
    assert set(named[: len(SHIFTED)]) == set(SHIFTED), named
    assert "ip_risk_score (PSI" in third["alert"] and third["page_url"] in third["alert"]
    # the alert's link opens in the Airflow UI (the registry plugin), not a file:// link it refuses
    assert "/registry/monitoring/fraud-xgb/" in third["page_url"] and "file://" not in third["alert"]
    page = storage.get_text(storage.key_of(third["page_uri"]))
    assert "ip_risk_score" in page and "https://" not in page.split("<body", 1)[0]


def test_a_confirmed_drift_inside_the_cool_down_starts_nothing(champion):
    storage, source, params = champion
    generate(source, date(2026, 11, 23), date(2026, 11, 26), seed=7)
    shift_features(source, date(2026, 11, 23), date(2026, 11, 26))
    *_, last = _monitor(storage, source, params, ["2026-11-24", "2026-11-25", "2026-11-26"], cooldown_days=30)
    assert last["confirmed"] and not last["trigger"]
    report = json.loads(storage.get_text(storage.key_of(last["report_uri"])))
    assert report["trigger"]["suppressed"] and report["trigger"]["last_retraining"].startswith("2026-11-16")


def test_a_drift_episode_posts_once_and_a_failed_retraining_frees_the_cool_down(champion):
    storage, source, params = champion
    generate(source, date(2026, 11, 23), date(2026, 11, 28), seed=7)
    shift_features(source, date(2026, 11, 23), date(2026, 11, 28))
    days = ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28"]
    results = _monitor(storage, source, params, days)
    print("\nmonitor runs:", [(r["run"][:10], r["verdict"], r["trigger"], r["post_alert"]) for r in results])
    assert [r["confirmed"] for r in results] == [False, False, True, True, True]
    # one post for the episode (its start, which signals the retraining); the confirmed days after it are
    # inside the cool-down of that signal: not posted, each report saying until when it is suppressed
    assert [r["post_alert"] for r in results] == [False, False, True, False, False]
    assert [r["trigger"] for r in results] == [False, False, True, False, False]
    suppressed = json.loads(storage.get_text(storage.key_of(results[3]["report_uri"])))
    assert suppressed["trigger"]["suppressed_until"].startswith("2026-12-03")  # 7 days after the signal
    assert suppressed["alert"]["episode_started"].startswith("2026-11-26")
    assert "Suppressed" in results[3]["alert"] and "until 2026-12-03" in results[3]["alert"]
    page = storage.get_text(storage.key_of(results[3]["page_uri"]))
    assert "suppressed by the cool-down until 2026-12-03" in page

    # the retraining signalled on the 26th failed (the retraining DAG's failure callback records it): the
    # next confirmed drift is free to signal again, and that new retraining is posted
    evidence = SimpleNamespace(extra=results[2]["evidence"])
    failed_run = SimpleNamespace(run_id="asset_triggered__2026-11-26", consumed_asset_events=[evidence])
    assert retrain.retraining_failed(failed_run, None, "fraud-xgb", "train: StageTimeout")
    (again,) = _monitor(storage, source, params, ["2026-11-27"])
    assert again["trigger"] and again["post_alert"]


def test_concept_drift_is_caught_once_labels_mature_and_not_before(champion):
    storage, source, params = champion
    drifted = GeneratorConfig(concept_drift=1.0, drift_start=date(2026, 11, 16))
    generate(source, date(2026, 11, 16), date(2026, 12, 13), seed=11, config=drifted)
    early, late = _monitor(storage, source, params, ["2026-11-19", "2026-12-14"], labels_lookback_days=35)
    early_report = json.loads(storage.get_text(storage.key_of(early["report_uri"])))
    late_report = json.loads(storage.get_text(storage.key_of(late["report_uri"])))
    assert early_report["performance"]["verdict"] == "insufficient data"  # the labels had not arrived
    assert late_report["performance"]["verdict"] == "drift", late_report["performance"]
    assert late_report["performance"]["pr_auc"] < late_report["performance"]["holdout_pr_auc"] - 0.1
