"""The effect sizes and the multiple-testing correction of the drift check, as small functions over
numpy arrays: PSI, quantile binning, the robust spread, Jensen-Shannon distance, Benjamini-Hochberg."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import false_discovery_control

# IQR of a standard normal: dividing an IQR by it gives the standard deviation for normal data.
NORMAL_IQR = 1.3489795


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as proportions (all zeros stay zeros)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else counts


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = 1e-4) -> float:
    """Population stability index sum((c - r) * ln(c / r)) over matching bins of two count vectors.

    An empty bin's share is replaced by `epsilon`, so a bin empty on one side adds a large but finite term.
    """
    r = np.maximum(shares(reference_counts), epsilon)
    c = np.maximum(shares(current_counts), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def quantiles_of_sorted(ordered: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles of already sorted values at `probs`, interpolated linearly (numpy's default method)."""
    if ordered.size == 0:
        return np.full(len(probs), np.nan)
    position = np.asarray(probs) * (ordered.size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, ordered.size - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def bin_probs(bins: int) -> np.ndarray:
    """Cumulative probabilities of the inner edges of `bins` equal-frequency bins."""
    return np.linspace(0, 1, bins + 1)[1:-1]


def sketch_probs(points: int) -> np.ndarray:
    """Mid-probabilities of `points` equal strata: the quantile function sampled by the midpoint rule."""
    return (np.arange(points) + 0.5) / points


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of `values` in the bins (-inf, e1), [e1, e2), ..., [ek, inf), plus a last bin for NaN.

    One comparison pass per edge (NaN compares false, so it falls out): with ~10 edges this is several
    times faster than np.searchsorted over a million unsorted values.
    """
    missing = int(np.count_nonzero(np.isnan(values)))
    below = [np.count_nonzero(values < edge) for edge in edges]
    return np.diff(np.array([0, *below, values.size - missing, values.size], dtype=np.int64))


def robust_spread(ordered: np.ndarray) -> tuple[float, str]:
    """The scale that normalises the Wasserstein distance, and which one was used.

    From sorted values: IQR / 1.349 (the standard deviation for normal data, unmoved by heavy tails); the sd
    when the IQR is 0 (a mostly-constant feature); 1 when the feature is constant (raw units).
    """
    q25, q75 = quantiles_of_sorted(ordered, np.array([0.25, 0.75]))
    if q75 - q25 > 0:
        return float(q75 - q25) / NORMAL_IQR, "iqr/1.349"
    std = float(np.std(ordered)) if ordered.size else 0.0
    if std > 0:
        return std, "std"
    return 1.0, "constant reference: raw units"


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1]) between two count vectors over the same categories."""
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return math.nan
    return float(jensenshannon(shares(reference_counts), shares(current_counts), base=2))


def benjamini_hochberg(p_values: list[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (scipy's false_discovery_control) over the values given;
    None (no test run for that feature) stays None and does not count towards the number of tests."""
    tested = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    adjusted: list[float | None] = [None] * len(p_values)
    if tested:
        values = false_discovery_control(np.array([p_values[i] for i in tested]), method="bh")
        for i, value in zip(tested, np.atleast_1d(values), strict=True):
            adjusted[i] = float(value)
    return adjusted


def jsonable(value):
    """Recursively fit for JSON: numpy numbers as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return value if math.isfinite(value) else None
    return value
