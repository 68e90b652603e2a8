"""The gate logic on synthetic score arrays: metrics, the paired bootstrap, slices, money, gates."""

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from retrainer.core.bootstrap import (
    Interval,
    _Ranked,
    _weighted_average_precision,
    _weighted_roc_auc,
    paired_bootstrap,
    percentile_interval,
)
from retrainer.core.errors import ConfigError
from retrainer.core.models import load_model
from retrainer.evaluation.costs import choose_threshold, cost_curve, expected_cost
from retrainer.evaluation.gates import INSUFFICIENT, GateFailed, assess, evaluate_gates
from retrainer.evaluation.metrics import classification_metrics, pr_auc, rule_scores
from retrainer.evaluation.slices import slice_masks
from tests.conftest import PROJECT_DIR

GATES = {
    "min_pr_auc": 0.3,
    "min_recall_at_fpr": 0.3,
    "min_margin_over_baseline": 0.0,
    "min_margin_over_rule": 0.0,
    "champion_tolerance": 0.01,
    "min_slice_roc_auc": 0.8,
    "slice_tolerance": 0.02,
}


def test_recall_at_fpr_reads_the_roc_curve():
    y = np.array([0] * 100 + [1] * 10)
    scores = np.concatenate([np.linspace(0, 0.5, 100), np.linspace(0.45, 1.0, 10)])
    metrics = classification_metrics(y, scores, fpr_target=0.0)
    assert metrics["positives"] == 10 and metrics["rows"] == 110
    assert metrics["recall_at_fpr"] == pytest.approx(0.9)  # 9 of 10 frauds score above every legitimate row
    assert 0.9 < metrics["pr_auc"] <= 1.0


def _m(pr_auc, recall=0.5):
    return {"pr_auc": pr_auc, "recall_at_fpr": recall}


def _interval(estimate, half_width=0.01):
    return Interval(estimate, estimate - half_width, estimate + half_width, 0.95)


def test_a_good_challenger_passes_every_gate():
    gates = evaluate_gates(_m(0.5), {"baseline": _m(0.3), "rule": _m(0.1)}, _interval(0.0), [], GATES)
    assert all(g.passed for g in gates)
    assert [g.name for g in gates] == [
        "min_pr_auc",
        "min_recall_at_fpr",
        "beats_baseline",
        "beats_rule",
        "no_regression_vs_champion",
    ]


def test_failed_gates_are_named_with_value_and_threshold():
    gates = evaluate_gates(_m(0.25, recall=0.6), {"baseline": _m(0.3)}, _interval(-0.15), [], GATES)
    error = GateFailed(gates, "file:///r/report.html")
    assert error.failed == ["min_pr_auc", "beats_baseline", "no_regression_vs_champion"]
    assert "min_pr_auc FAILED: 0.2500 (threshold >= 0.3000)" in str(error)
    assert "95.0% CI [-0.1600, -0.1400]: lower bound must be >= -0.0100" in str(error)
    assert "file:///r/report.html" in str(error)


def test_non_regression_judges_the_lower_bound_not_the_point_estimate():
    # the point estimate is within tolerance, but the interval does not rule out a larger drop
    gate = evaluate_gates(_m(0.5), {}, Interval(-0.005, -0.03, 0.02, 0.95), [], GATES)[-1]
    assert gate.name == "no_regression_vs_champion" and not gate.passed
    assert gate.value == -0.03 and gate.threshold == -0.01


def test_without_a_champion_the_regression_gate_passes_and_says_why():
    gate = evaluate_gates(_m(0.5), {"baseline": _m(0.3)}, None, [], GATES)[-1]
    assert gate.passed and "no champion yet" in gate.detail


# --- the fast metrics under resampling ------------------------------------------------------------------


