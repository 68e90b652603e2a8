"""Every threshold of the drift check in one plain dataclass, built from a dict (a `drift` section of
`params.yaml`) so the numbers live in configuration, not code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds and sample sizes of the drift check. Defaults are documented per field.

    Decisions are taken on effect size (PSI, distances), never on p-values of large samples: at 10^6 rows
    any difference is "significant". Tests only guard the effect size where samples are small.
    """

    # Data drift: a feature drifts when any effect size reaches its threshold.
    psi_threshold: float = 0.2  # the industry's "significant shift"; ~ a 0.47 sd mean shift of a normal
    # Wasserstein distance divided by the reference's robust spread IQR / 1.349 (= the sd for a normal,
    # unmoved by heavy tails; falls back to the sd when the IQR is 0, e.g. a mostly-zero count).
    # 0.5 means half a standard deviation: about where PSI 0.2 lies for a location shift.
    wasserstein_threshold: float = 0.5
    # Jensen-Shannon distance (base 2, in [0, 1]) of the category frequencies; ~ PSI 0.2 for small moves.
    js_threshold: float = 0.2
    bins: int = 10  # quantile bins of the reference for numeric PSI (edges that coincide are merged)
    psi_epsilon: float = 1e-4  # stands in for an empty bin's share, so PSI stays finite
    # Each side's numeric values are read through a seeded random subsample of at most `sample_rows` rows,
    # sorted: it gives the reference's quantile edges and spread, each side's quantile sketch (the
    # quantile function at `sketch_points` mid-probabilities) for the Wasserstein distance, and the
    # reference side of KS. Bin shares for PSI are always counted on every row. The sampling error of the
    # distance at 50,000 rows is ~0.005 sd, a hundredth of the threshold, at a fraction of a full sort.
    sample_rows: int = 50_000
    sketch_points: int = 1_000
    max_categories: int = 50  # categories beyond the reference's most frequent ones are pooled as "other"
    # Tests (KS for numeric, chi-square for categorical) run only when the smaller side has at most this
    # many rows; their p-values are Benjamini-Hochberg adjusted across the features tested in the check,
    # and a small-sample feature drifts only if its effect size is over the threshold AND adjusted p < alpha.
    max_rows_for_tests: int = 20_000
    alpha: float = 0.05
    min_rows: int = 100  # fewer current rows than this: the feature's verdict is "insufficient data"
    plot_features: int = 3  # distribution plots of the top-ranked features in the report
    seed: int = 20261116  # subsampling is seeded: the same data gives the same report

    # Prediction drift: the score distribution against the model's own holdout scores.
    score_psi_threshold: float = 0.2
    # The alert rate at the decision threshold may move by at most this factor either way
    # (rates are Laplace-smoothed, so a holdout without alerts does not divide by zero).
    max_alert_rate_ratio: float = 2.0

    # Concept drift: PR-AUC on labels matured by the logical date, against the holdout figure.
    min_positives: int = 50  # fewer matured positive labels: "insufficient data", never a verdict
    max_pr_auc_drop: float = 0.1  # absolute drop from the holdout PR-AUC that counts as degradation

    # Persistence: drift is confirmed only after this many consecutive drifted runs (this one included).
    consecutive_runs: int = 3

    # Multivariate drift (drift/multivariate.py): a classifier two-sample test of reference vs current rows,
    # which sees joint and shape changes (a decoupled pair, a spread change, a category's share) that the
    # per-feature effect sizes miss. The classifier is fit on one part of the rows; its AUC on the rest
    # drifts when it is above the permutation-calibrated threshold AND at least `multivariate_min_auc`.
    multivariate_enabled: bool = True
    multivariate_max_rows: int = 50_000  # each side is subsampled (seeded) to at most this many rows
    multivariate_holdout_share: float = 0.5  # share of the rows (each side) kept out of the fit for the AUC
    multivariate_permutations: int = 1_000  # permutations of the held-out labels: the AUC's null law
    multivariate_alpha: float = 0.01  # the threshold is the null law's 1 - alpha quantile
    # Effect-size floor: at tens of thousands of rows a trivial difference is significant. 0.55 is the AUC
    # of a category whose share moves by 10 points (0.5 + half the total variation distance); a 0.47 sd
    # mean shift (PSI ~0.2, the per-feature threshold) gives ~0.63.
    multivariate_min_auc: float = 0.55
    multivariate_min_rows: int = 100  # fewer current rows: "insufficient data"
    multivariate_top_features: int = 5  # features named as the root cause (held-out permutation importance)
    multivariate_importance_rows: int = 10_000  # held-out rows (at most) the permutation importance reads

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> DriftConfig:
        """A config from a plain dict; unknown keys are an error naming them (a typo must not pass)."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise ValueError(f"unknown drift setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_config(config: DriftConfig | dict[str, Any] | None) -> DriftConfig:
    """Accept a DriftConfig, a plain dict of overrides, or None (the defaults)."""
    return config if isinstance(config, DriftConfig) else DriftConfig.from_dict(config)


# Verdicts, the same words in every part of the report.
DRIFT = "drift"
NO_DRIFT = "no drift"
INSUFFICIENT = "insufficient data"
