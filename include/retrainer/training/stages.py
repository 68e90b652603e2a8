"""The bodies of the training stages of `dvc.yaml`: `prepare` and `fit` (the `measure` stage is
`evaluation.holdout.measure`). Each reads and writes files in the DVC workspace it runs in, so that
`dvc repro` can hash its deps and outs; `retrainer stage <name>` calls them."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from retrainer.core import artifacts, calibration, expressions, frames
from retrainer.core.errors import ConfigError
from retrainer.core.feature_declarations import derived_feature_names
from retrainer.features import matrix
from retrainer.training import imbalance
from retrainer.training.engines import engine_of, fit_xgboost_dask
from retrainer.training.models import LinearBaseline, fit_xgboost, score_xgboost, tuned_params
from retrainer.training.selection import choose, unweighted_report
from retrainer.training.weights import IMPORTANCE, sample_weights
from retrainer.training.window import rows_in_window, window_bounds_of

log = logging.getLogger(__name__)


def write_json(path: Path, payload: Any) -> None:
    """A stage's JSON output (metrics, reports), stable for DVC: sorted keys, a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def prepare(batches_dir: Path, out_dir: Path, report_path: Path, params: dict[str, Any]) -> dict:
    """The training window's rows -> point-in-time labelled rows -> train/valid/holdout Parquet files."""
    as_of = params.get("run", {}).get("as_of")
    if not as_of:
        raise ConfigError("run.as_of is not set: point-in-time labels need the run's logical date")
    files = sorted(Path(batches_dir).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no validated batches in {batches_dir}")
    # Rows by event time within the training window, each id once (train assembles the window so already;
    # holding it here too keeps the stage right on any inputs).
    start, end = window_bounds_of(params, as_of)
    frame = rows_in_window(read_window_rows(files, start, end, params), start, end, params)
    frame = with_derived_features(frame, params)
    labelled, report = matrix.label_as_of(frame, as_of, params)
    rows = len(frame)
    del frame  # only the labelled rows are split and written
    parts = matrix.time_split(labelled, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part.to_parquet(out_dir / f"{name}.parquet", index=False)
    label = params["model"]["label"]
    report["batches"] = [f.name for f in files]
    report["window"] = {"start": start.isoformat(), "end": end.isoformat(), "rows": rows}
    report["splits"] = {
        name: {"rows": len(part), "frauds": int(part[label].sum())} for name, part in parts.items()
    }
    write_json(report_path, report)
    return report


def with_derived_features(frame: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """The window's rows with the derived features the `featurize` stage computed for them, joined on the
    id (one row each on both sides, or FeatureError); the frame as it is for a model without any."""
    names = derived_feature_names(params)
    if not names:
        return frame
    path = Path(artifacts.FEATURES)
    if not path.exists():
        raise matrix.FeatureError(f"{path} is missing: the featurize stage computes the derived features")
    id_column = params["model"]["id_column"]
    derived = frames.to_frame(pq.read_table(path, columns=[id_column, *names]))
    clash = [c for c in names if c in frame.columns]
    if clash:
        raise matrix.FeatureError(f"derived features {clash} are already columns of the batches")
    try:
        joined = frame.merge(derived, on=id_column, how="left", validate="one_to_one", sort=False)
    except pd.errors.MergeError as error:
        raise matrix.FeatureError(f"the derived features do not match the window's rows: {error}") from None
    if len(derived) != len(frame):
        raise matrix.FeatureError(
            f"{len(derived)} rows of derived features for {len(frame)} window rows: rerun featurize"
        )
    return joined


def columns_needed(params: dict[str, Any], available: list[str]) -> list[str]:
    """The columns of `available` that training and evaluation read: ids, times and label, the features,
    the slices, the costs' amount, and every column named in a slice expression or the rule."""
    model, slices = params["model"], params.get("slices", {})
    named = {
        *(model.get(k) for k in ("id_column", "event_time", "label", "label_time")),  # label_time: optional
        *params["features"]["numeric"],
        *params["features"]["categorical"],
        *slices.get("levels", []),
        *slices.get("bands", {}),
        params.get("costs", {}).get("amount_column"),
    }
    rule = params.get("evaluate", {}).get("rule")
    for text in [*slices.get("expressions", {}).values(), *([rule] if rule else [])]:
        named |= set(expressions.parse(text).columns)
    return [column for column in available if column in named]


def read_window_rows(
    files: list[Path], start: datetime, end: datetime, params: dict[str, Any]
) -> pd.DataFrame:
    """The rows of the Parquet `files` whose event time is in [start, end), with `columns_needed` only:
    the filter and the column choice are applied by Arrow as it reads (row groups outside the window are
    skipped), so the other rows and columns are never held."""
    dataset = ds.dataset([str(f) for f in files], format="parquet")
    event_time = params["model"]["event_time"]
    kind = dataset.schema.field(event_time).type
    inside = (ds.field(event_time) >= pa.scalar(start, type=kind)) & (
        ds.field(event_time) < pa.scalar(end, type=kind)
    )
    columns = columns_needed(params, dataset.schema.names)
    return frames.to_frame(dataset.to_table(columns=columns, filter=inside))


_XY_ROWS = 1 << 18  # rows read at a time into the fit's matrices


def _xy(path: Path, params: dict[str, Any]):
    """The feature matrix and labels of a prepared split, filled a slice of rows at a time from only the
    columns they are made of: the matrix is the one full-size thing held, never the split as a frame."""
    feature_params, label = params["features"], params["model"]["label"]
    split = pq.ParquetFile(path)
    x = np.empty((split.metadata.num_rows, len(matrix.feature_names(feature_params))), dtype=np.float32)
    labels, at = [], 0
    columns = [*matrix.input_columns(feature_params), label]
    for rows in split.iter_batches(batch_size=_XY_ROWS, columns=columns):
        frame = frames.to_frame(pa.Table.from_batches([rows]))
        x[at : at + len(frame)] = matrix.build_matrix(frame, feature_params)
        labels.append(frame[label].to_numpy())
        at += len(frame)
    y = (
        np.concatenate(labels)
        if labels
        else np.empty(0, dtype=split.schema_arrow.field(label).type.to_pandas_dtype())
    )
    return x, y


def fit(
    prepared_dir: Path,
    models_dir: Path,
    params: dict[str, Any],
    adaptation_dir: Path | None = None,
    report_path: Path | None = None,
    tuning_path: Path | None = None,
) -> dict:
    """Fit the XGBoost challenger (here, or on a Dask cluster: `train.engine`) and the scikit-learn
    baseline; save both without pickle; return the fit report (also written to `report_path` if given).

    Every run fits the unweighted challenger exactly as before (a scheduled run's bytes do not change).
    With the adapt stage's weights in `adaptation_dir` (a drift-triggered run, `training.adapt`: checked
    by sha256 and by the rows' ids) a second challenger is fitted with them as sample weights, both
    early-stopped on the unweighted valid PR-AUC (a weighted stopping metric, on few effective rows, stopped
    a weighted fit at 9 trees), and `training.selection.choose` keeps the weighted one only if its
    importance-weighted valid PR-AUC beats the unweighted one's by `adaptation.min_gain_se` standard
    errors; the baseline is fitted with the weights only then.

    With the tune stage's report at `tuning_path` (`training.tuning`) the challenger is fitted with its
    chosen values over `train.xgboost`; `train.imbalance` (`training.imbalance`) sets scale_pos_weight and
    down-samples the train split's negatives. Neither set: the fit of before, byte for byte."""
    tuning = json.loads(tuning_path.read_text()) if tuning_path is not None and tuning_path.exists() else None
    params = tuned_params(params, tuning)
    names = matrix.feature_names(params["features"])
    engine = engine_of(params)
    seed = params["train"]["seed"]
    w_train = sample_weights(adaptation_dir, prepared_dir, "train", params)
    report = unweighted_report("no weights (the adapt stage's report: unweighted): the unweighted fit")
    if engine == "dask":  # the cluster reads the splits itself; the baseline is fitted here
        x_train, y_train = _xy(prepared_dir / "train.parquet", params)
        *_, extra, balance = imbalance.apply(x_train, y_train, None, params)  # no down-sampling on dask
        booster, trees = fit_xgboost_dask(prepared_dir, tuned_params(params, {"chosen": extra}))
        calibrated = calibrate(booster, *_xy(prepared_dir / "valid.parquet", params), params)
    else:
        x_train, y_train = _xy(prepared_dir / "train.parquet", params)
        x_valid, y_valid = _xy(prepared_dir / "valid.parquet", params)
        x_fit, y_fit, w_fit, extra, balance = imbalance.apply(x_train, y_train, None, params)
        xgboost = {**params["train"]["xgboost"], **extra}
        booster, trees = fit_xgboost(x_fit, y_fit, x_valid, y_valid, names, xgboost, seed, w_fit)
        del x_fit, y_fit, w_fit
        if w_train is not None:
            x_fit, y_fit, w_fit, *_ = imbalance.apply(x_train, y_train, w_train, params)
            weighted, weighted_trees = fit_xgboost(
                x_fit, y_fit, x_valid, y_valid, names, xgboost, seed, w_fit
            )
            del x_fit, y_fit, w_fit
            importance = sample_weights(adaptation_dir, prepared_dir, "valid", params, IMPORTANCE)
            settings = params["adaptation"]
            booster, report = choose(booster, weighted, x_valid, y_valid, importance, settings, seed)
            trees = weighted_trees if report["weighted"] else trees
        calibrated = calibrate(booster, x_valid, y_valid, params)
        del x_valid, y_valid
    # How many trees the saved challenger keeps and why (early stopping cuts it at the best round): in the
    # fit report, the version's lineage and the train task's log.
    report = {
        **report,
        "challenger_trees": trees,
        "calibration": calibrated.summary(),
        "imbalance": balance,
        "tuning": _tuning_summary(tuning),
    }
    log.info("challenger: %s", trees["why"])
    w_baseline = w_train if report["weighted"] else None
    baseline = LinearBaseline.fit(x_train, y_train, names, params["train"]["baseline"], seed, w_baseline)
    models_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(models_dir / artifacts.MODEL_FILE)
    (models_dir / artifacts.BASELINE_FILE).write_text(baseline.to_json())
    (models_dir / artifacts.CALIBRATION_FILE).write_text(calibrated.to_json())
    if report_path is not None:
        write_json(report_path, report)
    return report


def calibrate(
    booster, x_valid: np.ndarray, y_valid: np.ndarray, params: dict[str, Any]
) -> calibration.Calibration:
    """The kept challenger's score calibration (`train.calibration`; absent: off), fitted on its raw scores
    of the valid split (`x_valid`, `y_valid`): the rows it was early-stopped on, never the holdout the gates
    judge. The identity, with the reason, where the split cannot calibrate (`calibration.fit`)."""
    method = params["train"].get("calibration", "off")
    raw = score_xgboost(booster, x_valid) if len(y_valid) else np.empty(0, dtype=np.float32)
    return calibration.fit(raw, y_valid, method)


def _tuning_summary(tuning: dict | None) -> dict:
    """What the fit took from the tune stage's report: the chosen values and why (its trials: the report)."""
    if tuning is None:
        return {"enabled": False, "chosen": {}, "why": "no tuning report: train.xgboost as written"}
    return {key: tuning.get(key) for key in ("enabled", "chosen", "why", "seed")}
