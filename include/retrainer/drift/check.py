"""One drift check per monitor run: data, prediction and performance drift together, persistence over
the previous runs, and the JSON-able report (with the summary the next run takes as history)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT, DriftConfig, as_config
from retrainer.drift.data import ReferenceProfile, data_drift
from retrainer.drift.metrics import jsonable
from retrainer.drift.multivariate import multivariate_drift
from retrainer.drift.performance import performance_drift
from retrainer.drift.persistence import confirm
from retrainer.drift.prediction import prediction_drift

CONFIRMED = "drift confirmed"
PENDING = "drift, not yet persistent"


def drift_check(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    config: DriftConfig | dict | None = None,
    *,
    features: list[str] | None = None,
    categorical: list[str] | None = None,
    holdout_scores: np.ndarray | None = None,
    current_scores: np.ndarray | None = None,
    decision_threshold: float | None = None,
    labelled: pd.DataFrame | None = None,
    holdout_pr_auc: float | None = None,
    as_of: str | pd.Timestamp | None = None,
    label_columns: tuple[str, str, str] = ("score", "is_fraud", "label_available_at"),
    history: Sequence[dict] = (),
    run: str | None = None,
) -> dict:
    """The whole check of one monitor run, as a JSON-able dict.

    - `data`: `data_drift(reference, current)` over `features` (default: the reference's columns).
    - `prediction`: when `holdout_scores`, `current_scores` and `decision_threshold` are given.
    - `multivariate`: the classifier two-sample test of the rows (drift/multivariate.py), when
      `multivariate_enabled` and `reference` is a frame (a ReferenceProfile keeps no rows);
    - `performance`: when `labelled` (rows with score, label and label arrival time, named by
      `label_columns`), `holdout_pr_auc` and `as_of` (the logical date) are given.
    - `drifted`: any part drifted in this run; `confirmed`: drift persisted for `consecutive_runs` runs,
      counting `history` (previous runs' `summary` dicts, oldest first).
    `verdict` is "drift confirmed", "drift, not yet persistent", "no drift" or "insufficient data";
    `root_cause` lists the drifted features, highest contribution first.
    """
    cfg = as_config(config)
    parts = {"data": data_drift(reference, current, cfg, features=features, categorical=categorical)}
    if cfg.multivariate_enabled and isinstance(reference, pd.DataFrame):  # a profile holds no rows
        parts["multivariate"] = multivariate_drift(
            reference, current, cfg, features=features, categorical=categorical
        )
    if holdout_scores is not None and current_scores is not None and decision_threshold is not None:
        parts["prediction"] = prediction_drift(holdout_scores, current_scores, decision_threshold, cfg)
    if labelled is not None and holdout_pr_auc is not None and as_of is not None:
        score, label, arrived = label_columns
        parts["performance"] = performance_drift(
            labelled[score], labelled[label], labelled[arrived], as_of, holdout_pr_auc, cfg
        )
    kinds = [kind for kind, part in parts.items() if part["verdict"] == DRIFT]
    root_cause = list(parts["data"]["root_cause"])
    # the joint test's features follow the per-feature ones (only when it drifted: else it names none)
    root_cause += [f for f in parts.get("multivariate", {}).get("root_cause", []) if f not in root_cause]
    summary = {
        "run": run,
        "as_of": None if as_of is None else pd.Timestamp(as_of).isoformat(),
        "drifted": bool(kinds),
        "kinds": kinds,
        "features": root_cause,
    }
    persistence = confirm(history, summary, cfg.consecutive_runs)
    if persistence["confirmed"]:
        verdict = CONFIRMED
    elif kinds:
        verdict = PENDING
    elif all(part["verdict"] == INSUFFICIENT for part in parts.values()):
        verdict = INSUFFICIENT
    else:
        verdict = NO_DRIFT
    return jsonable(
        {
            "run": run,
            "as_of": summary["as_of"],
            "verdict": verdict,
            "drifted": bool(kinds),
            "confirmed": persistence["confirmed"],
            "kinds": kinds,
            "root_cause": root_cause,
            "persistence": persistence,
            **parts,
            "summary": summary,
            "config": cfg.to_dict(),
        }
    )