def test_resampled_average_precision_and_roc_auc_match_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    n = 2000
    y = (rng.random(n) < 0.05).astype(int)
    scores = np.round(rng.normal(size=n) + 1.5 * y, 1)  # rounded: many tied scores
    in_slice = rng.random(n) < 0.4
    draws = rng.integers(0, n, size=(4, n))
    weights = np.stack([np.bincount(d, minlength=n) for d in draws]).astype(np.int32)
    for mask in (np.ones(n, dtype=bool), in_slice):
        ranked = _Ranked.of(y, scores, np.flatnonzero(mask))
        expected_ap = [average_precision_score(y[d][mask[d]], scores[d][mask[d]]) for d in draws]
        expected_roc = [roc_auc_score(y[d][mask[d]], scores[d][mask[d]]) for d in draws]
        np.testing.assert_allclose(_weighted_average_precision(weights, ranked), expected_ap, rtol=1e-12)
        np.testing.assert_allclose(_weighted_roc_auc(weights, ranked), expected_roc, rtol=1e-12)


def _two_models(rng, n):
    """Two correlated scorers of the same rows; the first separates frauds better."""
    y = (rng.random(n) < 0.05).astype(int)
    shared = rng.normal(size=n)
    better = 1.6 * y + 0.8 * shared + 0.6 * rng.normal(size=n)
    worse = 1.3 * y + 0.8 * shared + 0.6 * rng.normal(size=n)
    return y, better, worse


def test_bootstrap_interval_covers_the_true_difference_at_the_nominal_rate():
    # The true difference: the two scorers' PR-AUC on a population large enough to make it exact to ~1e-3.
    y, better, worse = _two_models(np.random.default_rng(12345), 1_000_000)
    true_difference = average_precision_score(y, better) - average_precision_score(y, worse)
    confidence, seeds, covered = 0.9, 300, 0
    for seed in range(seeds):
        y, better, worse = _two_models(np.random.default_rng(seed), 2000)
        groups = {"all": (np.ones(len(y), dtype=bool), "pr_auc")}
        distribution = paired_bootstrap(y, better, worse, groups, resamples=300, seed=seed)["all"]
        interval = percentile_interval(pr_auc(y, better) - pr_auc(y, worse), distribution, confidence)
        covered += interval.low <= true_difference <= interval.high
    # binomial standard error at 300 seeds is 0.017: three of them either side
    assert abs(covered / seeds - confidence) <= 0.05, covered / seeds


def test_bootstrap_is_paired_and_reproducible_from_its_seed():
    y, better, worse = _two_models(np.random.default_rng(1), 3000)
    groups = {"all": (np.ones(len(y), dtype=bool), "pr_auc")}
    first = paired_bootstrap(y, better, worse, groups, resamples=200, seed=7)["all"]
    again = paired_bootstrap(y, better, worse, groups, resamples=200, seed=7)["all"]
    np.testing.assert_array_equal(first, again)
    # paired: a model against itself differs by exactly zero in every resample
    assert not paired_bootstrap(y, better, better, groups, resamples=50, seed=7)["all"].any()


# --- slices ----------------------------------------------------------------------------------------------

SLICES = {
    "levels": ["region", "card_present"],
    "bands": {"amount": [50, 200]},
    "expressions": {"new_account": "account_age_days < 30"},
}


def test_slices_come_from_levels_bands_and_expressions():
    frame = pd.DataFrame(
        {
            "region": ["na", "latam", "na", "eu"],
            "card_present": [True, False, True, True],
            "amount": [10.0, 50.0, 199.0, 500.0],
            "account_age_days": [5, 400, 29, 30],
        }
    )
    masks = slice_masks(frame, SLICES)
    assert {name: mask.tolist() for name, mask in masks.items()} == {
        "region=eu": [False, False, False, True],
        "region=latam": [False, True, False, False],
        "region=na": [True, False, True, False],
        "card_present=False": [False, True, False, False],
        "card_present=True": [True, False, True, True],
        "amount<50": [True, False, False, False],
        "50<=amount<200": [False, True, True, False],
        "amount>=200": [False, False, False, True],
        "new_account": [True, False, True, False],
    }


