"""Slices: the holdout cut into groups the model must not fail on (params.yaml `slices`), and the table of
each model's metrics per slice."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core import expressions
from retrainer.core.bootstrap import Interval
from retrainer.core.errors import ConfigError
from retrainer.core.expressions import ExpressionError
from retrainer.evaluation.metrics import METRICS


def slice_masks(frame: pd.DataFrame, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """Boolean row masks of the slices configured in params.yaml `slices`, by slice name.

    `levels`: one slice per value of each column (`region=latam`); `bands`: one per interval between the
    edges of a numeric column (`50<=amount<200`); `expressions`: named true/false conditions in the grammar of
    `core.expressions` (`account_age_days < 30`).
    """
    masks: dict[str, np.ndarray] = {}
    for column in spec.get("levels", []):
        values = _column(frame, column)
        for level in sorted(pd.unique(values), key=str):
            masks[f"{column}={level}"] = np.asarray(values == level)
    for column, edges in (spec.get("bands") or {}).items():
        values = _column(frame, column).to_numpy(dtype=float)
        edges = sorted(float(e) for e in edges)
        bounds = [-math.inf, *edges, math.inf]
        for low, high in zip(bounds[:-1], bounds[1:], strict=True):
            if low == -math.inf:
                name = f"{column}<{high:g}"
            elif high == math.inf:
                name = f"{column}>={low:g}"
            else:
                name = f"{low:g}<={column}<{high:g}"
            masks[name] = (values >= low) & (values < high)
    for name, expression in (spec.get("expressions") or {}).items():
        try:
            mask = expressions.parse(expression).evaluate(frame)
        except ExpressionError as error:
            raise ExpressionError(f"slices.expressions.{name}: {error}") from error
        if mask.dtype != bool:
            raise ConfigError(f"slices.expressions.{name}: {expression!r} is not a true/false condition")
        masks[name] = mask
    return masks


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise ConfigError(f"slice column {column!r} is not in the holdout; columns: {sorted(frame.columns)}")
    return frame[column]


def slice_table(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    judged: dict[str, np.ndarray],
    intervals: dict[str, Interval],
    min_positives: int,
) -> list[dict]:
    """One row per slice: size, positives, each model's ROC-AUC and PR-AUC (`<model>_roc_auc`, ...), and
    for judged slices with a champion the difference challenger - champion of the slice metric with its
    interval."""
    rows = []
    for name, mask in masks.items():
        row: dict[str, Any] = {
            "slice": name,
            "rows": int(mask.sum()),
            "positives": int(y[mask].sum()),
            "min_positives": min_positives,
            "judged": name in judged,
        }
        for model, model_scores in scores.items():
            for metric, fn in METRICS.items():
                row[f"{model}_{metric}"] = fn(y[mask], model_scores[mask])
        interval = intervals.get(name)
        row |= {
            "delta": interval and interval.estimate,
            "delta_low": interval and interval.low,
            "delta_high": interval and interval.high,
            "confidence": interval and interval.confidence,
        }
        rows.append(row)
    return rows
