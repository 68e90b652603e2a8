"""From validated batches to model inputs: point-in-time labels, a time-based split, a feature matrix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core.clock import as_utc
from retrainer.core.feature_declarations import derived_feature_names
from retrainer.core.maturity import matured_mask, maturity_horizon


class FeatureError(ValueError):
    """The data cannot be turned into the configured features."""


def label_arrival(frame: pd.DataFrame, model: dict[str, Any]) -> pd.Series:
    """When each row's label arrived: the `model.label_time` column, or the event time plus the model's
    fixed `model.label_delay_days` when the source records no arrival time."""
    if model.get("label_time"):
        return frame[model["label_time"]]
    return frame[model["event_time"]] + pd.Timedelta(days=model["label_delay_days"])


def label_as_of(
    frame: pd.DataFrame, as_of: datetime | str, params: dict[str, Any]
) -> tuple[pd.DataFrame, dict]:
    """The rows whose label is final at `as_of`, and counts of what was left out and why.

    A row is kept only if its event is older than the label maturity horizon (its chargeback window has
    closed) and its label had arrived by `as_of`. Younger rows are left out, never counted as legitimate:
    most of their positives have not been reported yet.
    """
    cols = params["model"]
    as_of = as_utc(as_of)
    days = params["data"]["label_maturity_days"]
    horizon = maturity_horizon(as_of, days)
    # The one rule of matured labels (core.maturity), shared with the drift check and the canary guard.
    complete = matured_mask(frame[cols["event_time"]], label_arrival(frame, cols), as_of, days)
    old_enough = (frame[cols["event_time"]] < horizon).to_numpy()
    # A mask keeps the frame's order: rows_in_window's (event time, then id), which the split relies on.
    kept = frame.loc[complete]
    report = {
        "as_of": as_of.isoformat(),
        "maturity_horizon": horizon.isoformat(),
        "rows_in": len(frame),
        "rows_labelled": len(kept),
        "rows_not_matured": int((~old_enough).sum()),
        "rows_label_pending": int((old_enough & ~complete).sum()),
        "positives_labelled": int(kept[cols["label"]].sum()),
    }
    return kept.reset_index(drop=True), report


def time_split(frame: pd.DataFrame, params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """train | valid | holdout in event-time order (the frame is sorted by `label_as_of`). With
    `split.valid_fraction: 0` the valid split is empty: no early stopping, thresholds chosen on train."""
    split = params["split"]
    n = len(frame)
    n_holdout = int(round(n * split["holdout_fraction"]))
    n_valid = int(round(n * split["valid_fraction"]))
    n_train = n - n_valid - n_holdout
    if min(n_train, n_holdout) <= 0 or (split["valid_fraction"] > 0 and n_valid <= 0):
        raise FeatureError(f"{n} labelled rows are too few to split with {split}")
    parts = {
        "train": frame.iloc[:n_train],
        "valid": frame.iloc[n_train : n_train + n_valid],
        "holdout": frame.iloc[n_train + n_valid :],
    }
    label = params["model"]["label"]
    for name, part in parts.items():
        if part[label].nunique() < 2 and not (name == "valid" and part.empty):
            raise FeatureError(
                f"the {name} split has only one label value ({part[label].iloc[0]}): widen the window"
            )
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def numeric_inputs(feature_params: dict[str, Any]) -> list[str]:
    """The columns that enter the matrix as numbers: `features.numeric`, then the derived features
    (`features.derived`, computed by retrainer.features; a missing value is NaN, which XGBoost handles)."""
    return [*feature_params["numeric"], *derived_feature_names({"features": feature_params})]


def input_columns(feature_params: dict[str, Any]) -> list[str]:
    """Every column the matrix is built from: the numeric inputs, then the categorical columns."""
    return [*numeric_inputs(feature_params), *feature_params["categorical"]]


def feature_names(feature_params: dict[str, Any]) -> list[str]:
    names = numeric_inputs(feature_params)
    for column, levels in feature_params["categorical"].items():
        names.extend(f"{column}={level}" for level in levels)
    return names


def build_matrix(frame: pd.DataFrame, feature_params: dict[str, Any]) -> np.ndarray:
    """A float32 matrix whose columns follow `feature_names(feature_params)`."""
    missing = [c for c in input_columns(feature_params) if c not in frame.columns]
    if missing:
        raise FeatureError(f"columns missing for the features: {missing}")
    # Filled a column at a time: the matrix is the only copy of the data held, never a block and a stack.
    numeric = numeric_inputs(feature_params)
    matrix = np.empty((len(frame), len(feature_names(feature_params))), dtype=np.float32)
    for i, column in enumerate(numeric):
        matrix[:, i] = frame[column].to_numpy(dtype=np.float32, na_value=np.nan)
    i = len(numeric)
    for column, levels in feature_params["categorical"].items():
        values = frame[column].to_numpy()
        for level in levels:
            matrix[:, i] = values == level
            i += 1
    return matrix
