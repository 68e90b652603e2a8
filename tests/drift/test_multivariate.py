"""Joint and shape drift: the classifier two-sample test catches a decoupled pair, a spread change and a
category's doubled share (which the per-feature check misses), names the features it relied on, and stays
quiet on clean weekdays, a weekend against a multi-week reference and a 200-row day. Figures printed."""

from __future__ import annotations

import numpy as np
import pytest

from retrainer.drift import DRIFT, INSUFFICIENT, NO_DRIFT, data_drift, drift_check, profile_reference
from retrainer.drift.multivariate import multivariate_drift, permutation_aucs
from tests.drift import scenarios

CLEAN_SEEDS = range(5)


@pytest.fixture(scope="module")
def reference():
    return scenarios.reference()


def _both(reference, current):
    """(per-feature report, multivariate report) of `current` against `reference`."""
    kwargs = {"features": scenarios.FEATURES, "categorical": scenarios.CATEGORICAL}
    return data_drift(reference, current, **kwargs), multivariate_drift(reference, current, **kwargs)


def _line(name: str, per_feature: dict, joint: dict) -> str:
    return (
        f"{name}: multivariate {joint['verdict']} AUC {joint['auc']:.3f} "
        f"(threshold {joint['threshold']:.3f}, floor {joint['min_auc']}, p {joint['p_value']:.3f}, "
        f"{joint['seconds']:.1f} s), relied on "
        f"{[(f['feature'], round(f['importance'], 3)) for f in joint['features'][:3]]}; "
        f"per-feature {per_feature['verdict']} {per_feature['root_cause'][:3]}"
    )


def test_decoupled_pair_is_caught_with_both_features_named(reference):
    current = scenarios.decoupled(seed=1001)
    pair = ["amount_sum_30d", "amount_avg_30d"]
    before = reference[pair].corr().iloc[0, 1]
    after = current[pair].corr().iloc[0, 1]
    per_feature, joint = _both(reference, current)
    print(f"\ncorrelation {before:.2f} -> {after:.2f}; " + _line("decoupled pair", per_feature, joint))
    assert abs(after) < 0.1 < 0.8 < before
    assert per_feature["verdict"] == NO_DRIFT  # both marginals unchanged: no per-feature effect size moves
    assert joint["verdict"] == DRIFT
    assert joint["auc"] > joint["threshold"] and joint["auc"] >= joint["min_auc"]
    assert set(pair) <= set(joint["root_cause"][:3])


def test_spread_change_is_caught_where_the_per_feature_check_misses_it(reference):
    current = scenarios.spread(seed=1002)
    ratio = current["credit_utilization"].std() / reference["credit_utilization"].std()
    per_feature, joint = _both(reference, current)
    by_feature = {f["feature"]: f for f in per_feature["features"]}["credit_utilization"]
    print(
        f"\nsd x{ratio:.2f} (mean {reference['credit_utilization'].mean():.3f} -> "
        f"{current['credit_utilization'].mean():.3f}), per-feature PSI {by_feature['psi']:.3f} "
        f"{by_feature['distance']['name']} {by_feature['distance']['value']:.3f}; "
        + _line("spread", per_feature, joint)
    )
    assert 1.2 < ratio < 1.4
    assert per_feature["verdict"] == NO_DRIFT
    assert joint["verdict"] == DRIFT
    assert joint["root_cause"][0] == "credit_utilization"


def test_doubled_category_share_is_caught_where_the_per_feature_check_misses_it(reference):
    current = scenarios.category_doubled(seed=1003)
    before = (reference["channel"] == "wallet").mean()
    after = (current["channel"] == "wallet").mean()
    per_feature, joint = _both(reference, current)
    by_feature = {f["feature"]: f for f in per_feature["features"]}["channel"]
    print(
        f"\nwallet share {before:.3f} -> {after:.3f}, per-feature PSI {by_feature['psi']:.3f} "
        f"{by_feature['distance']['name']} {by_feature['distance']['value']:.3f}; "
        + _line("category doubled", per_feature, joint)
    )
    assert after == pytest.approx(2 * before, rel=0.1)
    assert per_feature["verdict"] == NO_DRIFT
    assert joint["verdict"] == DRIFT
    assert joint["root_cause"][0] == "channel"


