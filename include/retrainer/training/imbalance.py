"""The rare positive class, handled by configuration (`train.imbalance`): XGBoost's `scale_pos_weight` (a
number, or `auto`: negatives / positives of the train split), and negative down-sampling of the train
split (a seeded share of its negative rows, each weighing 1 / rate, so the weighted loss is the loss of
every row in expectation and the scores stay unbiased probabilities). The valid and holdout splits are
never touched: early stopping, thresholds and the gates read the rows as they are.

In: the train split's matrix, labels and any sample weights (a drift-triggered run's), the params.
Out: the rows and weights to fit, the booster parameters to add, and the report the fit stage, the run's
manifest and the version's lineage carry."""

from __future__ import annotations

from typing import Any

import numpy as np

AUTO = "auto"


def settings_of(params: dict[str, Any]) -> dict[str, Any]:
    """`train.imbalance` (both keys null when a params file predates it)."""
    found = params["train"].get("imbalance") or {}
    return {key: found.get(key) for key in ("scale_pos_weight", "negative_sample_rate")}


def scale_pos_weight(setting: float | str | None, y_train: np.ndarray) -> float | None:
    """XGBoost's scale_pos_weight for `setting`: the number itself, negatives / positives of `y_train` for
    `auto` (1.0 when it holds no positive: nothing to scale), None for null."""
    if setting is None:
        return None
    if setting != AUTO:
        return float(setting)
    positives = int(np.count_nonzero(y_train))
    return float((len(y_train) - positives) / positives) if positives else 1.0


def down_sample(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, rate: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Every positive row of (`x`, `y`) and a seeded share `rate` of the negative ones, in their order,
    with their weights (`weights`, or 1) times 1 / rate for a kept negative; and the counts for the report.
    The same rows, seed and rate keep the same rows."""
    drawn = np.random.default_rng(seed).random(len(y))
    negative = y == 0
    keep = ~negative | (drawn < rate)
    base = np.ones(len(y), dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
    kept_weights = np.where(negative, base / np.float32(rate), base)[keep].astype(np.float32)
    report = {
        "negative_sample_rate": rate,
        "negative_weight": 1.0 / rate,
        "rows_before": int(len(y)),
        "rows_after": int(keep.sum()),
        "negatives_before": int(negative.sum()),
        "negatives_after": int((negative & keep).sum()),
        "positives": int((~negative).sum()),
    }
    return x[keep], y[keep], kept_weights, report


def apply(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any], dict[str, Any]]:
    """The train split as the challenger is to be fitted on it under `train.imbalance`: (x, y, weights,
    booster parameters to add, report). With both keys null: the inputs as they are, no parameter, and a
    report saying so (the fit of before, byte for byte)."""
    settings = settings_of(params)
    report: dict[str, Any] = {**settings}
    extra: dict[str, Any] = {}
    if (spw := scale_pos_weight(settings["scale_pos_weight"], y)) is not None:
        extra["scale_pos_weight"] = spw
        report["scale_pos_weight_used"] = spw  # `auto` resolved on this run's train split
    if (rate := settings["negative_sample_rate"]) is not None:
        x, y, weights, sampled = down_sample(x, y, weights, float(rate), int(params["train"]["seed"]))
        report["sample"] = sampled
    report["applied"] = bool(extra or rate is not None)
    if not report["applied"]:
        report["why"] = "train.imbalance: nothing set, every train row at weight 1"
    return x, y, weights, extra, report
