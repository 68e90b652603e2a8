"""Trigger a DAG run through Airflow's REST API (as the UI's Trigger form does) and wait for it to finish;
succeed only if the run and every one of its tasks succeeded.

The REST API takes the run's data interval from its logical date (the UI form does the same); the CLI's
`dags trigger` would take it from the moment it is called. A run can end "success" without running
anything, so every task's state is checked, not only the run's. A run that exists already is cleared and
runs again, as "Clear" does in the UI.

    python scripts/run_dag.py DAG_ID RUN_ID --logical-date 2026-11-16 [--conf JSON] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FINISHED = {"success", "failed"}


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = self.call("GET", "/auth/token")["access_token"]  # SimpleAuthManager, all admins

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")


def _wait_for_api(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"run_dag: no Airflow API at {base} within {timeout:.0f} s") from None
            time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("run_id")
    parser.add_argument("--logical-date", required=True, help="e.g. 2026-11-16 (UTC midnight)")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{os.environ.get('AIRFLOW__API__PORT', '8080')}"
    _wait_for_api(base, 120)
    api = Api(base)
    dag, run = urllib.parse.quote(args.dag_id), urllib.parse.quote(args.run_id)
    for _ in range(60):  # the DAG processor may not have parsed the DAG yet
        try:
            api.call("GET", f"/api/v2/dags/{dag}")
            break
        except urllib.error.HTTPError:
            time.sleep(2)
    api.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})
    try:
        api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}")
        print(f"    {args.run_id} exists: cleared, it runs again")
        api.call("POST", f"/api/v2/dags/{dag}/dagRuns/{run}/clear", {"dry_run": False})
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        logical_date = f"{args.logical_date}T00:00:00Z" if "T" not in args.logical_date else args.logical_date
        body = {"dag_run_id": args.run_id, "logical_date": logical_date, "conf": json.loads(args.conf)}
        api.call("POST", f"/api/v2/dags/{dag}/dagRuns", body)
    deadline, state = time.monotonic() + args.timeout, None
    while time.monotonic() < deadline:
        state = api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}")["state"]
        if state in FINISHED:
            break
        time.sleep(5)
    else:
        print(f"run_dag: {args.run_id} did not finish within {args.timeout:.0f} s (state {state})")
        return 1
    instances = api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances")["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in instances}
    print(f"    run {args.run_id}: {state}; tasks: " + ", ".join(f"{k} {v}" for k, v in states.items()))
    api.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": True})  # as it was: no scheduled runs start
    # A task a branch chose not to run (approve, for a first model) is skipped; any other state is not done.
    ran = [s for s in states.values() if s == "success"]
    if state != "success" or not ran or any(s not in ("success", "skipped") for s in states.values()):
        print("run_dag: the run did not succeed with every task run; see the task logs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
