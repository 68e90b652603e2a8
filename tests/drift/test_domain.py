"""Importance weights from the domain classifier: near 1 when both samples come from one law, higher where
the recent inputs are denser (close to the true density ratio), mean 1, clipped, deterministic for a seed,
and given to every row even when the classifier was fit on a subsample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.drift.domain import encode, importance_weights
from tests.drift.generator import CATEGORIES, FEATURES, make_frame

CATEGORICAL = list(CATEGORIES)


def _weights(rows, recent, **kwargs):
    return importance_weights(rows, recent, FEATURES, CATEGORICAL, **kwargs)


def test_one_law_gives_weights_near_one():
    rows, recent = make_frame(20_000, seed=11), make_frame(5_000, seed=12)
    weights, info = _weights(rows, recent)
    spread = np.quantile(weights, [0.05, 0.5, 0.95])
    print(
        f"\none law: auc={info['auc']:.3f} weights q05/q50/q95={np.round(spread, 3).tolist()} "
        f"ess={info['effective_sample_size']:.0f}/{len(rows)} clipped={info['clipped_share']:.4f}"
    )
    assert weights.shape == (len(rows),)
    assert weights.mean() == pytest.approx(1.0)
    assert abs(info["auc"] - 0.5) < 0.03
    assert spread[0] > 0.7 and spread[2] < 1.4
    assert info["effective_sample_size"] > 0.95 * len(rows)
    assert info["clipped_share"] == 0.0


def test_weights_rise_where_recent_is_denser():
    """recent: num_00 moved by one sd (2.0). The true ratio is exp(z - 1/2) in the standardised value z."""
    rows, recent = make_frame(20_000, seed=21), make_frame(5_000, seed=22, shift={"num_00": 1.0})
    weights, info = _weights(rows, recent)
    z = (rows["num_00"].to_numpy() - 10.0) / 2.0
    true = np.exp(z - 0.5)
    low, high = np.quantile(z, [0.25, 0.75])
    ratio = weights[z > high].mean() / weights[z < low].mean()
    corr = np.corrcoef(np.log(weights), np.log(true / true.mean()))[0, 1]
    print(
        f"\nnum_00 +1 sd: auc={info['auc']:.3f} top/bottom quartile weight ratio={ratio:.1f} "
        f"corr(log w, log true ratio)={corr:.3f} ess={info['effective_sample_size']:.0f}/{len(rows)}"
    )
    assert info["auc"] > 0.6
    assert ratio > 4
    assert corr > 0.85
    # weighting the rows moves their num_00 mean to the recent one's (the point of the weights)
    weighted_mean = np.average(rows["num_00"], weights=weights)
    assert weighted_mean == pytest.approx(recent["num_00"].mean(), abs=0.25)


def test_category_share_is_reweighted():
    rows, recent = make_frame(20_000, seed=31), make_frame(5_000, seed=32, shift={"channel": 1.0})
    weights, _ = _weights(rows, recent)
    for level in CATEGORIES["channel"]:
        weighted = weights[rows["channel"].to_numpy() == level].sum() / weights.sum()
        assert weighted == pytest.approx((recent["channel"] == level).mean(), abs=0.03), level


def test_deterministic_for_a_seed():
    rows, recent = make_frame(6_000, seed=41), make_frame(2_000, seed=42, shift={"num_03": 0.5})
    first, info = _weights(rows, recent, seed=7)
    again, _ = _weights(rows, recent, seed=7)
    other, _ = _weights(rows, recent, seed=8)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert info["seed"] == 7 and info["features"] == FEATURES


def test_clipping_bounds_the_weights_and_keeps_mean_one():
    rows, recent = make_frame(10_000, seed=51), make_frame(3_000, seed=52, shift={"num_00": 2.5})
    weights, info = _weights(rows, recent, clip=3.0)
    print(
        f"\nnum_00 +2.5 sd, clip 3: auc={info['auc']:.3f} clipped={info['clipped_share']:.3f} "
        f"max={weights.max():.2f} min={weights.min():.3f} ess={info['effective_sample_size']:.0f}"
    )
    assert weights.mean() == pytest.approx(1.0)
    assert info["clipped_share"] > 0.05
    # clipped at 3x and 1/3 of the mean, then renormalised: the bounds move by the renormalisation only
    assert weights.max() / weights.min() <= 9.0 + 1e-9
    assert info["clip"] == 3.0
    unclipped, _ = _weights(rows, recent, clip=1000.0)
    assert unclipped.max() > weights.max()
    assert info["effective_sample_size"] == pytest.approx(weights.sum() ** 2 / np.square(weights).sum())


def test_every_row_is_weighted_when_the_classifier_sees_a_subsample():
    rows, recent = make_frame(12_000, seed=61), make_frame(4_000, seed=62, shift={"num_00": 1.0})
    weights, info = _weights(rows, recent, max_rows=3_000)
    assert info["fit_rows"] == 3_000 and info["fit_recent_rows"] == 3_000 and info["rows"] == 12_000
    assert weights.shape == (12_000,) and np.isfinite(weights).all()
    z = (rows["num_00"].to_numpy() - 10.0) / 2.0
    # rows outside the subsample follow the density ratio as well as the fitted ones
    corr = np.corrcoef(np.log(weights), z)[0, 1]
    assert corr > 0.8


def test_encode_shares_codes_across_frames_and_keeps_missing():
    a = pd.DataFrame({"c": ["x", "y", None], "n": [1.0, None, 3.0]})
    b = pd.DataFrame({"c": ["y", "z", "y"], "n": [True, False, True]})
    (ma, mb), mask = encode([a, b], ["c", "n"], ["c"])
    assert mask.tolist() == [True, False]
    assert ma[1, 0] == mb[0, 0] == mb[2, 0]  # "y" has one code in both frames
    assert np.isnan(ma[2, 0]) and np.isnan(ma[1, 1])
    assert mb[:, 1].tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="absent|not in the columns"):
        encode([a], ["missing"], [])


def test_empty_side_is_refused():
    with pytest.raises(ValueError, match="both sides"):
        _weights(make_frame(100, seed=1), make_frame(100, seed=2).iloc[:0])
