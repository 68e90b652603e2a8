"""The paired bootstrap of challenger minus champion on the same holdout rows, with a vectorised average
precision and ROC-AUC per resample, and its percentile intervals."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Ranked:
    """One model's ranking of a set of rows, prepared once so that every resample is a few array passes.

    `columns`: the rows by descending score; `positives`: positions (in that order) of the frauds;
    `cutoffs` / `starts`: for each fraud, the last / first position of its group of tied scores (a
    threshold takes a whole tie group, as scikit-learn does).
    """

    columns: np.ndarray
    labels: np.ndarray
    positives: np.ndarray
    cutoffs: np.ndarray
    starts: np.ndarray
    positives_at_cutoff: np.ndarray  # index into `positives` of the last fraud at or before each cutoff

    @classmethod
    def of(cls, y: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> _Ranked:
        order = rows[np.argsort(-scores[rows], kind="stable")]
        ranked_scores = scores[order]
        group_ends = np.flatnonzero(np.r_[ranked_scores[1:] != ranked_scores[:-1], True])
        group_starts = np.r_[0, group_ends[:-1] + 1]
        positives = np.flatnonzero(y[order] == 1)
        group = np.searchsorted(group_ends, positives)
        cutoffs = group_ends[group]
        return cls(
            order,
            y[order],
            positives,
            cutoffs,
            group_starts[group],
            np.searchsorted(positives, cutoffs, side="right") - 1,
        )


def _weighted_average_precision(weights: np.ndarray, ranked: _Ranked) -> np.ndarray:
    """Average precision for each row of `weights` (resamples x rows: how often each row was drawn).

    AP = sum over frauds of precision at the fraud's threshold, weighted by how often it was drawn, divided
    by the frauds drawn: the same number scikit-learn gives for the resampled rows, without sorting again.
    """
    drawn = weights[:, ranked.columns]
    drawn_at_cutoff = np.cumsum(drawn, axis=1)[:, ranked.cutoffs]
    frauds = drawn[:, ranked.positives]
    frauds_so_far = np.cumsum(frauds, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = frauds_so_far[:, ranked.positives_at_cutoff] / drawn_at_cutoff
        precision = np.where(drawn_at_cutoff > 0, precision, 0.0)
        return (frauds * precision).sum(axis=1) / frauds_so_far[:, -1]


def _weighted_roc_auc(weights: np.ndarray, ranked: _Ranked) -> np.ndarray:
    """ROC-AUC for each row of `weights`: the share of (fraud, legitimate) pairs ranked the right way round,
    a tie counting half (Mann-Whitney), as scikit-learn's roc_auc_score gives for the resampled rows."""
    legit = weights[:, ranked.columns] * (ranked.labels == 0)
    legit_so_far = np.cumsum(legit, axis=1)
    total_legit = legit_so_far[:, -1:]
    above = np.where(ranked.starts > 0, legit_so_far[:, np.maximum(ranked.starts - 1, 0)], 0)
    tied = legit_so_far[:, ranked.cutoffs] - above
    below = total_legit - legit_so_far[:, ranked.cutoffs]
    frauds = weights[:, ranked.columns[ranked.positives]]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (frauds * (below + 0.5 * tied)).sum(axis=1) / (frauds.sum(axis=1) * total_legit[:, 0])


_WEIGHTED = {"pr_auc": _weighted_average_precision, "roc_auc": _weighted_roc_auc}


# What one resample of n rows holds in memory at once: scipy's drawn row indices (int64) and one metric's
# arrays over them (draw counts, their running sums, the precision at each fraud): about six 8-byte numbers
# per row. Resamples are drawn in batches that fit `memory_mb`, so a 2M-row holdout does not need 20 GB.
BYTES_PER_ROW_AND_RESAMPLE = 48