def test_a_slice_on_a_missing_column_names_the_column():
    with pytest.raises(ConfigError, match="'country'"):
        slice_masks(pd.DataFrame({"region": ["na"]}), {"levels": ["country"]})
    with pytest.raises(ConfigError, match="new_account"):
        slice_masks(pd.DataFrame({"region": ["na"]}), {"expressions": {"new_account": "age < 30"}})


def _params(**gates):
    params = copy.deepcopy(load_model(PROJECT_DIR, "fraud-xgb"))
    params["gates"].update(gates)
    params["evaluate"]["bootstrap"]["resamples"] = 300
    return params


def _holdout(rng, n=30_000):
    """A holdout with a region column, frauds at 2%, and a champion that ranks them well."""
    region = rng.choice(["na", "eu", "latam", "mea"], size=n, p=[0.5, 0.39, 0.08, 0.03])
    y = (rng.random(n) < 0.02).astype(int)
    champion = 2.5 * y + rng.normal(size=n)
    amounts = rng.lognormal(4, 1, n)
    frame = pd.DataFrame({"region": region, "amount": amounts})
    return frame, y, champion


def _assess(frame, y, scores, params):
    thresholds = {model: 1.5 for model in scores}
    masks = slice_masks(frame, {"levels": ["region"]})
    return assess(y, frame["amount"].to_numpy(), scores, thresholds, masks, params)


def test_a_good_average_does_not_hide_a_broken_slice():
    rng = np.random.default_rng(5)
    frame, y, champion = _holdout(rng)
    latam = (frame["region"] == "latam").to_numpy()
    # The challenger is the champion plus a little noise, except that it scores latam's frauds far lower.
    challenger = champion - 1.5 * y * latam + 0.1 * rng.normal(size=len(y))
    scores = {"challenger": challenger, "champion": champion, "baseline": rng.normal(size=len(y))}
    assessment = _assess(frame, y, scores, _params(champion_tolerance=0.1, min_slice_roc_auc=0.6))
    failed = [g for g in assessment.gates if not g.passed]
    assert [(g.name, g.slice) for g in failed] == [("no_slice_regression", "region=latam")]
    with pytest.raises(GateFailed, match=r"no_slice_regression \[slice region=latam\] FAILED"):
        raise GateFailed(assessment.gates)
    # the headline gate alone would have promoted it
    overall = next(g for g in assessment.gates if g.name == "no_regression_vs_champion")
    assert overall.passed


def test_a_slice_with_too_few_frauds_is_reported_not_judged():
    rng = np.random.default_rng(6)
    frame, y, champion = _holdout(rng)
    mea = (frame["region"] == "mea").to_numpy()
    # a terrible model on a slice too small to judge: neither passed nor failed, and said so
    challenger = np.where(mea, -champion, champion)
    scores = {"challenger": challenger, "champion": champion}
    params = _params(champion_tolerance=0.1)
    params["slices"]["min_positives"] = int(y[mea].sum()) + 1
    assessment = _assess(frame, y, scores, params)
    mea_gates = [g for g in assessment.gates if g.slice == "region=mea"]
    assert [g.verdict for g in mea_gates] == [INSUFFICIENT, INSUFFICIENT]
    assert all("not judged" in g.detail for g in mea_gates)
    assert assessment.passed
    row = next(r for r in assessment.report["slices"]["rows"] if r["slice"] == "region=mea")
    assert row["judged"] is False and row["delta"] is None and row["challenger_roc_auc"] < 0.5


def test_slice_intervals_are_widened_for_the_number_of_judged_slices():
    rng = np.random.default_rng(7)
    frame, y, champion = _holdout(rng)
    scores = {"challenger": champion + 0.3 * rng.normal(size=len(y)), "champion": champion}
    report = _assess(frame, y, scores, _params(champion_tolerance=0.1)).report
    judged = [r for r in report["slices"]["rows"] if r["judged"]]
    assert report["slices"]["confidence"] == pytest.approx(1 - 0.05 / len(judged))
    assert all(r["confidence"] == report["slices"]["confidence"] for r in judged)


# --- money -----------------------------------------------------------------------------------------------


