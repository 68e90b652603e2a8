"""Wait for an Airflow DAG run to finish; succeed only if the run and every one of its tasks succeeded.

A run can end "success" without running anything (a logical date before the DAG's start_date creates no
task instances), so the tasks are checked, not only the run's state. Uses the Airflow CLI of this venv.

    python scripts/wait_for_run.py DAG_ID RUN_ID [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

FINISHED = {"success", "failed"}


def _airflow_json(*args: str) -> list[dict]:
    done = subprocess.run(["airflow", *args, "-o", "json"], capture_output=True, text=True, check=True)
    # Airflow may print warnings before the JSON; the JSON is the last line that opens a list.
    lines = [line for line in done.stdout.splitlines() if line.startswith("[{") or line.strip() == "[]"]
    return json.loads(lines[-1]) if lines else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("run_id")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    deadline, state = time.monotonic() + args.timeout, None
    while time.monotonic() < deadline:
        runs = [r for r in _airflow_json("dags", "list-runs", args.dag_id) if r["run_id"] == args.run_id]
        state = runs[0]["state"] if runs else None
        if state in FINISHED:
            break
        time.sleep(5)
    else:
        print(f"wait_for_run: {args.run_id} did not finish within {args.timeout:.0f} s (state {state})")
        return 1
    tasks = _airflow_json("tasks", "states-for-dag-run", args.dag_id, args.run_id)
    states = {t["task_id"]: t["state"] for t in tasks}
    print(f"    run {args.run_id}: {state}; tasks: " + ", ".join(f"{k} {v}" for k, v in states.items()))
    if state != "success" or not states or any(s != "success" for s in states.values()):
        print("wait_for_run: the run did not succeed with every task run; see the task logs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
