"""Concept drift from delayed labels: the model's PR-AUC on the most recent matured days (events older than
the label maturity horizon, labels arrived: `core.maturity`), against its holdout figure; judged only on
both classes and enough positives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrainer.core.bootstrap import metric_interval
from retrainer.core.maturity import matured_mask, maturity_horizon, one_class
from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT, DriftConfig, as_config
from retrainer.drift.metrics import jsonable


def performance_drift(
    scores: np.ndarray,
    labels: np.ndarray,
    label_arrived_at,
    as_of,
    holdout_pr_auc: float,
    config: DriftConfig | dict | None = None,
    *,
    event_time,
    label_maturity_days: int,
) -> dict:
    """PR-AUC (average precision) of `scores` against `labels` on the matured rows of the last
    `performance_window_days` days before the maturity horizon, compared with `holdout_pr_auc`.

    A row is matured when its `event_time` is older than `label_maturity_days` before `as_of` (the run's
    logical date) and its `label_arrived_at` is at or before `as_of` (`core.maturity.matured_mask`, the rule
    training uses). Younger rows are left out, never taken as negatives, and never judged on the labels
    that happen to have arrived: those are mostly frauds. Only the most recent matured days are judged, so
    one drifted day is not diluted by weeks of older ones. A set with one class or fewer than
    `min_positives` positives is "insufficient data", never a figure; otherwise drift when the PR-AUC fell
    by more than `max_pr_auc_drop` (absolute) beyond the draw's noise: the upper end of its bootstrap
    interval (`pr_auc_confidence`, `pr_auc_resamples`) lies that far below the holdout figure. The
    positive rate is reported beside it, since PR-AUC also moves with the base rate.
    """
    from sklearn.metrics import average_precision_score  # only here: the rest of drift does not need it

    cfg = as_config(config)
    scores = np.asarray(scores, dtype=np.float64)
    labels = pd.to_numeric(pd.Series(labels)).to_numpy(dtype=np.float64, na_value=np.nan)
    horizon = maturity_horizon(as_of, label_maturity_days)
    window_start = horizon - pd.Timedelta(days=cfg.performance_window_days)
    matured = matured_mask(event_time, label_arrived_at, as_of, label_maturity_days)
    recent = (pd.to_datetime(pd.Series(event_time), utc=True) >= window_start).to_numpy()
    mask = matured & recent & ~np.isnan(labels) & ~np.isnan(scores)
    positives = int(labels[mask].sum())
    report = {
        "kind": "performance",
        "as_of": pd.Timestamp(as_of).isoformat(),
        "maturity_horizon": horizon.isoformat(),
        "window": {"start": window_start.isoformat(), "end": horizon.isoformat()},
        "rows": {
            "total": int(scores.size),
            "matured": int(mask.sum()),
            "not_matured": int((~matured).sum()),
            "older_than_window": int((matured & ~recent).sum()),
        },
        "positives": positives,
        "min_positives": cfg.min_positives,
        "positive_rate": positives / mask.sum() if mask.any() else None,
        "holdout_pr_auc": holdout_pr_auc,
        "max_pr_auc_drop": cfg.max_pr_auc_drop,
        "pr_auc": None,
        "drop": None,
    }
    if positives < cfg.min_positives or one_class(labels[mask]):
        return jsonable({**report, "verdict": INSUFFICIENT})
    pr_auc = float(average_precision_score(labels[mask], scores[mask]))
    interval = metric_interval(
        labels[mask], scores[mask], "pr_auc", cfg.pr_auc_resamples, cfg.pr_auc_confidence, cfg.seed
    )
    drop = holdout_pr_auc - pr_auc
    # Beyond the draw's noise: even the upper end of the interval lies more than max_pr_auc_drop below.
    verdict = DRIFT if holdout_pr_auc - interval.high > cfg.max_pr_auc_drop else NO_DRIFT
    found = {"pr_auc": pr_auc, "pr_auc_interval": [interval.low, interval.high], "drop": drop}
    return jsonable({**report, **found, "confidence": cfg.pr_auc_confidence, "verdict": verdict})
