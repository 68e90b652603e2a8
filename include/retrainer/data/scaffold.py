"""Scaffold a suite: profile a clean batch and write the expectations a reviewer starts from for every column
the model's params name that its suite has no expectation about (or, for a new suite, for every column).

What is observed becomes the expectation: types, no nulls, the values of a category, a 0/1 label and its
rate, a unique id, an event time inside the run's window. Numeric ranges are observed ranges widened by half
their width, as warnings: a person decides the real bounds in the review of the suite's diff. A counter
(values that only grow along the batch: a numeric id, a time counter) gets no range, which every later week
would break, but an expectation that it keeps growing; a numeric id column gets no range either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.core.feature_declarations import DerivedFeature, derived_features
from retrainer.core.models import named_columns, suite_columns
from retrainer.data.learnt import is_counter

MAX_LEVELS = 50  # a text column with more distinct values is an identifier, not a category
INTEGER_TYPES = ["int64", "int32", "int16", "int8"]
FLOAT_TYPES = ["float64", "float32"]


def _expectation(kind: str, column: str | None, note: str, severity: str = "critical", **kwargs) -> dict:
    kwargs = {"column": column, **kwargs} if column else kwargs
    return {"type": kind, "kwargs": kwargs, "severity": severity, "meta": {"notes": f"{note} (scaffolded)"}}


def _roles(params: dict[str, Any]) -> dict[str, str]:
    """What each named column is to the model: id, event_time, label, label_time, feature or slice."""
    model = params["model"]
    roles = {model[k]: k for k in ("id_column", "event_time", "label", "label_time") if model.get(k)}
    for key, columns in named_columns(params).items():
        for column in columns:
            roles.setdefault(column, "feature" if key.startswith("features") else "column")
    return roles


def column_expectations(frame: pd.DataFrame, column: str, role: str) -> list[dict]:
    """The expectations a clean batch supports for one column in its role."""
    values = frame[column]
    found = [_expectation("expect_column_to_exist", column, f"{column} is part of the contract.")]
    if values.notna().all():
        found.append(_expectation("expect_column_values_to_not_be_null", column, f"{column} is required."))
    if pd.api.types.is_datetime64_any_dtype(values):
        found.append(
            _expectation("expect_column_values_to_be_of_type", column, "A timestamp.", type_="Timestamp")
        )
        if role == "event_time":
            window = {"min_value": {"$PARAMETER": "window_start"}, "max_value": {"$PARAMETER": "window_end"}}
            note = "Every row happened inside the run's window."
            found.append(
                _expectation("expect_column_values_to_be_between", column, note, **window, strict_max=True)
            )
        return found
    if pd.api.types.is_bool_dtype(values):
        found.append(_expectation("expect_column_values_to_be_of_type", column, "A boolean.", type_="bool"))
    elif pd.api.types.is_numeric_dtype(values):
        types = INTEGER_TYPES if pd.api.types.is_integer_dtype(values) else FLOAT_TYPES
        found.append(
            _expectation("expect_column_values_to_be_in_type_list", column, "A number.", type_list=types)
        )
        if role == "label":
            rate = float(values.mean())
            note = "A 0/1 label, its rate within 4x of the profiled batch's."
            found.append(_expectation("expect_column_values_to_be_in_set", column, note, value_set=[0, 1]))
            found.append(
                _expectation(
                    "expect_column_mean_to_be_between",
                    column,
                    note,
                    min_value=rate / 4,
                    max_value=min(1, rate * 4),
                )
            )
        elif role != "id_column" and is_counter(values):
            # An id or a time counter only grows: a range from this week would warn on every later week
            note = f"{column} only grows along the batch (a counter): no range is expected, only that."
            found.append(_expectation("expect_column_values_to_be_increasing", column, note, "warning"))
        elif set(values.dropna().unique().tolist()) <= {0, 1}:
            found.append(
                _expectation("expect_column_values_to_be_in_set", column, "A 0/1 flag.", value_set=[0, 1])
            )
        elif role != "id_column":
            low, high = float(values.min()), float(values.max())
            pad = (high - low) / 2
            floor = max(0.0, low - pad) if low >= 0 else low - pad  # a count or a distance stays >= 0
            bounds = {"min_value": round(floor, 6), "max_value": round(high + pad, 6)}
            note = f"Observed {low:g} .. {high:g}; widened for review."
            found.append(
                _expectation("expect_column_values_to_be_between", column, note, "warning", **bounds)
            )
    else:
        found.append(_expectation("expect_column_values_to_be_of_type", column, "Text.", type_="str"))
        levels = sorted(values.dropna().unique().tolist())
        if role != "id_column" and len(levels) <= MAX_LEVELS:
            found.append(
                _expectation("expect_column_values_to_be_in_set", column, "Known values.", value_set=levels)
            )
    if role == "id_column":
        found.append(_expectation("expect_column_values_to_be_unique", column, "One row per id."))
    elif role == "feature":
        note = f"{column} takes more than one value in a batch; a single value means a default was filled in."
        found.append(
            _expectation("expect_column_unique_value_count_to_be_between", column, note, min_value=2)
        )
    return found


def scaffold_suite(suite_path: Path, frame: pd.DataFrame, params: dict[str, Any]) -> dict:
    """Add to the suite at `suite_path` (created if missing) the expectations of every column the params
    name that it lacks; returns the columns added and the suite written."""
    if suite_path.exists():
        suite = json.loads(suite_path.read_text())
        todo = [c for c in _roles(params) if c not in suite_columns(suite)]
    else:
        suite = {"name": suite_path.stem, "meta": {"notes": "Scaffolded from a clean batch: review it."}}
        suite["expectations"] = [
            _expectation(
                "expect_table_row_count_to_be_between",
                None,
                "A batch with no rows (or far fewer than the recent ones) is a failed delivery.",
                min_value={"$PARAMETER": "min_rows"},
            ),
            _expectation(
                "expect_table_columns_to_match_set",
                None,
                "No unexpected columns: a new column needs a contract change first.",
                column_set=list(frame.columns),
                exact_match=True,
            ),
        ]
        todo = list(frame.columns)
    if missing := [c for c in todo if c not in frame.columns]:
        raise ValueError(f"columns {missing} are named in the params but absent from the profiled batch")
    roles = _roles(params)
    for column in todo:
        suite["expectations"] += column_expectations(frame, column, roles.get(column, "column"))
    for expectation in suite["expectations"]:  # a new column joins the exact column set
        if expectation["type"] == "expect_table_columns_to_match_set":
            known = expectation["kwargs"]["column_set"]
            known += [c for c in todo if c not in known]
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    suite_path.write_text(json.dumps(suite, indent=2) + "\n")
    return {"suite": str(suite_path), "columns_added": todo, "rows_profiled": len(frame)}


def derived_expectations(frame: pd.DataFrame, feature: DerivedFeature) -> list[dict]:
    """The expectations of one derived column: what its declaration guarantees, critical (it exists, no
    missing value unless `nullable`, a whole number where `integer`, inside its declared bounds), and what
    the profiled week shows, as warnings for review (its observed range widened by half its width, its mean
    within 2x of the observed one (4x for a label aggregate), and for a nullable column at least half the
    share of values it had)."""
    column, values = feature.name, frame[feature.name]
    note = f"Declared by {feature.key}"
    found = [_expectation("expect_column_to_exist", column, f"{note}: computed by the featurize stage.")]
    if feature.nullable:
        filled = float(values.notna().mean()) if len(values) else 0.0
        if filled > 0:
            found.append(
                _expectation(
                    "expect_column_values_to_not_be_null",
                    column,
                    f"Missing by design for some rows ({1 - filled:.1%} in the profiled week); far more "
                    "missing means the history or a source column went missing.",
                    "warning",
                    mostly=round(filled / 2, 3),
                )
            )
    else:
        found.append(_expectation("expect_column_values_to_not_be_null", column, f"{note}: never missing."))
    types = INTEGER_TYPES if feature.integer else FLOAT_TYPES
    what = "A whole number" if feature.integer else "A number"
    found.append(_expectation("expect_column_values_to_be_in_type_list", column, f"{what}.", type_list=types))
    if feature.low is not None or feature.high is not None:
        bounds = {"min_value": feature.low, "max_value": feature.high}
        found.append(
            _expectation(
                "expect_column_values_to_be_between",
                column,
                f"{note}: its values never leave [{_shown(feature.low)}, {_shown(feature.high)}].",
                **bounds,
            )
        )
    observed = values.dropna()
    if observed.empty:
        return found
    low, high, mean = float(observed.min()), float(observed.max()), float(observed.mean())
    pad = (high - low) / 2
    floor = low - pad if low < 0 else max(0.0, low - pad)  # a count, an amount or a time stays >= 0
    floor = floor if feature.low is None else max(float(feature.low), floor)
    ceiling = high + pad if feature.high is None else min(float(feature.high), high + pad)
    if (floor, ceiling) != (feature.low, feature.high):  # else the declared bounds say it all (an hour)
        found.append(
            _expectation(
                "expect_column_values_to_be_between",
                column,
                f"Observed {low:g} .. {high:g}; widened for review.",
                "warning",
                min_value=round(floor, 6),
                max_value=round(ceiling, 6),
            )
        )
    # Within 2x of the observed mean (4x for label aggregates: frauds are rare, their weekly mean noisy).
    factor = 4 if feature.kind == "label" else 2
    spread = (mean / factor, mean * factor) if mean > 0 else (mean - pad, mean + pad)
    found.append(
        _expectation(
            "expect_column_mean_to_be_between",
            column,
            f"Observed mean {mean:g}; a week far from it means the data or the declaration changed.",
            "warning",
            min_value=round(spread[0], 6),
            max_value=round(spread[1], 6),
        )
    )
    return found


def _shown(bound: float | None) -> str:
    return "unbounded" if bound is None else f"{bound:g}"


def scaffold_features_suite(suite_path: Path, frame: pd.DataFrame, params: dict[str, Any]) -> dict:
    """Add to the features suite at `suite_path` (created if missing) the expectations of every derived
    column the params declare that it has no expectation about the values of; `frame` holds the profiled
    week's derived features (`features.events.features_of_rows`). Returns the columns added and the suite."""
    if suite_path.exists():
        suite = json.loads(suite_path.read_text())
    else:
        suite = {
            "name": suite_path.stem,
            "meta": {
                "notes": "The contract of the derived features (features.derived), judged on the featurize "
                "stage's output before training. Scaffolded from a clean week: review it."
            },
            "expectations": [],
        }
    todo = [f for f in derived_features(params) if f.name not in suite_columns(suite)]
    if missing := [f.name for f in todo if f.name not in frame.columns]:
        raise ValueError(f"derived features {missing} are declared but absent from the profiled features")
    for feature in todo:
        suite["expectations"] += derived_expectations(frame, feature)
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    suite_path.write_text(json.dumps(suite, indent=2) + "\n")
    return {"suite": str(suite_path), "columns_added": [f.name for f in todo], "rows_profiled": len(frame)}
