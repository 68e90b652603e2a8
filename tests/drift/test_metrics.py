"""The effect sizes: PSI, the quantile sketch behind the Wasserstein distance, Jensen-Shannon, BH."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from retrainer.drift.metrics import (
    benjamini_hochberg,
    bin_counts,
    js_distance,
    psi,
    quantiles_of_sorted,
    sketch_probs,
)


def test_psi_is_zero_for_equal_shares_and_finite_with_empty_bins():
    assert psi(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(0)
    value = psi(np.array([50, 50, 0]), np.array([0, 50, 50]), epsilon=1e-4)
    assert np.isfinite(value) and value > 5


def test_bin_counts_match_searchsorted_and_keep_missing_apart():
    values = np.array([0.5, 1.0, 1.5, 2.0, np.nan, 3.5, np.nan])
    edges = np.array([1.0, 2.0])
    assert bin_counts(values, edges).tolist() == [1, 2, 2, 2]
    valid = values[~np.isnan(values)]
    expected = np.bincount(np.searchsorted(edges, valid, side="right"), minlength=3)
    assert bin_counts(values, edges)[:-1].tolist() == expected.tolist()


def test_quantiles_of_sorted_match_numpy():
    values = np.sort(np.random.default_rng(0).lognormal(size=1_001))
    probs = np.array([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    assert quantiles_of_sorted(values, probs) == pytest.approx(np.quantile(values, probs))


@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_the_quantile_sketch_gives_scipys_wasserstein_distance_on_the_full_samples(scale):
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(3, 1, 200_000), scale * rng.lognormal(3.2, 1, 200_000)
    probs = sketch_probs(1_000)
    sketched = wasserstein_distance(
        quantiles_of_sorted(np.sort(a), probs), quantiles_of_sorted(np.sort(b), probs)
    )
    assert sketched == pytest.approx(wasserstein_distance(a, b), rel=0.02)


def test_js_distance_is_bounded_and_zero_for_equal_shares():
    assert js_distance(np.array([1, 1]), np.array([5, 5])) == pytest.approx(0)
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1)


def test_benjamini_hochberg_skips_features_that_were_not_tested():
    adjusted = benjamini_hochberg([0.01, None, 0.04, 0.03])
    assert adjusted[1] is None
    # three tests: 0.01 * 3/1, 0.03 * 3/2, 0.04 * 3/3, made monotone
    assert adjusted[0] == pytest.approx(0.03) and adjusted[3] == pytest.approx(0.04)
    assert adjusted[2] == pytest.approx(0.04)