def test_chosen_threshold_minimises_expected_cost():
    rng = np.random.default_rng(8)
    y = (rng.random(3000) < 0.03).astype(int)
    scores = np.round(rng.normal(size=3000) + 2 * y, 2)
    amounts = rng.lognormal(4, 1, 3000)
    threshold = choose_threshold(y, scores, amounts, review_cost=5.0)
    best = expected_cost(y, scores, amounts, threshold, 5.0)["total"]
    every = [expected_cost(y, scores, amounts, t, 5.0)["total"] for t in np.unique(scores)]
    assert best == pytest.approx(min(every), abs=0.01)
    # the cost curve agrees with expected_cost at each of its thresholds
    curve = cost_curve(y, scores, amounts, 5.0)
    for i in (0, 10, len(curve["cost"]) - 1):
        assert curve["cost"][i] == pytest.approx(
            expected_cost(y, scores, amounts, curve["threshold"][i], 5.0)["total"], abs=0.01
        )


def test_expected_cost_is_missed_fraud_amount_plus_review_cost_per_alert():
    y = np.array([1, 1, 0, 0, 1])
    scores = np.array([0.9, 0.2, 0.8, 0.1, 0.6])
    amounts = np.array([100.0, 40.0, 7.0, 3.0, 60.0])
    cost = expected_cost(y, scores, amounts, threshold=0.5, review_cost=2.0)
    assert cost == {
        "threshold": 0.5,
        "alerts": 3,
        "missed_fraud_amount": 40.0,
        "review_cost": 6.0,
        "total": 46.0,
    }


def test_money_saved_compares_each_model_at_its_own_threshold():
    rng = np.random.default_rng(9)
    frame, y, champion = _holdout(rng)
    scores = {"challenger": champion, "champion": champion}
    masks = slice_masks(frame, {"levels": ["region"]})
    thresholds = {"challenger": 1.5, "champion": 10.0}  # the champion alerts nothing: it misses every fraud
    report = assess(y, frame["amount"].to_numpy(), scores, thresholds, masks, _params()).report
    costs = report["costs"]["models"]
    assert costs["champion"]["alerts"] == 0
    assert costs["champion"]["missed_fraud_amount"] == pytest.approx(frame["amount"][y == 1].sum(), abs=0.01)
    assert report["costs"]["saved_vs_champion"] == pytest.approx(
        costs["champion"]["total"] - costs["challenger"]["total"]
    )
    assert report["costs"]["saved_vs_champion"] > 0


def test_rule_baseline_is_an_expression_over_columns():
    frame = pd.DataFrame({"amount": [10.0, 1000.0], "account_age_days": [3000, 3]})
    scores = rule_scores(frame, "log1p(amount) - 0.5 * log1p(account_age_days)")
    assert scores[1] > scores[0]
    with pytest.raises(ConfigError, match="evaluate.rule"):
        rule_scores(frame, "amount / no_such_column")


def test_the_bootstrap_draws_the_same_resamples_in_bounded_memory():
    import tracemalloc

    from retrainer.core.bootstrap import batch_size

    rng = np.random.default_rng(3)
    n = 400_000
    y = (rng.random(n) < 0.01).astype(int)
    challenger, champion = rng.random(n) + y, rng.random(n) + 0.8 * y
    groups = {"all": (np.ones(n, dtype=bool), "pr_auc")}
    assert batch_size(n, 64) == 3 and batch_size(14_000, 512) == 250
    tracemalloc.start()
    bounded = paired_bootstrap(y, challenger, champion, groups, 40, seed=1, memory_mb=64)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    at_once = paired_bootstrap(y, challenger, champion, groups, 40, seed=1, batch=40)
    np.testing.assert_allclose(bounded["all"], at_once["all"])  # the same draws, whatever the batch
    print(f"bootstrap of {n} rows x 40 resamples within 64 MB: peak {peak / 2**20:.0f} MB")
    assert peak < 200 * 2**20  # 40 resamples at once hold ~800 MB
