"""The `measure` stage of `dvc.yaml`: a run's own models (challenger, scikit-learn baseline, rule) on its
holdout, written as `dvc metrics` and `dvc plots`, and for a model that declares derived features the same
XGBoost on its raw columns alone beside it. The champion is not here: it lives in the registry, outside the
pipeline, and the evaluate stage (`evaluation.evaluate`) compares with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.core import artifacts, frames
from retrainer.core.artifacts import RAW_COLUMNS
from retrainer.core.calibration import IDENTITY, Calibration
from retrainer.core.feature_declarations import derived_feature_names
from retrainer.evaluation.costs import amounts_of, choose_threshold, cost_curve_rows, expected_cost
from retrainer.evaluation.metrics import (
    BASELINE,
    RULE,
    classification_metrics,
    pr_auc,
    pr_curve_rows,
    roc_auc,
    rule_scores,
)
from retrainer.evaluation.slices import slice_masks
from retrainer.features import matrix
from retrainer.registry.aliases import CHALLENGER
from retrainer.training.models import LinearBaseline, load_fitted, score_xgboost, train_xgboost
from retrainer.training.stages import _xy, write_json


def raw_scores(frame: pd.DataFrame, booster, baseline: LinearBaseline, params: dict[str, Any]) -> dict:
    """Scores of a run's challenger (an XGBoost booster, uncalibrated), baseline and rule on `frame`, by
    model name."""
    x = matrix.build_matrix(frame, params["features"])
    return {
        CHALLENGER: score_xgboost(booster, x),
        BASELINE: baseline.predict(x),
        RULE: rule_scores(frame, params["evaluate"]["rule"]),
    }


def calibrated(scores: dict, calibration: Calibration) -> dict:
    """`raw_scores` with the challenger's scores mapped by its `calibration` (the others as they are)."""
    return {**scores, CHALLENGER: calibration.apply(scores[CHALLENGER])}


def score_models(
    frame: pd.DataFrame,
    booster,
    baseline: LinearBaseline,
    params: dict[str, Any],
    calibration: Calibration = IDENTITY,
) -> dict:
    """Scores of a run's challenger (calibrated by `calibration`), baseline and rule on `frame`, by model
    name: what its thresholds are chosen on and its gates judge."""
    return calibrated(raw_scores(frame, booster, baseline, params), calibration)


def run_calibration(models_dir: Path) -> Calibration:
    """The calibration the `fit` stage saved in `models_dir` (the identity if it saved none)."""
    path = models_dir / artifacts.CALIBRATION_FILE
    return Calibration.from_json(path.read_text(), str(path)) if path.exists() else IDENTITY


def score_run(frame: pd.DataFrame, models_dir: Path, params: dict[str, Any]) -> dict:
    """`score_models` with the models (and calibration) that the `fit` stage saved in `models_dir`."""
    return score_models(frame, *load_fitted(models_dir), params, run_calibration(models_dir))


def raw_columns_comparison(
    prepared_dir: Path, holdout: pd.DataFrame, challenger: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any] | None:
    """The run's XGBoost fitted again, on the raw columns alone (`features.numeric` and
    `features.categorical`, without `features.derived`): same `train.xgboost` params, seed and train/valid
    splits, scored on the holdout. Informative, not a gate: how much the declared features add.

    `challenger` is the challenger's holdout metrics (`pr_auc`, `roc_auc` and the `features` its matrix
    held). Returns None for a model that declares no derived feature (nothing to compare, no extra fit),
    else {comparable, derived, features, columns, pr_auc, roc_auc, challenger_pr_auc, challenger_roc_auc,
    challenger_features, lift}: `features` counts the raw model's matrix columns (a column per one-hot
    level), `columns` names its raw columns, `lift` is the challenger's PR-AUC minus the raw columns'. A
    model whose every feature is derived has no raw-columns model: `comparable` is False, with the reason,
    and the metrics are None.
    """
    derived = derived_feature_names(params)
    if not derived:
        return None
    raw_features = {key: value for key, value in params["features"].items() if key != "derived"}
    raw_params = {**params, "features": raw_features}
    names = matrix.feature_names(raw_features)
    found: dict[str, Any] = {
        "comparable": bool(names),
        "derived": len(derived),
        "features": len(names),
        "columns": [*raw_features.get("numeric", []), *raw_features.get("categorical", {})],
        "challenger_pr_auc": challenger["pr_auc"],
        "challenger_roc_auc": challenger["roc_auc"],
        "challenger_features": challenger["features"],
        "pr_auc": None,
        "roc_auc": None,
        "lift": None,
    }
    if not names:
        found["reason"] = (
            "every feature of the model is derived (features.numeric and features.categorical are empty): "
            "there is no raw-columns model to compare with"
        )
        return found
    # From the Parquet splits a slice of rows at a time, as the fit stage reads them (never a whole frame).
    x_train, y_train = _xy(prepared_dir / "train.parquet", raw_params)
    x_valid, y_valid = _xy(prepared_dir / "valid.parquet", raw_params)
    train = params["train"]
    # Here, in this process, whatever `train.engine` is: the raw columns are a few, the matrix is small.
    booster = train_xgboost(x_train, y_train, x_valid, y_valid, names, train["xgboost"], train["seed"])
    del x_train, x_valid
    y = holdout[params["model"]["label"]].to_numpy()
    scores = score_xgboost(booster, matrix.build_matrix(holdout, raw_features))
    found["pr_auc"], found["roc_auc"] = pr_auc(y, scores), roc_auc(y, scores)
    if found["pr_auc"] is not None and challenger["pr_auc"] is not None:
        found["lift"] = challenger["pr_auc"] - found["pr_auc"]
    return found


