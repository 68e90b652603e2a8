"""Time the hyper-parameter search (`train.tuning`, the `tune` stage) against one fit of the challenger on
the same prepared splits, measured in the same run: the floor is `training.models.fit_xgboost` with
`train.xgboost` as written (the fit stage's challenger, without the baseline). Prints one JSON object:
the search's wall time per trial as a ratio to that fit, pruned trials, and the valid and holdout PR-AUC
of the values as written and of the chosen ones; seconds for context only.

    .venv/bin/python bench/bench_tuning.py --rows-per-day 2000 --trials 20
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    parser.add_argument("--timeout-seconds", type=float, default=3600.0)
    parser.add_argument("--repeat", type=int, default=2, help="floor repetitions (the fastest counts)")
    parser.add_argument("--model", default="fraud-xgb")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = _run(args, Path(tmp))
    print(json.dumps(report, indent=2))
    return report


def _prepared(args: argparse.Namespace, root: Path, params: dict) -> Path:
    """The model's training window of generated days, through the prepare stage."""
    import pandas as pd

    from retrainer.synthetic.generator import GeneratorConfig, generate_day
    from retrainer.training import stages

    batches = root / "batches"
    batches.mkdir(parents=True)
    days = params["data"]["training_window_days"]
    first = (datetime.fromisoformat(params["run"]["as_of"]) - timedelta(days=days)).date()
    config = GeneratorConfig(rows_per_day=args.rows_per_day)
    frame = pd.concat([generate_day(first + timedelta(days=n), 7, config) for n in range(days)])
    frame.to_parquet(batches / "window.parquet", index=False)
    stages.prepare(batches, root / "prepared", root / "prepare.json", params)
    return root / "prepared"


def _run(args: argparse.Namespace, root: Path) -> dict:
    from sklearn.metrics import average_precision_score

    from retrainer.core.models import load_model
    from retrainer.core.settings import Settings
    from retrainer.features import matrix
    from retrainer.training import stages, tuning
    from retrainer.training.models import fit_xgboost

    params = copy.deepcopy(load_model(Settings.from_env().project_dir, args.model))
    params["run"] = {"as_of": "2026-11-16T00:00:00+00:00", "trigger": None}
    prepared = _prepared(args, root, params)
    x_train, y_train = stages._xy(prepared / "train.parquet", params)
    x_valid, y_valid = stages._xy(prepared / "valid.parquet", params)
    x_holdout, y_holdout = stages._xy(prepared / "holdout.parquet", params)
    names, seed = matrix.feature_names(params["features"]), params["train"]["seed"]

    def fit(block: dict):
        started = time.perf_counter()
        booster, trees = fit_xgboost(x_train, y_train, x_valid, y_valid, names, block, seed)
        return time.perf_counter() - started, booster, trees

    written = params["train"]["xgboost"]
    runs = [fit(written) for _ in range(args.repeat)]
    floor, untuned, untuned_trees = min(runs, key=lambda run: run[0])
    params["train"]["tuning"] = {
        **params["train"]["tuning"],
        "enabled": True,
        "trials": args.trials,
        "folds": args.folds,
        "pruner": args.pruner,
        "timeout_seconds": args.timeout_seconds,
    }
    started = time.perf_counter()
    report = tuning.tune(prepared, root / "tuning.json", params)
    searched = time.perf_counter() - started
    _, tuned, tuned_trees = fit({**written, **report["chosen"]})

    def pr_auc(booster, x, y) -> float:
        return round(float(average_precision_score(y, booster.inplace_predict(x))), 4)

    per_trial = searched / max(report["trials_run"], 1)
    return {
        "rows": {"train": len(y_train), "valid": len(y_valid), "holdout": len(y_holdout)},
        "positives": {
            "train": int(y_train.sum()),
            "valid": int(y_valid.sum()),
            "holdout": int(y_holdout.sum()),
        },
        "floor_seconds": round(floor, 3),
        "floor_trees": untuned_trees["trees"],
        "tune_seconds": round(searched, 3),
        "trials_run": report["trials_run"],
        "trials_pruned": report["trials_pruned"],
        "stopped_by": report["stopped_by"],
        "folds": args.folds,
        "ratio_to_floor": round(searched / floor, 2),
        "ratio_per_trial": round(per_trial / floor, 2),
        "chosen": report["chosen"],
        "valid_pr_auc": {
            "as_written": pr_auc(untuned, x_valid, y_valid),
            "tuned": pr_auc(tuned, x_valid, y_valid),
        },
        "holdout_pr_auc": {
            "as_written": pr_auc(untuned, x_holdout, y_holdout),
            "tuned": pr_auc(tuned, x_holdout, y_holdout),
        },
        "tuned_trees": tuned_trees["trees"],
    }


if __name__ == "__main__":
    main()
