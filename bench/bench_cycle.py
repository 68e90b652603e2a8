"""The whole retraining cycle through real Airflow against the bare work, measured in the same run.

Generates `--days` of transactions with `retrainer generate --rows-per-day N`, runs
`airflow dags test retrain_fraud-xgb 2026-11-16` as a first run extracting `--extract-days` days (every task
in the one `dags test` process, as `make demo` does; the DVC stages in processes of their own), then the bare
work: read the run's prepared training and validation Parquet and fit the same XGBoost model with the same
params. Prints the ratio cycle / bare, each task's (and DVC stage's) seconds and peak RSS measured in its
own process (`retrainer.core.resources`), and the in-memory size of the frames they handle.

    .venv/bin/python bench/bench_cycle.py --rows-per-day 16000    # ~1M rows generated, 0.9M extracted
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOGICAL_DATE = "2026-11-16"  # a Monday: the run's week is 2026-11-09 .. 2026-11-16
RUN_KEY = "2026-11-16T000000Z"
MODEL = "fraud-xgb"
MiB = 2**20
# The frames each step holds (their in-memory size as pandas frames is what its peak RSS is held against).
HANDLES = {
    "extract": ("batch",),
    "validate": ("batch",),
    "check_labels": ("window",),
    "train": ("window",),
    "stage featurize": ("window",),  # the derived features of the window (none for the fraud model)
    "stage prepare": ("window",),
    "stage adapt": ("window",),  # a drift-triggered run's weights over the window (else: a report only)
    "stage tune": ("train", "valid"),  # the search's folds (tuning off: a report only)
    "stage fit": ("train", "valid"),
    "stage measure": ("valid", "holdout"),
    "evaluate": ("valid", "holdout"),
    "register": (),
}


def environment(root: Path) -> dict[str, str]:
    """Airflow and the retrainer under `root`: SQLite metadata, everything else under root/var."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RETRAINER_", "AWS_"))}
    env.update(
        AIRFLOW_HOME=str(root / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_DIR / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(PROJECT_DIR / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM=str(os.cpu_count() or 2),
        RETRAINER_VAR_DIR=str(root / "var"),
        RETRAINER_MODEL=MODEL,  # the commands' --model (several models are configured)
        RETRAINER_RESOURCE_LOG=str(root / "resources.jsonl"),
        GX_ANALYTICS_ENABLED="False",
        DVC_NO_ANALYTICS="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def run(command: list[str], env: dict[str, str], log: Path, timeout: float) -> float:
    """Run `command` in a process group of its own, output to `log`; its seconds. The group is stopped
    whatever happens (timeout, failure, Ctrl-C), so nothing it started outlives the bench."""
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=timeout)
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(1)
            process.wait()
    seconds = time.perf_counter() - started
    if code != 0:
        tail = log.read_text()[-4000:]
        raise RuntimeError(f"`{' '.join(command[:4])} ...` exited {code} after {seconds:.0f} s:\n{tail}")
    return seconds


def frame_bytes(*paths: Path) -> int:
    """The in-memory size of the Parquet files' rows as pandas frames (`memory_usage(deep=True)`)."""
    import pyarrow.parquet as pq

    total = 0
    for path in paths:
        for group in range(pq.ParquetFile(path).num_row_groups):  # one row group at a time: the bench's own
            table = pq.ParquetFile(path).read_row_group(group)  # memory stays small at 30M rows
            total += int(table.to_pandas().memory_usage(deep=True).sum())
    return total


def bare_work(prepared: Path, params: dict) -> float:
    """Seconds to read the prepared train and valid splits and fit the same XGBoost model (imports done)."""
    import pandas as pd

    from retrainer.features import matrix
    from retrainer.training.models import train_xgboost

    started = time.perf_counter()
    frames = {name: pd.read_parquet(prepared / f"{name}.parquet") for name in ("train", "valid")}
    label = params["model"]["label"]
    xy = {n: (matrix.build_matrix(f, params["features"]), f[label].to_numpy()) for n, f in frames.items()}
    names = matrix.feature_names(params["features"])
    train_xgboost(*xy["train"], *xy["valid"], names, params["train"]["xgboost"], params["train"]["seed"])
    return time.perf_counter() - started


# What a step's process may hold for its code alone: the libraries the steps load, as a fresh process
# holds them (measured in the same run, like the bare work). A step's bound is this plus 2x its frames.
STACK = "import pandas, pyarrow.dataset, pyarrow.parquet, xgboost, sklearn.linear_model, great_expectations"
PEAK = "from retrainer.core.resources import peak_rss_bytes; print(peak_rss_bytes())"


def code_bytes() -> int:
    """Peak RSS of a process that only imported the stack, less that of one that imported nothing."""
    peak = [
        int(
            subprocess.run(
                [sys.executable, "-c", f"{imports}\n{PEAK}"], capture_output=True, text=True, check=True
            ).stdout
        )
        for imports in (STACK, "")
    ]
    return peak[0] - peak[1]


def machine() -> str:
    cpuinfo, meminfo = Path("/proc/cpuinfo").read_text(), Path("/proc/meminfo").read_text()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line), "?")
    memory = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal"))
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory / 2**20:.0f} GiB, {platform.system()} {platform.release()}"
    )