def measure(
    prepared_dir: Path,
    models_dir: Path,
    metrics_path: Path,
    plots_path: Path,
    params: dict[str, Any],
    cost_plot_path: Path | None = None,
) -> dict:
    """The run's own evaluation, for `dvc metrics` and `dvc plots`: the challenger, the scikit-learn
    baseline and the rule on the holdout, each with its decision threshold chosen on the validation split
    to minimise expected cost, and the challenger's PR-AUC per slice. A model that declares derived
    features also gets `raw_columns` (`raw_columns_comparison`): the same XGBoost on its raw columns alone.

    Writes `metrics_path` (JSON), the precision-recall curves to `plots_path` and the cost curves to
    `cost_plot_path` (default: cost_curve.csv next to `plots_path`), one column per model.
    """
    label, amount = params["model"]["label"], params["costs"]["amount_column"]
    review_cost = params["costs"]["review_cost"]
    valid = frames.read_parquet(prepared_dir / "valid.parquet")
    if valid.empty:  # no validation split (split.valid_fraction: 0): thresholds are chosen on train
        valid = frames.read_parquet(prepared_dir / "train.parquet")
    holdout = frames.read_parquet(prepared_dir / "holdout.parquet")
    y, amounts = holdout[label].to_numpy(), amounts_of(holdout, amount)
    booster, baseline = load_fitted(models_dir)  # once, for both splits
    # The challenger's threshold is chosen on its calibrated valid scores, so it is on the scale it scores
    # on; the map is strictly increasing, so it alerts the rows a threshold on the raw scores would.
    calibration = run_calibration(models_dir)
    valid_scores = score_models(valid, booster, baseline, params, calibration)
    scores = score_models(holdout, booster, baseline, params, calibration)
    metrics: dict[str, Any] = {}
    for model, model_scores in scores.items():
        threshold = choose_threshold(
            valid[label], valid_scores[model], amounts_of(valid, amount), review_cost
        )
        cost = expected_cost(y, model_scores, amounts, threshold, review_cost)
        metrics[model] = classification_metrics(y, model_scores, params["evaluate"]["fpr_target"]) | {
            "decision_threshold": cost.pop("threshold"),
            "cost": cost,
        }
    challenger = scores[CHALLENGER]
    metrics["slices"] = {
        name: {
            "rows": int(mask.sum()),
            "positives": int(y[mask].sum()),
            "roc_auc": roc_auc(y[mask], challenger[mask]),
            "pr_auc": pr_auc(y[mask], challenger[mask]),
        }
        for name, mask in slice_masks(holdout, params["slices"]).items()
    }
    declared = {**metrics[CHALLENGER], "features": booster.num_features()}
    if (comparison := raw_columns_comparison(prepared_dir, holdout, declared, params)) is not None:
        metrics[RAW_COLUMNS] = comparison
    write_json(metrics_path, metrics)
    plots_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(pr_curve_rows(y, scores)).to_csv(plots_path, index=False)
    cost_plot_path = cost_plot_path or plots_path.with_name(Path(artifacts.COST_CURVE).name)
    pd.DataFrame(cost_curve_rows(y, scores, amounts, review_cost)).to_csv(cost_plot_path, index=False)
    return metrics
