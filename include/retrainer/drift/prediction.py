"""Prediction drift: the model's score distribution and alert rate on current data against the same
model's scores on its own holdout (where its performance was measured)."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import ks_2samp

from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT, DriftConfig, as_config
from retrainer.drift.metrics import bin_counts, bin_probs, jsonable, psi, quantiles_of_sorted


def alert_rate(scores: np.ndarray, decision_threshold: float) -> tuple[float, int]:
    """Share and number of non-missing scores at or above the decision threshold."""
    valid = scores[~np.isnan(scores)]
    alerts = int(np.count_nonzero(valid >= decision_threshold))
    return (alerts / valid.size if valid.size else math.nan), alerts


def prediction_drift(
    holdout_scores: np.ndarray,
    current_scores: np.ndarray,
    decision_threshold: float,
    config: DriftConfig | dict | None = None,
) -> dict:
    """Score drift of `current_scores` against `holdout_scores` (the model's own holdout).

    Drift when the scores' PSI (quantile bins of the holdout scores, NaN scores in a bin of their own)
    reaches `score_psi_threshold`, or the alert rate at `decision_threshold` moved by more than
    `max_alert_rate_ratio` either way. Rates are compared Laplace-smoothed, (alerts + 1) / (rows + 2), so a
    holdout without alerts gives a finite ratio. The KS statistic is always reported; its p-value, where
    the smaller side has at most `max_rows_for_tests` rows, must also be below `alpha` for the PSI to count.
    """
    cfg = as_config(config)
    holdout = np.asarray(holdout_scores, dtype=np.float64)
    current = np.asarray(current_scores, dtype=np.float64)
    holdout_valid, current_valid = holdout[~np.isnan(holdout)], current[~np.isnan(current)]
    report = {
        "kind": "prediction",
        "rows": {"holdout": int(holdout.size), "current": int(current.size)},
        "nan_share": {
            "holdout": float(np.isnan(holdout).mean()) if holdout.size else None,
            "current": float(np.isnan(current).mean()) if current.size else None,
        },
        "decision_threshold": decision_threshold,
        "thresholds": {"psi": cfg.score_psi_threshold, "max_alert_rate_ratio": cfg.max_alert_rate_ratio},
        "exceeds": [],
    }
    if min(holdout_valid.size, current_valid.size) < cfg.min_rows:
        return jsonable({**report, "verdict": INSUFFICIENT})

    edges = np.unique(quantiles_of_sorted(np.sort(holdout_valid), bin_probs(cfg.bins)))
    report["psi"] = psi(bin_counts(holdout, edges), bin_counts(current, edges), cfg.psi_epsilon)
    test = ks_2samp(holdout_valid, current_valid)
    tested = min(holdout_valid.size, current_valid.size) <= cfg.max_rows_for_tests
    report["ks"] = {"statistic": float(test.statistic), "p_value": float(test.pvalue) if tested else None}

    rates = {}
    for side, scores in (("holdout", holdout), ("current", current)):
        rate, alerts = alert_rate(scores, decision_threshold)
        valid = int(np.count_nonzero(~np.isnan(scores)))
        rates[side] = {"rate": rate, "alerts": alerts, "smoothed": (alerts + 1) / (valid + 2)}
    ratio = rates["current"]["smoothed"] / rates["holdout"]["smoothed"]
    report["alert_rate"] = {**rates, "ratio": ratio}

    significant = not tested or test.pvalue < cfg.alpha
    if report["psi"] >= cfg.score_psi_threshold and significant:
        report["exceeds"].append("psi")
    if not 1 / cfg.max_alert_rate_ratio <= ratio <= cfg.max_alert_rate_ratio:
        report["exceeds"].append("alert_rate")
    report["verdict"] = DRIFT if report["exceeds"] else NO_DRIFT
    return jsonable(report)
