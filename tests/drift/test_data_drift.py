"""Data drift: no false alarms without drift, the shifted features named first, small samples tested
with Benjamini-Hochberg, unseen categories counted, reports JSON-able."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control

from retrainer.drift import DRIFT, INSUFFICIENT, NO_DRIFT, DriftConfig, data_drift, drift_check
from tests.drift.conftest import DECISION_THRESHOLD
from tests.drift.generator import FEATURES, START, labelled, make_frame

SEEDS = range(20)
AS_OF = START + pd.Timedelta(days=40)  # every label of the generated day has arrived by then


def _check(profile, holdout, current, history=(), seed=0, config=None):
    return drift_check(
        profile,
        current,
        config,
        holdout_scores=holdout["scores"],
        current_scores=labelled(current, seed)["score"].to_numpy(),
        decision_threshold=DECISION_THRESHOLD,
        labelled=labelled(current, seed),
        holdout_pr_auc=holdout["pr_auc"],
        as_of=AS_OF,
        label_maturity_days=30,  # labels arrive 5-30 days after the day (tests.drift.generator.labelled)
        history=history,
        run=f"seed={seed}",
    )


def test_no_drift_means_no_trigger_over_20_seeds(profile, holdout, capsys):
    drifted_runs, triggers, flagged = 0, 0, []
    for seed in SEEDS:
        history = []
        for day in range(3):  # three consecutive monitor runs: enough for a trigger if drift persisted
            report = _check(profile, holdout, make_frame(50_000, seed=100 * seed + day + 10), history, seed)
            drifted_runs += report["drifted"]
            triggers += report["confirmed"]
            flagged += report["root_cause"]
            history.append(report["summary"])
    with capsys.disabled():  # the false-alarm count belongs in the test output, even when it passes
        print(
            f"\nno drift, 20 seeds x 3 runs of 50,000 rows: {drifted_runs} drifted runs, {triggers} triggers"
        )
        print(f"features flagged: {flagged or 'none'}")
    assert (drifted_runs, triggers) == (0, 0)


def test_no_drift_on_small_samples_where_tests_decide(profile, capsys):
    """1,000 current rows: KS / chi-square run on every feature and must also reject (BH-adjusted)."""
    false_alarms = 0
    for seed in SEEDS:
        report = data_drift(profile, make_frame(1_000, seed=500 + seed))
        assert report["tests"]["features_tested"] == len(FEATURES)
        false_alarms += report["verdict"] == DRIFT
    with capsys.disabled():
        print(f"\nno drift, 20 seeds of 1,000 rows (tests applied): {false_alarms} false alarm(s)")
    assert false_alarms == 0


@pytest.mark.parametrize(
    "shifted",
    [
        {"num_00": 1.0, "num_04": 1.0, "region": 1.0},
        {"num_02": 1.5, "merchant_category": 1.0, "channel": 1.0},
        {"num_10": 1.0},
    ],
)
def test_covariate_shift_in_k_features_is_confirmed_and_those_features_head_the_ranking(
    profile, holdout, shifted
):
    history = []
    for day in range(3):
        report = _check(profile, holdout, make_frame(50_000, seed=900 + day, shift=shifted), history)
        history.append(report["summary"])
    k = len(shifted)
    assert report["data"]["verdict"] == DRIFT
    assert report["confirmed"] and report["verdict"] == "drift confirmed"
    assert set(report["root_cause"]) == set(shifted)
    ranking = [f["feature"] for f in report["data"]["features"]]
    assert set(ranking[:k]) == set(shifted)
    assert all(f["verdict"] == NO_DRIFT for f in report["data"]["features"][k:])
    assert set(report["persistence"]["persistent_features"]) == set(shifted)
    contributions = [f["contribution"] for f in report["data"]["features"]]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(contributions[:k]) > 0.9  # the root cause carries nearly all of the PSI


def test_shift_below_the_effect_size_threshold_does_not_drift_however_large_the_sample(profile):
    """0.1 sd on 200,000 rows: KS would call it significant (p ~ 0); PSI ~0.01 and W ~0.1 sd do not."""
    report = data_drift(profile, make_frame(200_000, seed=77, shift={"num_00": 0.1}))
    feature = next(f for f in report["features"] if f["feature"] == "num_00")
    assert report["tests"]["features_tested"] == 0  # too many rows for tests to mean anything
    assert feature["test"] is None and feature["verdict"] == NO_DRIFT
    assert 0 < feature["psi"] < 0.05 and 0.05 < feature["distance"]["value"] < 0.2
    assert feature["rank"] == 1  # still the biggest mover, for whoever reads the table


def test_benjamini_hochberg_adjusts_the_p_values_across_features(reference):
    config = DriftConfig(psi_threshold=0.0, wasserstein_threshold=0.0, js_threshold=0.0)  # tests decide
    seen_rescued = False
    for seed in range(40):
        report = data_drift(reference, make_frame(300, seed=3_000 + seed), config)
        features = report["features"]
        raw = [f["test"]["p_value"] for f in features]
        adjusted = [f["test"]["p_adjusted"] for f in features]
        assert adjusted == pytest.approx(list(false_discovery_control(raw, method="bh")))
        for feature in features:  # the effect sizes all "exceed", so the adjusted p-value decides
            assert (feature["verdict"] == DRIFT) == (feature["test"]["p_adjusted"] < config.alpha)
            if feature["test"]["p_value"] < config.alpha <= feature["test"]["p_adjusted"]:
                seen_rescued = True  # significant alone, not after the correction for 30 features
    assert seen_rescued


def test_unseen_and_missing_categories_are_counted(reference):
    current = make_frame(20_000, seed=5)
    current.loc[current.index[:4_000], "channel"] = "crypto"  # 20% of a channel the model never saw
    current.loc[current.index[4_000:5_000], "region"] = None
    report = data_drift(reference, current, {"max_rows_for_tests": 0})
    channel = next(f for f in report["features"] if f["feature"] == "channel")
    region = next(f for f in report["features"] if f["feature"] == "region")
    assert channel["unseen"] == {"share": pytest.approx(0.2), "examples": ["crypto"]}
    assert channel["verdict"] == DRIFT and channel["rank"] == 1
    assert channel["bins"]["labels"][-1] == "(unseen)" and channel["bins"]["current"][-1] == pytest.approx(
        0.2
    )
    assert region["missing_share"]["current"] == pytest.approx(0.05)


def test_numeric_missing_values_have_a_bin_of_their_own(reference):
    current = make_frame(20_000, seed=6)
    current.loc[current.index[:6_000], "num_05"] = np.nan
    report = data_drift(reference, current)
    feature = next(f for f in report["features"] if f["feature"] == "num_05")
    assert feature["missing_share"]["current"] == pytest.approx(0.3)
    assert feature["verdict"] == DRIFT and "psi" in feature["exceeds"]


def test_too_few_rows_is_insufficient_data_not_a_verdict(profile):
    report = data_drift(profile, make_frame(50, seed=7))
    assert report["verdict"] == INSUFFICIENT and report["root_cause"] == []
    assert {f["verdict"] for f in report["features"]} == {INSUFFICIENT}


def test_a_feature_missing_from_the_current_sample_is_named(profile):
    with pytest.raises(ValueError, match="num_03"):
        data_drift(profile, make_frame(1_000, seed=8).drop(columns=["num_03"]))


def test_an_unknown_setting_is_named(reference):
    with pytest.raises(ValueError, match="psi_treshold"):
        data_drift(reference, reference, {"psi_treshold": 0.1})


def test_the_report_is_json_and_the_same_data_gives_the_same_report(reference, profile, holdout):
    current = make_frame(30_000, seed=9, shift={"num_01": 1.0})
    first = _check(profile, holdout, current)
    assert json.loads(json.dumps(first, allow_nan=False)) == first
    assert _check(profile, holdout, current) == first
    assert data_drift(reference, current) == first["data"]  # a profile gives what the frame gives