def test_no_false_alarm_on_clean_weekdays(reference):
    verdicts = []
    print()
    for seed in CLEAN_SEEDS:
        per_feature, joint = _both(reference, scenarios.weekday(seed=seed))
        print(_line(f"clean weekday seed {seed}", per_feature, joint))
        verdicts.append(joint["verdict"])
    assert verdicts == [NO_DRIFT] * len(CLEAN_SEEDS)


def test_no_false_alarm_on_a_weekend_against_a_multi_week_reference(reference):
    """A weekend differs from the four-week mix of days: often enough for the permutation test alone to
    notice at 3,000 rows, never by the effect size that alarms (the AUC floor)."""
    verdicts = []
    print()
    for seed in range(3):
        per_feature, joint = _both(reference, scenarios.weekend(seed=100 + seed))
        print(_line(f"weekend seed {seed}", per_feature, joint))
        verdicts.append(joint["verdict"])
    assert verdicts == [NO_DRIFT] * 3


def test_no_false_alarm_on_a_200_row_day(reference):
    verdicts = []
    print()
    for seed in range(3):
        per_feature, joint = _both(reference, scenarios.weekday(seed=200 + seed, rows=200))
        print(_line(f"200-row day seed {seed}", per_feature, joint))
        verdicts.append(joint["verdict"])
        assert joint["rows"]["held_current"] == 100
    assert verdicts == [NO_DRIFT] * 3


def test_too_few_rows_is_insufficient_data_not_a_verdict(reference):
    joint = multivariate_drift(reference, scenarios.weekday(seed=7, rows=60), features=scenarios.FEATURES)
    assert joint["verdict"] == INSUFFICIENT and joint["auc"] is None


def test_same_data_same_report(reference):
    current = scenarios.decoupled(seed=1004)
    first = multivariate_drift(reference, current, features=scenarios.FEATURES)
    again = multivariate_drift(reference, current, features=scenarios.FEATURES)
    first.pop("seconds"), again.pop("seconds")
    assert first == again


def test_permuted_aucs_follow_the_null_law():
    """Mann-Whitney under the null: mean 1/2, variance (n0 + n1 + 1) / (12 n0 n1) without ties."""
    rng = np.random.default_rng(3)
    scores, labels = rng.random(6_000), np.r_[np.zeros(5_000), np.ones(1_000)]
    null = permutation_aucs(scores, labels, 2_000, seed=4)
    assert null.mean() == pytest.approx(0.5, abs=0.002)
    assert null.std() == pytest.approx(np.sqrt(6_001 / (12 * 5_000 * 1_000)), rel=0.1)
    # the rank form is the AUC: the true labels of perfectly separated scores give 1
    assert permutation_aucs(np.r_[np.zeros(5), np.ones(5)], np.r_[np.zeros(5), np.ones(5)], 1, 0).size == 1


def test_drift_check_counts_the_multivariate_part_and_its_persistence(reference):
    current = scenarios.decoupled(seed=1005)
    kwargs = {"features": scenarios.FEATURES, "categorical": scenarios.CATEGORICAL}
    history = []
    for run in ("d1", "d2", "d3"):
        report = drift_check(reference, current, history=history, run=run, **kwargs)
        history.append(report["summary"])
    assert report["kinds"] == ["multivariate"]  # no single feature moved
    assert report["verdict"] == "drift confirmed"
    assert report["root_cause"] == []  # the per-feature ranking: nothing moved alone
    assert {"amount_sum_30d", "amount_avg_30d"} <= set(report["summary"]["features"])
    assert set(report["multivariate"]["root_cause"][:2]) == {"amount_sum_30d", "amount_avg_30d"}
    assert report["persistence"]["persistent_features"]
    # no rows, no joint test: a ReferenceProfile, or the test switched off
    assert "multivariate" not in drift_check(profile_reference(reference, **kwargs), current, **kwargs)
    off = drift_check(reference, current, {"multivariate_enabled": False}, **kwargs)
    assert "multivariate" not in off and off["verdict"] == NO_DRIFT
