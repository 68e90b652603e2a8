"""Time the monitor's performance estimation (`retrainer.monitoring.estimation.estimate`, CBPE with Monte
Carlo label draws) per 1M scored rows, against sklearn's `average_precision_score` on the same rows with
their labels (what grading the day costs once its labels are in), in the same run.

    .venv/bin/python bench/bench_estimation.py --rows 1000000 --samples 200

The rows are calibrated (the scores are the true fraud probabilities, rounded to float32 as XGBoost gives
them, ~1.5 % fraud). Timed: the estimate alone (PR-AUC, recall and cost with their intervals from
`--samples` draws), and the monitor's whole step for one scored day (`monitoring.estimates.estimate_days`:
reading the scores file and the day's amounts from local storage, the estimate, the history rewritten).
Prints one JSON object: seconds, seconds per 1M rows, ratio to the floor, and whether the realised PR-AUC
falls inside the estimate's interval.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

DAY = date(2026, 11, 20)
MODEL, THRESHOLD = "fraud-xgb", 0.2


def generate(rows: int, seed: int) -> pd.DataFrame:
    """Calibrated scored rows: score = P(fraud), the label drawn from it, an amount per row."""
    rng = np.random.default_rng(seed)
    score = (1 / (1 + np.exp(-(2.2 * rng.normal(size=rows) - 6.3)))).astype(np.float32)
    return pd.DataFrame(
        {
            "transaction_id": np.char.add("tx-", np.arange(rows).astype(str)),
            "score": score,
            "is_fraud": (rng.random(rows) < score).astype(np.int8),
            "amount": np.round(rng.lognormal(3.5, 0.8, rows), 2),
        }
    )


def _timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _monitor_step(frame: pd.DataFrame, samples: int, root: Path):
    """A storage with the day's scores file and source partition, a registered champion, and the call
    the monitor makes for one judged day (returned, ready to time)."""
    from retrainer.core import layout
    from retrainer.core.models import load_model
    from retrainer.monitoring import days
    from retrainer.monitoring.estimates import estimate_days
    from retrainer.registry.store import Registry
    from retrainer.sources.partitions import partition_key
    from retrainer.storage import open_storage

    project = Path(__file__).resolve().parents[1]
    params = load_model(project, MODEL)
    params["monitoring"]["estimation"]["samples"] = samples
    source, storage = open_storage(root / "source"), open_storage(root / "storage")
    registry = Registry(storage, MODEL)
    record, _ = registry.register(
        {"model.ubj": b"bench"},
        {"params": params, "decision": {"threshold": THRESHOLD}, "data_hash": "bench", "metrics": {}},
        "bench",
        actor="bench",
    )
    event = pd.Timestamp(DAY, tz="UTC") + pd.to_timedelta(np.arange(len(frame)) % 86_400, unit="s")
    rows = frame[["transaction_id", "amount", "is_fraud"]].assign(event_ts=event, label_available_at=event)
    source.put_bytes(partition_key(DAY), rows.to_parquet(index=False))
    scores = pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"],
            "score": frame["score"],
            "champion_version": np.int32(record["version"]),
            "champion_score": frame["score"],
        }
    )
    storage.put_bytes(layout.scores_file_key(MODEL, DAY.isoformat()), scores.to_parquet(index=False))
    judged = days.judged_days(datetime(2026, 11, 21, 6, tzinfo=UTC), 1, "UTC")
    return lambda: estimate_days(storage, source, registry, params, judged)


def main(rows: int = 1_000_000, samples: int = 200, repeat: int = 1, seed: int = 7) -> dict:
    """Time the floor, the estimate and the monitor's step; print and return the report."""
    from retrainer.monitoring.estimation import estimate

    frame = generate(rows, seed)
    scores, labels = frame["score"].to_numpy(), frame["is_fraud"].to_numpy()
    amounts = frame["amount"].to_numpy()
    floor_seconds, realised = _timed(lambda: average_precision_score(labels, scores), repeat)
    run = lambda: estimate(scores, THRESHOLD, amounts, 5.0, samples, 0.95, seed)  # noqa: E731
    estimate_seconds, found = _timed(run, repeat)
    with tempfile.TemporaryDirectory() as root:
        step_seconds, part = _timed(_monitor_step(frame, samples, Path(root)), repeat)
    per_million = 1_000_000 / rows
    pr_auc = found["pr_auc"]
    report = {
        "rows": rows,
        "samples": samples,
        "expected_positives": round(found["expected_positives"], 1),
        "floor_seconds": round(floor_seconds, 3),
        "estimate_seconds": round(estimate_seconds, 3),
        "estimate_seconds_per_1m_rows": round(estimate_seconds * per_million, 3),
        "estimate_ms_per_sample_per_1m_rows": round(1000 * estimate_seconds * per_million / samples, 2),
        "monitor_step_seconds": round(step_seconds, 3),
        "monitor_step_seconds_per_1m_rows": round(step_seconds * per_million, 3),
        "ratio": round(estimate_seconds / floor_seconds, 2),
        "monitor_step_ratio": round(step_seconds / floor_seconds, 2),
        "pr_auc": {
            "estimate": round(pr_auc["estimate"], 4),
            "low": round(pr_auc["low"], 4),
            "high": round(pr_auc["high"], 4),
            "realised": round(realised, 4),
        },  # fmt: skip
        "realised_inside_interval": bool(pr_auc["low"] <= realised <= pr_auc["high"]),
        "monitor_step_verdict": part["verdict"],
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200, help="Monte Carlo label draws")
    parser.add_argument("--repeat", type=int, default=1, help="timings repeated (the fastest counts)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    main(args.rows, args.samples, args.repeat, args.seed)
