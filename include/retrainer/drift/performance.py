"""Concept drift from delayed labels: the model's PR-AUC on the rows whose labels had arrived by the
logical date, against its holdout figure; judged only once enough positive labels have matured."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT, DriftConfig, as_config
from retrainer.drift.metrics import jsonable


def _timestamps(values, as_of) -> tuple[pd.Series, pd.Timestamp]:
    """Arrival times and `as_of` comparable: a naive side is taken as UTC when the other has a zone."""
    arrived = pd.to_datetime(pd.Series(values), utc=False)
    as_of = pd.Timestamp(as_of)
    aware_arrivals = isinstance(arrived.dtype, pd.DatetimeTZDtype)
    if aware_arrivals and as_of.tzinfo is None:
        as_of = as_of.tz_localize("UTC")
    elif not aware_arrivals and as_of.tzinfo is not None:
        as_of = as_of.tz_convert("UTC").tz_localize(None)
    return arrived, as_of


def matured_mask(label_arrived_at, as_of) -> np.ndarray:
    """True for rows whose label had arrived at or before `as_of`; a missing arrival time never counts."""
    arrived, as_of = _timestamps(label_arrived_at, as_of)
    return (arrived.notna() & (arrived <= as_of)).to_numpy()


def performance_drift(
    scores: np.ndarray,
    labels: np.ndarray,
    label_arrived_at,
    as_of,
    holdout_pr_auc: float,
    config: DriftConfig | dict | None = None,
) -> dict:
    """PR-AUC (average precision) of `scores` against `labels` on the rows whose `label_arrived_at` is
    <= `as_of` (the run's logical date), compared with `holdout_pr_auc`.

    Rows whose label had not arrived are left out, never taken as negatives. With fewer than
    `min_positives` matured positives the verdict is "insufficient data"; otherwise drift when the PR-AUC
    fell by more than `max_pr_auc_drop` (absolute). The positive rate is reported beside it, since PR-AUC
    also moves with the base rate.
    """
    from sklearn.metrics import average_precision_score  # only here: the rest of drift does not need it

    cfg = as_config(config)
    scores = np.asarray(scores, dtype=np.float64)
    labels = pd.to_numeric(pd.Series(labels)).to_numpy(dtype=np.float64, na_value=np.nan)
    mask = matured_mask(label_arrived_at, as_of) & ~np.isnan(labels) & ~np.isnan(scores)
    positives = int(labels[mask].sum())
    report = {
        "kind": "performance",
        "as_of": pd.Timestamp(as_of).isoformat(),
        "rows": {"total": int(scores.size), "matured": int(mask.sum()), "not_arrived": int((~mask).sum())},
        "positives": positives,
        "min_positives": cfg.min_positives,
        "positive_rate": positives / mask.sum() if mask.any() else None,
        "holdout_pr_auc": holdout_pr_auc,
        "max_pr_auc_drop": cfg.max_pr_auc_drop,
        "pr_auc": None,
        "drop": None,
    }
    if positives < cfg.min_positives or positives == mask.sum():
        return jsonable({**report, "verdict": INSUFFICIENT})
    pr_auc = float(average_precision_score(labels[mask], scores[mask]))
    drop = holdout_pr_auc - pr_auc
    verdict = DRIFT if drop > cfg.max_pr_auc_drop else NO_DRIFT
    return jsonable({**report, "pr_auc": pr_auc, "drop": drop, "verdict": verdict})
