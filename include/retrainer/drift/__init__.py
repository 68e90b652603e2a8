"""Drift detection for the monitor: pure functions over data frames and arrays (numpy, scipy, pandas; no
Airflow; of retrainer only the matured-label rule `core.maturity` and the bootstrap of `evaluation`) that
decide data, prediction and concept drift and report why.

    report = drift_check(reference, current, {"psi_threshold": 0.2}, history=previous_summaries)
    html = render_html(report)
"""

from retrainer.drift.check import CONFIRMED, PENDING, drift_check
from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT, DriftConfig
from retrainer.drift.data import ReferenceProfile, data_drift, profile_reference
from retrainer.drift.domain import importance_weights
from retrainer.drift.html import render_html
from retrainer.drift.multivariate import multivariate_drift
from retrainer.drift.performance import matured_mask, performance_drift
from retrainer.drift.persistence import confirm
from retrainer.drift.prediction import alert_rate, prediction_drift

__all__ = [
    "CONFIRMED",
    "DRIFT",
    "INSUFFICIENT",
    "NO_DRIFT",
    "PENDING",
    "DriftConfig",
    "ReferenceProfile",
    "alert_rate",
    "confirm",
    "data_drift",
    "drift_check",
    "importance_weights",
    "matured_mask",
    "multivariate_drift",
    "performance_drift",
    "prediction_drift",
    "profile_reference",
    "render_html",
]
