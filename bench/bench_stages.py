"""Time each stage of the retraining run on generated data, as a ratio against a floor measured in the
same run: reading the batch's Parquet and writing it back (the least any stage that touches the batch
must do). Prints one JSON object; ratios, not seconds, are what to compare between machines.

    .venv/bin/python bench/bench_stages.py --rows-per-day 20000 --days 63
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=63)
    parser.add_argument("--repeat", type=int, default=3, help="floor repetitions (the fastest counts)")
    args = parser.parse_args(argv)

    previous = os.environ.get("RETRAINER_VAR_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RETRAINER_VAR_DIR"] = tmp
        try:
            report = _run(args, tmp)
        finally:
            if previous is None:
                os.environ.pop("RETRAINER_VAR_DIR")
            else:
                os.environ["RETRAINER_VAR_DIR"] = previous
    print(json.dumps(report, indent=2))
    return report


def _run(args: argparse.Namespace, tmp: str) -> dict:
    from retrainer.storage import open_storage
    from retrainer.synthetic import GeneratorConfig, generate
    from retrainer.tasks import retrain as tasks
    from retrainer.tasks.context import Context

    ctx = Context.load()
    last = date(2026, 11, 15)
    first = last - timedelta(days=args.days - 1)
    as_of = (last + timedelta(days=1)).isoformat()
    interval = ((last - timedelta(days=6)).isoformat(), as_of)  # the week that ends at as_of
    window = {"extract_window_days": args.days}
    source = open_storage(ctx.settings.source_root)
    config = GeneratorConfig(rows_per_day=args.rows_per_day)
    seconds = {"generate": _timed(lambda: generate(source, first, last, 7, config))[0]}
    seconds["extract"], batch = _timed(lambda: tasks.extract(tasks.Run(*interval), window))
    raw = Path(tmp, "storage", ctx.storage.key_of(batch["batch_uri"])).read_bytes()
    floor = min(
        _timed(lambda: pd.read_parquet(io.BytesIO(raw)).to_parquet(io.BytesIO(), index=False))[0]
        for _ in range(args.repeat)
    )
    seconds["validate"], _ = _timed(lambda: tasks.validate(batch["manifest_uri"], window))
    seconds["train"], trained = _timed(lambda: tasks.train(tasks.Run(*interval), window))
    seconds["evaluate"], evaluated = _timed(lambda: tasks.evaluate(trained["run_manifest_uri"], window))
    seconds["register"], _ = _timed(
        lambda: tasks.register(trained["run_manifest_uri"], evaluated["gates_uri"], None, window)
    )
    return {
        "rows": batch["rows"],
        "floor_seconds": round(floor, 4),
        "ratio_to_floor": {name: round(s / floor, 1) for name, s in seconds.items() if name != "generate"},
        "seconds": {name: round(s, 3) for name, s in seconds.items()},
    }


if __name__ == "__main__":
    main()
