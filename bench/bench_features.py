"""The feature engine (`retrainer.features.compute_features`, DuckDB window functions) against a pandas floor,
`groupby(entity).rolling(window, on=time)`, computing the same per-entity window aggregates on the same
generated raw events in the same run; both must give the same values. Also times the engine on a fuller
declaration (distinct counts, label rates with arrival times, calendar, time since the previous event) that
pandas' rolling cannot express, and measures each step's peak memory against the frames it handles.

    .venv/bin/python bench/bench_features.py --rows 1000000
    .venv/bin/python bench/bench_features.py --rows 30000000 --no-floor   # the engine alone (pandas: hours)

Events have distinct timestamps (microseconds), so that pandas' rolling (which leaves later rows at the same
instant out of a row's window) and the engine (which keeps them in) agree. Ratios: floor seconds / engine
seconds (above 1: the engine is faster). Memory: the step's peak resident size above what the process held
when it started (`retrainer.core.resources`, /proc/self/clear_refs), against the in-memory size of what it
handles (the input events as Arrow plus the output features). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.core.resources import current_rss_bytes, peak_rss_bytes, reset_peak_rss
from retrainer.features import compute_features, derived_feature_names, parse_duration

START = pd.Timestamp("2026-01-05", tz="UTC")
CUSTOMER_WINDOWS = ["1h", "24h", "7d", "30d"]
AGGREGATIONS = ["count", "sum", "mean", "std", "min", "max"]
MODEL = {"id_column": "tx_id", "event_time": "ts", "label": "is_fraud", "label_time": "label_at"}


def params(full: bool, threads: int, memory_mib: int) -> dict:
    """The declarations timed: the customer's amount aggregates (what the floor computes too), and with
    `full` the rest of what a fraud model declares."""
    derived: dict = {
        "windows": [
            {"entity": "customer_id", "value": "amount", "aggregations": [*AGGREGATIONS, "ratio_to_mean"],
             "windows": CUSTOMER_WINDOWS},
            {"entity": "terminal_id", "aggregations": ["count"], "windows": ["1d", "7d"]},
        ],
        "threads": threads,
        "memory_limit_mib": memory_mib,
    }  # fmt: skip
    if full:
        derived["windows"].append(
            {
                "entity": "customer_id",
                "value": "terminal_id",
                "aggregations": ["distinct_count"],
                "windows": ["7d"],
            }
        )
        derived["labels"] = [
            {
                "entity": "terminal_id",
                "windows": ["7d", "28d"],
                "aggregations": ["rate", "count"],
                "min_count": 5,
            }
        ]
        derived["calendar"] = ["hour", "weekday", "weekend", "night"]
        derived["since_previous"] = [{"entity": "customer_id", "within": "30d"}]
    return {"model": MODEL, "schedule": {"timezone": "Europe/Paris"}, "features": {"derived": derived}}


def generate(rows: int, days: int, seed: int) -> pd.DataFrame:
    """Raw card events: ~100 per customer and ~500 per terminal over `days`, lognormal amounts, 1 % fraud
    whose chargeback arrives 2 to 20 days later (legitimate labels at 20 days), in time order."""
    rng = np.random.default_rng(seed)
    span_us = days * 86_400 * 1_000_000
    micros = np.unique(rng.integers(0, span_us, size=int(rows * 1.01)))[:rows]
    rng.shuffle(micros)
    micros = np.sort(micros[:rows])
    n = len(micros)
    fraud = rng.random(n) < 0.01
    delay_s = np.where(fraud, rng.uniform(2, 20, n), 20) * 86_400
    ts = START + pd.to_timedelta(micros, unit="us")
    return pd.DataFrame(
        {
            "tx_id": np.arange(n, dtype=np.int64),
            "ts": ts,
            "customer_id": pd.array(
                rng.integers(0, max(1, n // 100), n).astype(str), dtype="string[pyarrow]"
            ),
            "terminal_id": pd.array(
                rng.integers(0, max(1, n // 500), n).astype(str), dtype="string[pyarrow]"
            ),
            "amount": np.round(rng.lognormal(3.5, 1.0, n), 2),
            "is_fraud": fraud.astype(np.int8),
            "label_at": ts + pd.to_timedelta(np.round(delay_s), unit="s"),
        }
    )


def pandas_floor(frame: pd.DataFrame) -> pd.DataFrame:
    """The same values as the engine's plain declaration, with pandas' groupby().rolling() (closed="right":
    the window (t - w, t], as the engine's)."""
    out = {}
    for window in CUSTOMER_WINDOWS:
        rolled = frame.groupby("customer_id", sort=False).rolling(
            pd.Timedelta(parse_duration(window)), on="ts"
        )["amount"]
        found = rolled.agg(AGGREGATIONS).reset_index(level=0, drop=True).sort_index()
        for aggregation in AGGREGATIONS:
            out[f"customer_id__amount_{aggregation}_{window}"] = found[aggregation].to_numpy()
        out[f"customer_id__amount_ratio_to_mean_{window}"] = (
            frame["amount"].to_numpy() / found["mean"].to_numpy()
        )
    for window in ("1d", "7d"):
        rolled = frame.groupby("terminal_id", sort=False).rolling(
            pd.Timedelta(parse_duration(window)), on="ts"
        )["amount"]
        out[f"terminal_id__count_{window}"] = (
            rolled.count().reset_index(level=0, drop=True).sort_index().to_numpy()
        )
    return pd.DataFrame({"tx_id": frame["tx_id"].to_numpy(), **out})


def timed(step, *args, repeat: int = 1) -> tuple[object, dict]:
    """`step(*args)`'s result, its fastest seconds of `repeat` runs (the machine may be shared: the fastest
    is the least disturbed) and the peak RSS the first run added (MiB)."""
    reset_peak_rss()
    before = current_rss_bytes()
    started = time.perf_counter()
    result = step(*args)
    seconds = [time.perf_counter() - started]
    peak = round((peak_rss_bytes() - before) / 2**20, 1)
    for _ in range(repeat - 1):
        started = time.perf_counter()
        step(*args)
        seconds.append(time.perf_counter() - started)
    return result, {"seconds": round(min(seconds), 2), "peak_added_mib": peak}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB's threads (pandas uses one)")
    parser.add_argument(
        "--memory-mib", type=int, default=2048, help="DuckDB's memory limit; it spills beyond"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each step; the fastest counts")
    parser.add_argument("--no-floor", action="store_true", help="skip pandas (at 30M rows it takes hours)")
    parser.add_argument(
        "--parquet", action="store_true", help="the engine reads the events from Parquet (as the pipeline)"
    )
    args = parser.parse_args(argv)

    frame, generated = timed(generate, args.rows, args.days, args.seed)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    report: dict = {"rows": len(frame), "days": args.days, "threads": args.threads, "repeat": args.repeat}
    report["generate"] = generated
    input_mib = table.nbytes / 2**20
    spill = tempfile.TemporaryDirectory(prefix="bench-features-")
    if args.parquet:  # from files, the events need not be held in memory: 30M rows fit
        pq.write_table(table, Path(spill.name) / "events.parquet", row_group_size=1_000_000)
        table = [Path(spill.name) / "events.parquet"]
        if args.no_floor:
            del frame
    plain, full = (params(f, args.threads, args.memory_mib) for f in (False, True))
    for name, declared in (("engine", plain), ("engine_full", full)):
        features, step = timed(compute_features, table, declared, repeat=args.repeat)
        step["features"] = len(derived_feature_names(declared))
        step["frames_mib"] = round(input_mib + features.nbytes / 2**20, 1)
        step["peak_over_frames"] = round(step["peak_added_mib"] / step["frames_mib"], 2)
        step["rows_per_second"] = round(report["rows"] / step["seconds"])
        report[name] = step
        if name == "engine" and not args.no_floor:  # kept for the comparison only (30M rows: ~7 GB)
            engine = features.to_pandas()
        del features
    if not args.no_floor:
        floor, step = timed(pandas_floor, frame, repeat=args.repeat)
        step["frames_mib"] = round(
            (frame.memory_usage(deep=True).sum() + floor.memory_usage().sum()) / 2**20, 1
        )
        step["peak_over_frames"] = round(step["peak_added_mib"] / step["frames_mib"], 2)
        report["pandas_floor"] = step
        report["ratio_floor_over_engine"] = round(step["seconds"] / report["engine"]["seconds"], 2)
        # atol: pandas' rolling variance keeps a residue (~5e-7) where every value of a window is the same;
        # the engine's std there is exactly 0.
        mismatched = {
            column: int(
                (~np.isclose(engine[column], floor[column], rtol=1e-7, atol=1e-6, equal_nan=True)).sum()
            )
            for column in floor.columns
        }
        report["same_values"] = not any(mismatched.values())
        report["mismatched_cells"] = {k: v for k, v in mismatched.items() if v}
    spill.cleanup()
    report["source"] = "parquet" if args.parquet else "arrow"
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
