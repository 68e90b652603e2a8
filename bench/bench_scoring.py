"""Batch scoring throughput in rows per second per core: the champion alone, champion + shadow challenger,
and a canary at 25 %, each as a ratio against a floor measured in the same run on the same rows: XGBoost's
`inplace_predict` of one model on the already-built feature matrix (the least scoring can do). Prints one
JSON object; ratios (1.0 = the floor's time; champion + shadow runs two models, so ~2x is ideal) compare
between machines, rows/s/core give the scale.

    .venv/bin/python bench/bench_scoring.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date


def _fastest(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _model(params: dict, seed: int, rounds: int, rows: int):
    """An XGBoost model with the configured hyper-parameters (fixed rounds), trained on generated rows."""
    import xgboost as xgb

    from retrainer.features.matrix import build_matrix, feature_names
    from retrainer.synthetic.generator import GeneratorConfig, generate_day

    frame = generate_day(date(2026, 9, 1), seed, GeneratorConfig(rows_per_day=rows, fraud_rate=0.02))
    settings = {
        k: v
        for k, v in params["train"]["xgboost"].items()
        if k not in ("n_estimators", "early_stopping_rounds", "n_jobs")
    }
    data = xgb.DMatrix(
        build_matrix(frame, params["features"]),
        label=frame["is_fraud"],
        feature_names=feature_names(params["features"]),
    )
    return xgb.train({**settings, "objective": "binary:logistic", "seed": seed}, data, num_boost_round=rounds)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200, help="trees per model")
    parser.add_argument("--train-rows", type=int, default=20_000, help="rows each model is trained on")
    parser.add_argument(
        "--repeat", type=int, default=3, help="repetitions of each timing (the fastest counts)"
    )
    args = parser.parse_args(argv)

    from retrainer.core.models import load_model
    from retrainer.core.settings import Settings
    from retrainer.features.matrix import build_matrix
    from retrainer.scoring.batch import score_frame
    from retrainer.scoring.models import Scorer
    from retrainer.synthetic.generator import GeneratorConfig, generate_day

    params = load_model(Settings.from_env().project_dir, "fraud-xgb")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    champion = Scorer(1, _model(params, 1, args.rounds, args.train_rows), 0.1, params["features"])
    challenger = Scorer(2, _model(params, 2, args.rounds, args.train_rows), 0.1, params["features"])
    for scorer in (champion, challenger):
        scorer.booster.set_param({"nthread": cores})
    frame = generate_day(date(2026, 11, 1), 7, GeneratorConfig(rows_per_day=args.rows))
    matrix = build_matrix(frame, params["features"])

    floor = _fastest(lambda: champion.booster.inplace_predict(matrix), args.repeat)
    timings = {
        "champion": _fastest(lambda: score_frame(frame, champion), args.repeat),
        "champion+shadow": _fastest(lambda: score_frame(frame, champion, challenger), args.repeat),
        "canary 25%": _fastest(
            lambda: score_frame(frame, champion, challenger, canary_share=25, salt="bench"), args.repeat
        ),
    }
    per_core = lambda seconds: round(args.rows / seconds / cores)  # noqa: E731
    report = {
        "rows": args.rows,
        "cores": cores,
        "trees_per_model": args.rounds,
        "floor": {"what": "inplace_predict, one model, matrix built", "seconds": round(floor, 3),
                  "rows_per_second_per_core": per_core(floor)},
        "rows_per_second_per_core": {name: per_core(seconds) for name, seconds in timings.items()},
        "seconds": {name: round(seconds, 3) for name, seconds in timings.items()},
        "ratio_to_floor": {name: round(seconds / floor, 2) for name, seconds in timings.items()},
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
