"""The bodies of the DVC stages in `dvc.yaml` (prepare, train, evaluate). Each reads and writes files in the
DVC workspace it runs in, so `dvc repro` can hash its deps and outs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer import features
from retrainer.config import ConfigError
from retrainer.evaluate import (
    BASELINE,
    CHALLENGER,
    CHAMPION,
    RULE,
    Assessment,
    assess,
    choose_threshold,
    classification_metrics,
    cost_curve_rows,
    expected_cost,
    pr_auc,
    pr_curve_rows,
    roc_auc,
    rule_scores,
    slice_masks,
)
from retrainer.models import LinearBaseline, load_xgboost, score_xgboost, train_xgboost

SPLITS = ("train", "valid", "holdout")
MODEL_FILE = "model.ubj"
BASELINE_FILE = "baseline.json"
COST_CURVE_FILE = "cost_curve.csv"


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


def rule(frame: pd.DataFrame, params: dict[str, Any]):
    """The rule baseline's scores (params.yaml `evaluate.rule`)."""
    return rule_scores(frame, params["evaluate"]["rule"])


def score_models(frame: pd.DataFrame, booster, baseline: LinearBaseline, params: dict[str, Any]) -> dict:
    """Scores of a run's challenger (an XGBoost booster), baseline and rule on `frame`, by model name."""
    x = features.build_matrix(frame, params["features"])
    return {
        CHALLENGER: score_xgboost(booster, x),
        BASELINE: baseline.predict(x),
        RULE: rule(frame, params),
    }


def load_models(models_dir: Path) -> tuple[Any, LinearBaseline]:
    """The challenger booster and the baseline that `train` saved in `models_dir`."""
    booster = load_xgboost((models_dir / MODEL_FILE).read_bytes())
    return booster, LinearBaseline.from_json((models_dir / BASELINE_FILE).read_text())


def score_run(frame: pd.DataFrame, models_dir: Path, params: dict[str, Any]) -> dict:
    """`score_models` with the models saved in `models_dir` by `train`."""
    return score_models(frame, *load_models(models_dir), params)


def assess_challenger(
    holdout: pd.DataFrame,
    scores: dict[str, Any],
    run_metrics: dict,
    champion: tuple[Any, float] | None,
    params: dict[str, Any],
) -> Assessment:
    """The gates for a run: `scores` from `score_models` on its holdout, its thresholds from the metrics
    this stage wrote (`run_metrics`), and the champion's holdout scores and own threshold, if any."""
    scores = dict(scores)
    thresholds = {name: run_metrics[name]["decision_threshold"] for name in scores}
    if champion is not None:
        scores[CHAMPION], thresholds[CHAMPION] = champion
    return assess(
        holdout[params["model"]["label"]].to_numpy(),
        holdout[params["costs"]["amount_column"]].to_numpy(),
        scores,
        thresholds,
        slice_masks(holdout, params["slices"]),
        params,
    )


def evaluate(
    prepared_dir: Path,
    models_dir: Path,
    metrics_path: Path,
    plots_path: Path,
    params: dict[str, Any],
    cost_plot_path: Path | None = None,
) -> dict:
    """The run's own evaluation, for `dvc metrics` and `dvc plots`: the challenger, the scikit-learn
    baseline and the rule on the holdout, each with its decision threshold chosen on the validation split
    to minimise expected cost, and the challenger's PR-AUC per slice.

    Writes `metrics_path` (JSON), the precision-recall curves to `plots_path` and the cost curves to
    `cost_plot_path` (default: cost_curve.csv next to `plots_path`), one column per model. The champion is
    not here: it lives in the registry, outside the pipeline, and `tasks.evaluate` compares with it.
    """
    label, amount = params["model"]["label"], params["costs"]["amount_column"]
    review_cost = params["costs"]["review_cost"]
    valid = pd.read_parquet(prepared_dir / "valid.parquet")
    holdout = pd.read_parquet(prepared_dir / "holdout.parquet")
    y, amounts = holdout[label].to_numpy(), holdout[amount].to_numpy()
    booster, baseline = load_models(models_dir)  # once, for both splits
    valid_scores = score_models(valid, booster, baseline, params)
    scores = score_models(holdout, booster, baseline, params)
    metrics: dict[str, Any] = {}
    for model, model_scores in scores.items():
        threshold = choose_threshold(valid[label], valid_scores[model], valid[amount], review_cost)
        cost = expected_cost(y, model_scores, amounts, threshold, review_cost)
        metrics[model] = classification_metrics(y, model_scores, params["evaluate"]["fpr_target"]) | {
            "decision_threshold": cost.pop("threshold"),
            "cost": cost,
        }
    challenger = scores[CHALLENGER]
    metrics["slices"] = {
        name: {
            "rows": int(mask.sum()),
            "frauds": int(y[mask].sum()),
            "roc_auc": roc_auc(y[mask], challenger[mask]),
            "pr_auc": pr_auc(y[mask], challenger[mask]),
        }
        for name, mask in slice_masks(holdout, params["slices"]).items()
    }
    _write_json(metrics_path, metrics)
    plots_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(pr_curve_rows(y, scores)).to_csv(plots_path, index=False)
    cost_plot_path = cost_plot_path or plots_path.with_name(COST_CURVE_FILE)
    pd.DataFrame(cost_curve_rows(y, scores, amounts, review_cost)).to_csv(cost_plot_path, index=False)
    return metrics
