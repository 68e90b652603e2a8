"""The bodies of the DVC stages in `dvc.yaml` (prepare, train, evaluate). Each reads and writes files in the
DVC workspace it runs in, so `dvc repro` can hash its deps and outs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer import features
from retrainer.config import ConfigError
from retrainer.evaluate import classification_metrics, pr_curve_rows
from retrainer.models import LinearBaseline, load_xgboost, score_xgboost, train_xgboost

SPLITS = ("train", "valid", "holdout")
MODEL_FILE = "model.ubj"
BASELINE_FILE = "baseline.json"


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def prepare(batches_dir: Path, out_dir: Path, report_path: Path, params: dict[str, Any]) -> dict:
    """Validated batches -> point-in-time labelled rows -> train/valid/holdout Parquet files."""
    as_of = params.get("run", {}).get("as_of")
    if not as_of:
        raise ConfigError("run.as_of is not set: point-in-time labels need the run's logical date")
    files = sorted(Path(batches_dir).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no validated batches in {batches_dir}")
    # Batches of overlapping windows repeat transactions; the newest batch (last by key) wins.
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    frame = frame.drop_duplicates(subset=params["model"]["id_column"], keep="last")
    labelled, report = features.label_as_of(frame, as_of, params)
    parts = features.time_split(labelled, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part.to_parquet(out_dir / f"{name}.parquet", index=False)
    label = params["model"]["label"]
    report["batches"] = [f.name for f in files]
    report["splits"] = {
        name: {"rows": len(part), "frauds": int(part[label].sum())} for name, part in parts.items()
    }
    _write_json(report_path, report)
    return report


def _xy(path: Path, params: dict[str, Any]):
    frame = pd.read_parquet(path)
    return features.build_matrix(frame, params["features"]), frame[params["model"]["label"]].to_numpy()


def train(prepared_dir: Path, models_dir: Path, params: dict[str, Any]) -> None:
    """Fit the XGBoost challenger and the scikit-learn baseline; save both without pickle."""
    names = features.feature_names(params["features"])
    x_train, y_train = _xy(prepared_dir / "train.parquet", params)
    x_valid, y_valid = _xy(prepared_dir / "valid.parquet", params)
    seed = params["train"]["seed"]
    booster = train_xgboost(x_train, y_train, x_valid, y_valid, names, params["train"]["xgboost"], seed)
    baseline = LinearBaseline.fit(x_train, y_train, names, params["train"]["baseline"], seed)
    models_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(models_dir / MODEL_FILE)
    (models_dir / BASELINE_FILE).write_text(baseline.to_json())


def evaluate(
    prepared_dir: Path, models_dir: Path, metrics_path: Path, plots_path: Path, params: dict[str, Any]
) -> dict:
    """Score the holdout with both models; write metrics JSON and precision-recall plot data."""
    x, y = _xy(prepared_dir / "holdout.parquet", params)
    fpr_target = params["evaluate"]["fpr_target"]
    challenger_scores = score_xgboost(load_xgboost((models_dir / MODEL_FILE).read_bytes()), x)
    baseline_scores = LinearBaseline.from_json((models_dir / BASELINE_FILE).read_text()).predict(x)
    metrics = {
        "challenger": classification_metrics(y, challenger_scores, fpr_target),
        "baseline": classification_metrics(y, baseline_scores, fpr_target),
    }
    _write_json(metrics_path, metrics)
    rows = pr_curve_rows(y, challenger_scores, "challenger") + pr_curve_rows(y, baseline_scores, "baseline")
    plots_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(plots_path, index=False)
    return metrics