def cycle(args: argparse.Namespace, root: Path) -> dict:
    import xgboost  # noqa: F401  (imported before the bare work is timed, as the fit stage has it)

    from retrainer.core.params import load_params
    from retrainer.core.resources import read_resource_log

    env = environment(root)
    logs = root / "logs"
    logs.mkdir()
    retrainer, airflow = str(BIN / "retrainer"), str(BIN / "airflow")
    generate = [retrainer, "generate", "--end", "2026-11-15", "--days", str(args.days)]
    seconds = {
        "generate": run([*generate, "--rows-per-day", str(args.rows_per_day)], env, logs / "gen", 3600)
    }
    seconds["airflow db migrate"] = run([airflow, "db", "migrate"], env, logs / "migrate", 600)
    conf = json.dumps({"extract_window_days": args.extract_days})
    dags_test = [airflow, "dags", "test", "retrain_fraud-xgb", LOGICAL_DATE, "--conf", conf]
    seconds["cycle"] = run(dags_test, env, logs / "dags-test", args.timeout)
    if "state=success" not in (logs / "dags-test").read_text().split("DagRun Finished")[-1][:2000]:
        raise RuntimeError(f"the run did not succeed; see {logs / 'dags-test'}")

    var = root / "var"
    workspace = var / "work" / MODEL / RUN_KEY
    prepared = workspace / "data" / "prepared"
    params = load_params(workspace / "params.yaml")
    seconds["bare"] = min(bare_work(prepared, params) for _ in range(args.repeat))
    frames = {
        "batch": frame_bytes(var / "storage" / "batches" / MODEL / RUN_KEY / "batch.parquet"),
        "window": frame_bytes(*sorted((workspace / "data" / "batches").glob("*.parquet"))),
        **{name: frame_bytes(prepared / f"{name}.parquet") for name in ("train", "valid", "holdout")},
    }
    code = code_bytes()
    steps = {}
    for record in read_resource_log(root / "resources.jsonl"):
        handled = sum(frames[f] for f in HANDLES.get(record["step"], ()))
        added = record["peak_rss_bytes"] - record["start_rss_bytes"]
        steps[record["step"]] = {
            "seconds": record["seconds"],
            "peak_rss_mib": round(record["peak_rss_bytes"] / MiB, 1),
            "start_rss_mib": round(record["start_rss_bytes"] / MiB, 1),
            "added_rss_mib": round(added / MiB, 1),
            "frame_mib": round(handled / MiB, 1),
            "peak_over_frame": round(record["peak_rss_bytes"] / handled, 2) if handled else None,
            "added_over_frame": round(added / handled, 2) if handled else None,
            "bound_mib": round((code + 2 * handled) / MiB, 1),  # what it may add: its code + 2x its frames
            "within_bound": added <= code + 2 * handled,
        }
    manifest = json.loads((var / "storage" / "runs" / MODEL / RUN_KEY / "manifest.json").read_text())
    return {
        "machine": machine(),
        "rows_per_day": args.rows_per_day,
        "extracted_rows": json.loads(
            (var / "storage" / "batches" / MODEL / RUN_KEY / "manifest.json").read_text()
        )["rows"],
        "training_rows": manifest["prepare"]["splits"]["train"]["rows"],
        "window_rows": manifest["window"]["rows"],
        "cycle_seconds": round(seconds["cycle"], 1),
        "bare_seconds": round(seconds["bare"], 1),
        "ratio": round(seconds["cycle"] / seconds["bare"], 2),
        "around_the_fit_seconds": round(seconds["cycle"] - seconds["bare"], 1),
        "setup_seconds": {k: round(seconds[k], 1) for k in ("generate", "airflow db migrate")},
        "code_mib": round(code / MiB, 1),
        "frames_mib": {name: round(size / MiB, 1) for name, size in frames.items()},
        "steps": steps,
    }


def print_table(report: dict) -> None:
    print(f"machine: {report['machine']}", file=sys.stderr)
    print(
        f"{report['extracted_rows']:,} rows extracted, {report['training_rows']:,} training rows: cycle "
        f"{report['cycle_seconds']} s, bare work {report['bare_seconds']} s, ratio {report['ratio']}x",
        file=sys.stderr,
    )
    head = ("step", "seconds", "peak MiB", "added MiB", "frame MiB", "peak/frame", "bound MiB")
    print(f"{head[0]:<15}" + "".join(f"{h:>11}" for h in head[1:]), file=sys.stderr)
    for step, s in report["steps"].items():
        ratio = "" if s["peak_over_frame"] is None else f"{s['peak_over_frame']:.2f}"
        cells = (
            f"{s['seconds']:.1f}",
            f"{s['peak_rss_mib']:.0f}",
            f"{s['added_rss_mib']:.0f}",
            f"{s['frame_mib']:.0f}",
            ratio,
            f"{s['bound_mib']:.0f}",
        )
        print(f"{step:<15}" + "".join(f"{c:>11}" for c in cells), file=sys.stderr)
    print(
        f"bound: what a step adds to its process <= its code ({report['code_mib']:.0f} MiB) + 2x its frames",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=16_000)
    parser.add_argument("--days", type=int, default=63, help="days generated (the source)")
    parser.add_argument("--extract-days", type=int, default=56, help="days the first run extracts")
    parser.add_argument("--repeat", type=int, default=1, help="bare-work repetitions (the fastest counts)")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds the cycle may take")
    parser.add_argument("--dir", help="where to run (kept); default: a temporary directory, removed")
    args = parser.parse_args(argv)
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-cycle-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        report = cycle(args, root)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    print_table(report)
    print(json.dumps(report, indent=2))
    return report


def _exit_on(signum, frame):
    raise SystemExit(128 + signum)  # so `run` stops the process group it started, as on any failure


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on)
    main()
