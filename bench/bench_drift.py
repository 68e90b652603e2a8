"""Time the drift check (`retrainer.drift.data_drift`) on generated data against a plain scipy loop, one
`scipy.stats.ks_2samp` per column, in the same run; check both give the same per-feature verdicts.

    .venv/bin/python bench/bench_drift.py --rows 1000000 --features 30

The floor is the loop: `ks_2samp(reference[column], current[column])` for every column (categorical
columns as integer codes over the reference's categories, encoded before timing, so the loop pays for
nothing but KS). Its verdict per feature is an effect size too, since p-values are ~0 for any difference
at 10^6 rows: drift when the KS statistic D >= 0.15. For a normal location shift of d standard deviations
D = 2 Phi(d / 2) - 1, so 0.15 is a shift of ~0.38 sd, a little more sensitive than PSI 0.2 (~0.47 sd).
The timed check starts from the two raw frames: it profiles the reference (quantile edges, spreads,
category counts) inside the timing; `check_with_profile_seconds` is the per-run cost when the monitor
keeps the profile of the training window. Scenarios: no drift, and a 1 sd shift in k features (numeric
normal and lognormal, and a categorical one whose frequencies are reversed). Prints one JSON object.
`multivariate_*`: the joint test (`retrainer.drift.multivariate.multivariate_drift`, a classifier two-sample
test) of a day of a tenth of the reference's rows, its seconds (no floor: nothing to compare it to), AUC,
threshold and verdict.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

KS_THRESHOLD = 0.15
FLOOR_RATIO = 3.0


def generate(rows: int, features: int, seed: int, shifted: tuple[str, ...] = ()) -> pd.DataFrame:
    """`features` columns: one in ten categorical (6 to 12 levels, Zipf-like), the rest numeric from
    normal and lognormal laws; the `shifted` ones move by 1 sd (categorical: frequencies reversed)."""
    rng = np.random.default_rng(seed)
    categorical = max(1, features // 10)
    columns = {}
    for i in range(features - categorical):
        name, delta = f"num_{i:02d}", 1.0 if f"num_{i:02d}" in shifted else 0.0
        if i % 2:
            columns[name] = rng.lognormal(2.0 + 0.1 * i + delta, 0.8, rows)
        else:
            columns[name] = rng.normal(50.0 + i + 5.0 * delta, 5.0, rows)
    for j in range(categorical):
        name, levels = f"cat_{j}", 6 + 3 * (j % 3)
        p = 1.0 / np.arange(1, levels + 1)
        p = (p[::-1] if name in shifted else p) / p.sum()
        codes = rng.choice(levels, size=rows, p=p)
        columns[name] = pd.Series(np.asarray([f"{name}_{k}" for k in range(levels)])[codes], dtype="str")
    return pd.DataFrame(columns)


def _codes(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict, dict]:
    """Numeric columns as float arrays, categorical ones as codes over the reference's categories
    (unseen categories as -1): the loop's inputs, prepared outside its timing."""
    ref, cur = {}, {}
    for name in reference.columns:
        if pd.api.types.is_numeric_dtype(reference[name]):
            ref[name], cur[name] = reference[name].to_numpy(), current[name].to_numpy()
        else:
            codes, uniques = pd.factorize(reference[name])
            ref[name], cur[name] = codes, uniques.get_indexer(current[name])
    return ref, cur


def scipy_loop(reference: dict, current: dict) -> dict[str, float]:
    """The floor: the KS statistic of every column."""
    return {name: float(ks_2samp(reference[name], current[name]).statistic) for name in reference}


def _timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(rows: int = 1_000_000, features: int = 30, shifted: int = 3, repeat: int = 1, seed: int = 7) -> dict:
    """Run both scenarios, print and return the report: seconds, ratio (loop / check), verdicts."""
    from retrainer.drift import DRIFT, data_drift, profile_reference
    from retrainer.drift.multivariate import multivariate_drift

    reference = generate(rows, features, seed)
    profile = profile_reference(reference)
    names = list(reference.columns)
    chosen = tuple(names[:2] + names[-1:])[:shifted] if shifted else ()  # normal, lognormal, categorical
    scenarios = {"no_drift": (), f"shift_in_{len(chosen)}_features": chosen}
    report = {
        "rows": rows,
        "features": features,
        "categorical": sum(not pd.api.types.is_numeric_dtype(reference[n]) for n in names),
        "ks_threshold": KS_THRESHOLD,
        "floor_ratio": FLOOR_RATIO,
        "scenarios": {},
    }
    for index, (scenario, shift) in enumerate(scenarios.items()):
        current = generate(rows, features, seed + 1 + index, shift)
        check_seconds, result = _timed(partial(data_drift, reference, current), repeat)
        cached_seconds, _ = _timed(partial(data_drift, profile, current), repeat)
        loop_seconds, statistics = _timed(partial(scipy_loop, *_codes(reference, current)), repeat)
        ours = {f["feature"]: f["verdict"] == DRIFT for f in result["features"]}
        theirs = {name: d >= KS_THRESHOLD for name, d in statistics.items()}
        report["scenarios"][scenario] = {
            "shifted": list(shift),
            "check_seconds": round(check_seconds, 3),
            "check_with_profile_seconds": round(cached_seconds, 3),
            "scipy_loop_seconds": round(loop_seconds, 3),
            "ratio": round(loop_seconds / check_seconds, 2),
            "drifted_check": sorted(n for n, v in ours.items() if v),
            "drifted_scipy_loop": sorted(n for n, v in theirs.items() if v),
            "same_verdicts": ours == theirs,
            "verdicts_as_shifted": set(n for n, v in ours.items() if v) == set(shift),
        }
        day = current.iloc[: max(1, rows // 10)]  # a monitored day: a tenth of the reference's rows
        joint_seconds, joint = _timed(partial(multivariate_drift, reference, day), repeat)
        report["scenarios"][scenario].update(
            multivariate_current_rows=len(day),
            multivariate_seconds=round(joint_seconds, 3),
            multivariate_auc=round(joint["auc"], 4),
            multivariate_threshold=round(joint["threshold"], 4),
            multivariate_verdict=joint["verdict"],
        )
    parts = report["scenarios"].values()
    report["ratio"] = round(min(part["ratio"] for part in parts), 2)  # the worse scenario counts
    report["same_verdicts"] = all(part["same_verdicts"] for part in parts)
    report["meets_floor"] = report["ratio"] >= FLOOR_RATIO
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--shifted", type=int, default=3, help="features shifted in the drift scenario")
    parser.add_argument("--repeat", type=int, default=1, help="timings repeated (the fastest counts)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    outcome = main(args.rows, args.features, args.shifted, args.repeat, args.seed)
    raise SystemExit(0 if outcome["same_verdicts"] else 1)