def batch_size(rows: int, memory_mb: float, most: int = 250) -> int:
    """How many resamples of `rows` rows to draw and score at once within about `memory_mb` MB."""
    return int(max(1, min(most, memory_mb * 2**20 // (BYTES_PER_ROW_AND_RESAMPLE * max(rows, 1)))))


def paired_bootstrap(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    groups: dict[str, tuple[np.ndarray, str]],
    resamples: int,
    seed: int,
    batch: int | None = None,
    memory_mb: float = 512,
) -> dict[str, np.ndarray]:
    """Bootstrap distribution of metric(challenger) - metric(champion) on each group of rows.

    `groups`: {name: (row mask, metric)}, the metric `pr_auc` or `roc_auc`. Paired: each resample is one
    draw of holdout rows (with replacement) that both models are scored on, so what the two share (the
    same hard cases, the same lucky draws) cancels in the difference; every group (the whole holdout,
    each slice) is read from the same resamples. Returns {name: array of `resamples` differences}; a
    resample that drew no fraud (or no legitimate row) in a group gives NaN there. Resamples are scored
    `batch` at a time (default: as many as fit `memory_mb`); the draws do not depend on the batch size.
    """
    from scipy.stats import bootstrap

    y = np.asarray(y).astype(np.int8)
    n = len(y)
    batch = batch or batch_size(n, memory_mb)
    prepared = [
        (
            _WEIGHTED[metric],
            _Ranked.of(y, np.asarray(challenger), np.flatnonzero(mask)),
            _Ranked.of(y, np.asarray(champion), np.flatnonzero(mask)),
        )
        for mask, metric in groups.values()
    ]

    def statistic(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.atleast_2d(rows)
        # How often each holdout row was drawn, per resample: one bincount over offset indices.
        offsets = (rows + n * np.arange(len(rows))[:, None]).ravel()
        weights = np.bincount(offsets, minlength=n * len(rows)).reshape(len(rows), n).astype(np.int32)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack(
                [metric(weights, mine) - metric(weights, theirs) for metric, mine, theirs in prepared]
            )

    # scipy draws the resamples (row indices, shared by both models) and batches the calls; the intervals
    # are read from the distribution by `percentile_interval`, so that slices can use their own level.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN for a group without frauds in a resample: handled there
        result = bootstrap(
            (np.arange(n),),
            statistic,
            n_resamples=resamples,
            batch=batch,
            vectorized=True,
            paired=True,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    distribution = np.atleast_2d(result.bootstrap_distribution)
    return dict(zip(groups, distribution, strict=True))


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def describe(self) -> str:
        return f"{self.estimate:+.4f}, {self.confidence:.1%} CI [{self.low:+.4f}, {self.high:+.4f}]"


def percentile_interval(estimate: float, distribution: np.ndarray, confidence: float) -> Interval:
    """The two-sided percentile interval of a bootstrap distribution (NaN resamples left out)."""
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(distribution, [alpha, 1 - alpha])
    return Interval(float(estimate), float(low), float(high), float(confidence))


def metric_interval(
    y: np.ndarray, scores: np.ndarray, metric: str, resamples: int, confidence: float, seed: int
) -> Interval:
    """One model's `metric` (`pr_auc` | `roc_auc`) on the rows `y`, `scores`, with its percentile bootstrap
    interval: how far the figure of a small set (a week of matured labels) moves by the draw alone."""
    y = np.asarray(y).astype(np.int8)
    scores = np.asarray(scores, dtype=np.float64)
    ranked, n = _Ranked.of(y, scores, np.arange(len(y))), len(y)
    rng = np.random.default_rng(seed)
    batch, values = batch_size(n, 256), []
    for start in range(0, resamples, batch):
        draws = rng.integers(0, n, size=(min(batch, resamples - start), n))
        offsets = (draws + n * np.arange(len(draws))[:, None]).ravel()
        weights = np.bincount(offsets, minlength=n * len(draws)).reshape(len(draws), n).astype(np.int32)
        with np.errstate(divide="ignore", invalid="ignore"):
            values.append(_WEIGHTED[metric](weights, ranked))
    estimate = float(_WEIGHTED[metric](np.ones((1, n), dtype=np.int32), ranked)[0])
    return percentile_interval(estimate, np.concatenate(values), confidence)
