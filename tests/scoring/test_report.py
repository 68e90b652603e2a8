import json
from datetime import timedelta

import numpy as np
import pytest

from retrainer.core import layout
from retrainer.deployment import actions
from retrainer.deployment.state import read
from retrainer.deployment.verdicts import HOLD, RAMP, ROLLBACK, breaches, verdict
from retrainer.registry.store import Registry
from retrainer.scoring.batch import score_day
from retrainer.scoring.report import day_report, psi, summarise
from tests.deploy_helpers import champion_and_challenger, write_days

LATER = "2026-12-31T00:00:00+00:00"  # every label of the test days has arrived by then


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference = summarise(rng.beta(1, 20, 20_000))
    assert psi(reference, rng.beta(1, 20, 5_000)) < 0.02
    assert psi(reference, rng.beta(3, 10, 5_000)) > 0.5


def _run_days(registry, storage, source, params, days):
    reports = []
    for day in days:
        state, _ = read(registry)
        scores, summary = score_day(source, storage, registry, state, day, params)
        reports.append(day_report(source, storage, registry, scores, summary, LATER, params))
    return reports


@pytest.mark.parametrize("bad", [False, True], ids=["good", "bad"])
def test_a_canary_is_judged_on_alert_rate_drift_errors_and_matured_labels(storage, source, params, bad):
    params["deployment"]["rollback"]["min_positives"] = (
        10  # a few small days hold fewer frauds than production
    )
    registry = Registry(storage, "fraud-xgb")
    _, challenger = champion_and_challenger(registry, params, bad=bad)
    days = write_days(source, 4, fraud_rate=0.02)
    actions.start_canary(registry, challenger, "alice", "try", params)
    # its own holdout scores, as the reference of drift: here a day of its live scores
    state, _ = read(registry)
    scores, _ = score_day(source, storage, registry, state, days[0], params)
    storage.put_text(
        layout.reference_scores_key("fraud-xgb", challenger),
        json.dumps(summarise(scores["challenger_score"])),
    )
    reports = _run_days(registry, storage, source, params, days)
    last = reports[-1]
    assert 0 <= last["agreement"] <= 1 and last["challenger_error_rate"] == 0
    assert last["performance"]["judged"] and last["performance"]["positives"] >= 10
    assert json.loads(storage.get_text(layout.scores_file_key("fraud-xgb", last["day"], "report.json")))
    found = breaches(last, params["deployment"]["rollback"])
    if bad:
        assert any("alert rate" in b for b in found) and any("PR-AUC" in b for b in found)
        assert verdict(read(registry)[0], reports, params).action == ROLLBACK
    else:
        assert found == [], found
        assert last["challenger_psi"] < params["deployment"]["rollback"]["max_psi"]
        assert verdict(read(registry)[0], reports, params).action == RAMP


def test_a_canary_holds_until_it_has_enough_days_at_its_step(params):
    state = {"mode": "canary", "revision": 3, "share": 5, "challenger": 2}
    clean = {"day": "2026-11-02", "deployment_revision": 3, "challenger": 2}
    assert verdict(state, [clean], params).action == HOLD
    older = {**clean, "deployment_revision": 2}  # scored under the previous step: does not count
    assert verdict(state, [older, clean], params).action == HOLD
    assert verdict(state, [clean, clean], params).action == RAMP
    errors = {**clean, "challenger_error_rate": 0.5, "challenger_problem": "XGBoostError: boom"}
    found = verdict(state, [clean, errors], params)
    assert found.action == ROLLBACK and "error rate 50.00%" in found.reason and "boom" in found.reason
    shifted = {**clean, "challenger_psi": 0.9}
    assert "PSI 0.900" in verdict(state, [shifted], params).reason


def test_a_shadow_report_compares_both_models_and_shadow_never_ramps(storage, source, params):
    registry = Registry(storage, "fraud-xgb")
    champion, challenger = champion_and_challenger(registry, params)
    days = write_days(source, 2, fraud_rate=0.02)
    actions.start_shadow(registry, challenger, "alice", "watch it first")
    reports = _run_days(registry, storage, source, params, days)
    for report in reports:
        assert report["mode"] == "shadow" and report["decided_by_challenger"] == 0.0
        assert report["decided_by"] == {str(champion): report["rows"]}
        assert 0 < report["agreement"] <= 1
        assert report["champion_alert_rate"] > 0 and report["challenger_alert_rate"] > 0
        assert report["challenger_scores"]["rows"] == report["rows"] and "p99" in report["champion_scores"]
    found = verdict(read(registry)[0], reports, params)
    assert found.action == HOLD and "shadow" in found.reason


def _canary_reports(registry, storage, source, params, days, as_of):
    _, challenger = champion_and_challenger(registry, params)
    actions.start_canary(registry, challenger, "alice", "try", params)
    reports = []
    for day in days:
        state, _ = read(registry)
        scores, summary = score_day(source, storage, registry, state, day, params)
        reports.append(day_report(source, storage, registry, scores, summary, as_of, params))
    return reports


def test_the_canary_guard_judges_only_matured_labels_never_the_frauds_that_arrived_first(
    storage, source, params
):
    """10 days after the last scored day, the labels that arrived are nearly all frauds (legitimate rows are
    confirmed at 20 days): the old rule judged that set (PR-AUC ~1.0 for any model); none is matured."""
    params["deployment"]["rollback"]["min_positives"] = 10
    days = write_days(source, 4, fraud_rate=0.02)
    as_of = f"{days[-1] + timedelta(days=10)}T00:00:00+00:00"
    last = _canary_reports(Registry(storage, "fraud-xgb"), storage, source, params, days, as_of)[-1]
    print(f"\n[canary guard at {as_of}] {last['performance']}")
    assert not last["performance"]["judged"] and "challenger_pr_auc" not in last["performance"]
    assert last["performance"]["rows"] == 0  # no scored day is older than the label maturity horizon


def test_the_canary_guard_never_gives_a_figure_on_one_class(storage, source, params):
    """Matured rows that all hold the same label (a source reporting only its frauds): enough positives,
    but no PR-AUC worth the name: not judged."""
    from retrainer.sources.partitions import partition_key, read_partition

    params["deployment"]["rollback"]["min_positives"] = 10
    days = write_days(source, 3, fraud_rate=0.02)
    for day in days:
        frame = read_partition(source.get_bytes(partition_key(day)))
        source.put_bytes(partition_key(day), frame.assign(is_fraud=1).to_parquet(index=False))
    last = _canary_reports(Registry(storage, "fraud-xgb"), storage, source, params, days, LATER)[-1]
    assert (
        last["performance"]["positives"] >= 10
        and last["performance"]["rows"] == last["performance"]["positives"]
    )
    assert not last["performance"]["judged"] and "champion_pr_auc" not in last["performance"]
