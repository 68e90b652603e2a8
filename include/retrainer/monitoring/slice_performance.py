"""Concept drift per slice: a drift confined to one region or channel moves the overall PR-AUC little
(the slice is a small share of the rows), but its own ranking breaks. Each slice of the model's `slices`
(region=latam, channel=wallet, ...) is judged on the matured rows of the drift check's window (the same
rows as the overall performance check: `core.maturity`) against the champion's own holdout on that slice.

The metric is ROC-AUC: a slice's base rate moves with a concept drift, which moves PR-AUC by itself. A
slice with fewer than `slice_min_positives` positives or one class on either side is not judged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retrainer.core.maturity import matured_mask, maturity_horizon, one_class
from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT, as_config
from retrainer.evaluation.metrics import roc_auc
from retrainer.evaluation.slices import slice_masks


def _judgeable(labels: np.ndarray, minimum: int) -> bool:
    return int(labels.sum()) >= minimum and not one_class(labels)


def slice_performance(
    holdout: pd.DataFrame,
    holdout_scores: np.ndarray,
    labelled: pd.DataFrame,
    scores: np.ndarray,
    as_of,
    params: dict[str, Any],
) -> dict:
    """The `slices` part of a drift report: per slice, the champion's ROC-AUC on its holdout and on the
    matured rows of `labelled` (the last `performance_window_days` before the maturity horizon), and a
    verdict; `drift` when any judged slice fell by more than `max_slice_roc_auc_drop`.

    `holdout`, `labelled`: frames with the slice columns and the label (`labelled` also its event time and
    `label_arrived_at`); `holdout_scores`, `scores`: the champion's scores of their rows; `params`: the
    model's params (model, data.label_maturity_days, slices, monitoring.drift)."""
    cfg = as_config(params["monitoring"]["drift"])
    cols, days = params["model"], params["data"]["label_maturity_days"]
    horizon = maturity_horizon(as_of, days)
    start = horizon - pd.Timedelta(days=cfg.performance_window_days)
    events = pd.to_datetime(labelled[cols["event_time"]], utc=True)
    mask = matured_mask(events, labelled["label_arrived_at"], as_of, days) & (events >= start).to_numpy()
    rows, row_scores = labelled.loc[mask], np.asarray(scores)[mask]
    y_holdout = holdout[cols["label"]].to_numpy()
    y = rows[cols["label"]].to_numpy()
    reference = slice_masks(holdout, params["slices"])
    current = slice_masks(rows, params["slices"]) if len(rows) else {}
    found = []
    for name, in_holdout in reference.items():
        in_current = current.get(name, np.zeros(len(rows), dtype=bool))
        entry: dict[str, Any] = {
            "slice": name,
            "rows": int(in_current.sum()),
            "positives": int(y[in_current].sum()),
            "holdout_positives": int(y_holdout[in_holdout].sum()),
            "holdout_roc_auc": None,
            "roc_auc": None,
            "drop": None,
            "verdict": INSUFFICIENT,
        }
        minimum = cfg.slice_min_positives
        if _judgeable(y_holdout[in_holdout], minimum) and _judgeable(y[in_current], minimum):
            entry["holdout_roc_auc"] = roc_auc(y_holdout[in_holdout], holdout_scores[in_holdout])
            entry["roc_auc"] = roc_auc(y[in_current], row_scores[in_current])
            entry["drop"] = entry["holdout_roc_auc"] - entry["roc_auc"]
            entry["verdict"] = DRIFT if entry["drop"] > cfg.max_slice_roc_auc_drop else NO_DRIFT
        found.append(entry)
    judged = [e for e in found if e["verdict"] != INSUFFICIENT]
    drifted = sorted((e for e in judged if e["verdict"] == DRIFT), key=lambda e: -e["drop"])
    verdict = DRIFT if drifted else (NO_DRIFT if judged else INSUFFICIENT)
    return {
        "kind": "slices",
        "verdict": verdict,
        "metric": "roc_auc",
        "window": {"start": start.isoformat(), "end": horizon.isoformat()},
        "rows": int(len(rows)),
        "min_positives": cfg.slice_min_positives,
        "max_roc_auc_drop": cfg.max_slice_roc_auc_drop,
        "drifted": [e["slice"] for e in drifted],
        "slices": found,
    }
