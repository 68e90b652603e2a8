"""Metrics of scores against labels: PR-AUC, ROC-AUC, recall at an FPR budget, curves, and the rule
baseline's scores. Pure functions over arrays, unit-tested on synthetic scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from retrainer.core import expressions
from retrainer.core.expressions import ExpressionError

HEADLINE = "pr_auc"  # the metric of the floors, the baselines and the non-regression gate
# Slices are judged by ROC-AUC: it does not depend on a slice's fraud rate, so one floor fits every slice,
# and it reads every (fraud, legitimate) pair, so it stays steady where a slice has few frauds (PR-AUC of a
# slice with 20 frauds moves by +-0.1 between two equally good models, ROC-AUC by +-0.005).
SLICE_METRIC = "roc_auc"
BASELINE, RULE = "baseline", "rule"  # the models a challenger must beat besides the champion


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, fpr_target: float) -> dict[str, float]:
    """PR-AUC (average precision), ROC-AUC and recall at a false-positive-rate budget."""
    y_true = np.asarray(y_true)
    fpr, tpr, _ = roc_curve(y_true, scores)
    return {
        "pr_auc": float(average_precision_score(y_true, scores)),
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "recall_at_fpr": float(tpr[fpr <= fpr_target].max()),
        "rows": int(len(y_true)),
        "positives": int(y_true.sum()),
    }


def pr_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision, or None when there is no positive to rank (it is undefined then)."""
    y_true = np.asarray(y_true)
    if y_true.sum() == 0:
        return None
    return float(average_precision_score(y_true, scores))


def pr_curve_rows(y_true: np.ndarray, scores: dict[str, np.ndarray], points: int = 101) -> list[dict]:
    """Interpolated precision (the best precision at this recall or more) of each model on one recall
    grid: one row per recall level, one column per model, so `dvc plots` draws a line per model."""
    grid = np.linspace(0.0, 1.0, points)
    rows = [{"recall": round(float(r), 4)} for r in grid]
    for model, model_scores in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, model_scores)
        # recall falls along the arrays; the envelope max(precision at recall >= r) is a running maximum
        envelope = np.maximum.accumulate(precision)
        at = np.searchsorted(-recall, -grid, side="right") - 1  # last point with recall >= r
        for row, i in zip(rows, at, strict=True):
            row[model] = round(float(envelope[max(i, 0)]), 5)
    return rows


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC, or None when the rows hold only one class (it is undefined then)."""
    y_true = np.asarray(y_true)
    if y_true.sum() in (0, len(y_true)):
        return None
    return float(roc_auc_score(y_true, scores))


METRICS = {"pr_auc": pr_auc, "roc_auc": roc_auc}


def rule_scores(frame: pd.DataFrame, expression: str) -> np.ndarray:
    """The rule baseline: an expression over the columns (params.yaml `evaluate.rule`, in the grammar of
    `core.expressions`), higher is riskier: one float score per row of `frame`. It is what an analyst would
    write without a model; the model must beat it. Raises ExpressionError (a ConfigError) naming the key."""
    try:
        values = expressions.parse(expression).evaluate(frame)
    except ExpressionError as error:
        raise ExpressionError(f"evaluate.rule: {error}") from error
    return np.asarray(values, dtype=float)
