"""Money: expected cost = missed positives' amount + review cost x alerts, the threshold that minimises it,
and the cost curves of the report."""

from __future__ import annotations

import numpy as np
import pandas as pd


def amounts_of(frame: pd.DataFrame, column: str | None) -> np.ndarray:
    """What missing each row costs: its `costs.amount_column`, or 1 each when the model names none (a
    missed positive is then the unit of cost, and `review_cost` is counted in it)."""
    return np.ones(len(frame)) if column is None else frame[column].to_numpy()


def cost_curve(y: np.ndarray, scores: np.ndarray, amounts: np.ndarray, review_cost: float) -> dict:
    """Expected cost at every threshold: missed fraud amount + review cost x alerts.

    A row is alerted when its score is at least the threshold. Returns arrays `threshold`, `alerts`,
    `missed_fraud_amount` and `cost`, starting with the threshold that alerts nothing.
    """
    y, scores, amounts = np.asarray(y), np.asarray(scores, dtype=float), np.asarray(amounts, dtype=float)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    group_ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    fraud_amount = np.where(y[order] == 1, amounts[order], 0.0)
    caught = np.cumsum(fraud_amount)[group_ends]
    total = fraud_amount.sum()
    threshold = np.r_[np.nextafter(ranked[0], np.inf), ranked[group_ends]]
    alerts = np.r_[0, group_ends + 1]
    missed = total - np.r_[0.0, caught]
    return {
        "threshold": threshold,
        "alerts": alerts,
        "missed_fraud_amount": missed,
        "cost": missed + review_cost * alerts,
    }


def choose_threshold(y: np.ndarray, scores: np.ndarray, amounts: np.ndarray, review_cost: float) -> float:
    """The threshold that minimises the expected cost on these rows (use the validation split)."""
    curve = cost_curve(y, scores, amounts, review_cost)
    return float(curve["threshold"][int(np.argmin(curve["cost"]))])


def expected_cost(
    y: np.ndarray, scores: np.ndarray, amounts: np.ndarray, threshold: float, review_cost: float
) -> dict[str, float]:
    """Missed fraud amount, alerts and their cost when alerting every row scoring `threshold` or more."""
    y, scores, amounts = np.asarray(y), np.asarray(scores), np.asarray(amounts, dtype=float)
    alerted = scores >= threshold
    missed = float(amounts[(y == 1) & ~alerted].sum())
    alerts = int(alerted.sum())
    return {
        "threshold": float(threshold),
        "alerts": alerts,
        "missed_fraud_amount": round(missed, 2),
        "review_cost": round(review_cost * alerts, 2),
        "total": round(missed + review_cost * alerts, 2),
    }


def cost_curve_rows(
    y: np.ndarray, scores: dict[str, np.ndarray], amounts: np.ndarray, review_cost: float, points: int = 120
) -> list[dict]:
    """Each model's expected cost when alerting its top-k rows, on one grid of k (geometric, since the
    minimum sits among the first few hundred alerts): one column per model, for `dvc plots` and the report.
    """
    n = len(y)
    grid = np.unique(np.r_[0, np.geomspace(1, n, points).astype(int)])
    rows = [{"alerts": int(k)} for k in grid]
    for model, model_scores in scores.items():
        curve = cost_curve(y, model_scores, amounts, review_cost)
        # with ties, k alerts may fall inside a tie group: take the last threshold alerting at most k
        at = np.searchsorted(curve["alerts"], grid, side="right") - 1
        for row, i in zip(rows, at, strict=True):
            row[model] = round(float(curve["missed_fraud_amount"][i] + review_cost * row["alerts"]), 2)
    return rows
