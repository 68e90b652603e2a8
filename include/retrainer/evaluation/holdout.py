"""The `measure` stage of `dvc.yaml`: a run's own models (challenger, scikit-learn baseline, rule) on its
holdout, written as `dvc metrics` and `dvc plots`. The champion is not here: it lives in the registry,
outside the pipeline, and the evaluate stage (`evaluation.evaluate`) compares with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.core import artifacts, frames
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
from retrainer.registry.aliases import CHALLENGER
from retrainer.training import features
from retrainer.training.models import LinearBaseline, load_models, score_xgboost
from retrainer.training.stages import write_json


def score_models(frame: pd.DataFrame, booster, baseline: LinearBaseline, params: dict[str, Any]) -> dict:
    """Scores of a run's challenger (an XGBoost booster), baseline and rule on `frame`, by model name."""
    x = features.build_matrix(frame, params["features"])
    return {
        CHALLENGER: score_xgboost(booster, x),
        BASELINE: baseline.predict(x),
        RULE: rule_scores(frame, params["evaluate"]["rule"]),
    }


def score_run(frame: pd.DataFrame, models_dir: Path, params: dict[str, Any]) -> dict:
    """`score_models` with the models that the `fit` stage saved in `models_dir`."""
    return score_models(frame, *load_models(models_dir), params)


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
    to minimise expected cost, and the challenger's PR-AUC per slice.

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
    booster, baseline = load_models(models_dir)  # once, for both splits
    valid_scores = score_models(valid, booster, baseline, params)
    scores = score_models(holdout, booster, baseline, params)
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
    write_json(metrics_path, metrics)
    plots_path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(pr_curve_rows(y, scores)).to_csv(plots_path, index=False)
    cost_plot_path = cost_plot_path or plots_path.with_name(Path(artifacts.COST_CURVE).name)
    pd.DataFrame(cost_curve_rows(y, scores, amounts, review_cost)).to_csv(cost_plot_path, index=False)
    return metrics
