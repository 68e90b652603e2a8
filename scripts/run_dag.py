"""Trigger a DAG run through Airflow's REST API (as the UI's Trigger form does) and wait for it to finish;
succeed only if the run and every one of its tasks succeeded.

The REST API takes the run's data interval from its logical date (the UI form does the same); the CLI's
`dags trigger` would take it from the moment it is called. A run can end "success" without running
anything, so every task's state is checked, not only the run's.

One run per interval of the model's timetable: `--logical-date` names the interval as the docs say (the
Monday that ends the week: 2026-11-16 is 2026-11-09 .. 2026-11-16). A run that exists already, by its id
or because it covers that interval (the week's scheduled run), is cleared and runs again, as "Clear" does
in the UI; otherwise the run is created with that interval's start as its logical date, the logical date
that interval's scheduled run has, so the scheduler never creates a second run of the week and a run by
hand never takes the logical date of the next week's scheduled run (Airflow keeps one run per logical date:
409 Conflict). The DAG is paused again when this returns, whatever happened, so nothing starts on the
schedule the next time Airflow runs (`make airflow`). It is meant for the demo's services, whose scheduler
creates no scheduled runs: under `make airflow` the DAG is unpaused while the run runs, and the scheduler
may start the last complete week's scheduled run beside it.

A slow machine: the API is waited for up to `--api-timeout` seconds (RETRAINER_DEMO_API_TIMEOUT, 600 by
default), and a GET that fails on the way (no answer in time, connection refused or reset, 5xx) is
retried with backoff instead of ending the run.

    python scripts/run_dag.py DAG_ID RUN_ID --logical-date 2026-11-16 [--conf JSON] [--timeout SECONDS]
        [--api-timeout SECONDS] [--replace]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

FINISHED = {"success", "failed"}
API_TIMEOUT = float(os.environ.get("RETRAINER_DEMO_API_TIMEOUT", 600))  # seconds; Airflow took 143 s once
REQUEST_TIMEOUT = 60.0  # one request's answer; a slower one is retried (GET, PATCH)
RETRY_FOR = 300.0  # how long transient failures of one request are retried before giving up
TRANSIENT = (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError)


def _transient(error: BaseException) -> bool:
    """A failure worth another try: no answer, a dropped connection, or the server's 5xx (still starting)."""
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500
    return isinstance(error, TRANSIENT)


class Api:
    """Airflow's REST API as the standalone's all-admins SimpleAuthManager serves it; idempotent requests
    (GET, PATCH) are retried with backoff on transient failures for up to `retry_for` seconds."""

    def __init__(self, base: str, request_timeout: float = REQUEST_TIMEOUT, retry_for: float = RETRY_FOR):
        self.base, self.request_timeout, self.retry_for = base, request_timeout, retry_for
        self.token = None
        self.token = self.call("GET", "/auth/token")["access_token"]

    def _once(self, method: str, path: str, body: dict | None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
            return json.loads(response.read() or b"{}")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """The JSON answer of one request. A POST is sent once (a retry could create twice)."""
        deadline, delay = time.monotonic() + self.retry_for, 1.0
        while True:
            try:
                return self._once(method, path, body)
            except (*TRANSIENT, OSError) as error:
                if method not in ("GET", "PATCH") or not _transient(error) or time.monotonic() > deadline:
                    raise
                print(f"    {method} {path}: {error}; retrying in {delay:.0f} s", flush=True)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)


def _wait_for_api(base: str, timeout: float) -> None:
    """Return once Airflow's API answers its health check; exit naming the setting after `timeout` s."""
    start = time.monotonic()
    deadline, delay, said = start + timeout, 1.0, start
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=10):
                return
        except (*TRANSIENT, OSError):
            now = time.monotonic()
            if now > deadline:
                raise SystemExit(
                    f"run_dag: no Airflow API at {base} within {timeout:.0f} s; on a slow machine give it "
                    "longer: RETRAINER_DEMO_API_TIMEOUT=1200 (seconds) or --api-timeout"
                ) from None
            if now - said >= 30:  # a sign of life while the API starts
                print(f"    waiting for the Airflow API at {base} ({now - start:.0f} s of {timeout:.0f} s)")
                said = now
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def _moment(value: str) -> datetime:
    """A UTC datetime from 2026-11-16 (midnight UTC) or an ISO date-time."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_interval(dag_id: str, logical_date: datetime) -> tuple[datetime, datetime] | None:
    """The interval of a model's timetable that a by-hand run with this logical date covers (the last
    complete one that ended at or before it, as the tasks read it), for `retrain_<model>`; None for a DAG
    that is not a model's retraining DAG (its run is created as asked)."""
    if not dag_id.startswith("retrain_"):
        return None
    from retrainer.core.clock import Schedule
    from retrainer.core.models import load_model
    from retrainer.core.settings import Settings

    project, model = Settings.from_env().project_dir, dag_id.removeprefix("retrain_")
    if not (project / "models" / model).is_dir():
        return None
    params = load_model(project, model, check_suite=False)
    return Schedule.of(params).last_interval(logical_date)


def _runs_of(api: Api, dag: str, start: datetime, end: datetime) -> list[dict]:
    """The DAG's runs whose data interval is exactly start .. end (a scheduled run has logical date
    `start`; one triggered by hand with the Monday that ends the week, or a later day, one after it)."""
    query = urllib.parse.urlencode(
        {"logical_date_gte": _iso(start), "logical_date_lte": _iso(end + (end - start)), "limit": 100}
    )
    runs = api.call("GET", f"/api/v2/dags/{dag}/dagRuns?{query}")["dag_runs"]
    return [
        run
        for run in runs
        if run.get("data_interval_start")
        and _moment(run["data_interval_start"]) == start
        and _moment(run["data_interval_end"]) == end
    ]


def start_run(api: Api, dag_id: str, run_id: str, logical_date: str, conf: dict, replace: bool) -> str:
    """Create or clear the run of `dag_id` that `logical_date` names; return the id of the run to follow.
    Exits with what to do when Airflow cannot hold the run (a run of this interval with another conf, or
    another interval's run on the logical date)."""
    dag, run = urllib.parse.quote(dag_id), urllib.parse.quote(run_id)
    try:
        api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}")
        print(f"    {run_id} exists: cleared, it runs again")
        api.call("POST", f"/api/v2/dags/{dag}/dagRuns/{run}/clear", {"dry_run": False})
        return run_id
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    moment = _moment(logical_date)
    body = {"dag_run_id": run_id, "logical_date": _iso(moment), "conf": conf}
    if (interval := scheduled_interval(dag_id, moment)) is not None:
        start, end = interval
        week = f"{_iso(start)} .. {_iso(end)}"
        for other in _runs_of(api, dag, start, end):
            if replace:
                print(f"    {other['dag_run_id']} covered {week}: deleted (--replace)")
                api.call("DELETE", f"/api/v2/dags/{dag}/dagRuns/{urllib.parse.quote(other['dag_run_id'])}")
            elif (other.get("conf") or {}) == conf:
                print(f"    {other['dag_run_id']} covers {week} already: cleared, it runs again")
                path = f"/api/v2/dags/{dag}/dagRuns/{urllib.parse.quote(other['dag_run_id'])}/clear"
                api.call("POST", path, {"dry_run": False})
                return other["dag_run_id"]
            else:
                raise SystemExit(
                    f"run_dag: run {other['dag_run_id']} of {dag_id} covers {week} already, with conf "
                    f"{json.dumps(other.get('conf') or {})}, not {json.dumps(conf)}; Airflow keeps one run "
                    "per logical date and a cleared run keeps its conf. Clear that run in the UI to rerun it "
                    "as it is, or add --replace to delete it and start this one"
                )
        # The logical date of this interval's scheduled run: one run per interval, never the next one's.
        body |= {
            "logical_date": _iso(start),
            "data_interval_start": _iso(start),
            "data_interval_end": _iso(end),
        }
    try:
        api.call("POST", f"/api/v2/dags/{dag}/dagRuns", body)
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise
        query = urllib.parse.urlencode(
            {"logical_date_gte": body["logical_date"], "logical_date_lte": body["logical_date"]}
        )
        holders = api.call("GET", f"/api/v2/dags/{dag}/dagRuns?{query}")["dag_runs"]
        names = ", ".join(
            f"{h['dag_run_id']} ({h.get('data_interval_start')} .. {h.get('data_interval_end')})"
            for h in holders
        )
        raise SystemExit(
            f"run_dag: Airflow refused run {run_id} of {dag_id}: logical date {body['logical_date']} is "
            f"taken by {names or 'another run'} (one run per logical date). Delete that run (UI: the run's "
            "Delete, or DELETE /api/v2/dags/{dag_id}/dagRuns/{run_id}) and trigger again"
        ) from None
    return run_id


def follow(api: Api, dag_id: str, run_id: str, timeout: float) -> int:
    """Wait for the run to finish; 0 if it and every task it ran succeeded (a skipped branch is fine)."""
    dag, run = urllib.parse.quote(dag_id), urllib.parse.quote(run_id)
    deadline, state = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        state = api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}")["state"]
        if state in FINISHED:
            break
        time.sleep(5)
    else:
        print(f"run_dag: {run_id} did not finish within {timeout:.0f} s (state {state})", file=sys.stderr)
        return 1
    instances = api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances")["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in instances}
    print(f"    run {run_id}: {state}; tasks: " + ", ".join(f"{k} {v}" for k, v in states.items()))
    # A task a branch chose not to run (approve, for a first model) is skipped; any other state is not done.
    ran = [s for s in states.values() if s == "success"]
    if state != "success" or not ran or any(s not in ("success", "skipped") for s in states.values()):
        print("run_dag: the run did not succeed with every task run; see the task logs", file=sys.stderr)
        return 1
    return 0


def _stop_on_sigterm(signum, frame) -> None:  # the demo's trap: still pause the DAG on the way out
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("run_id")
    parser.add_argument("--logical-date", required=True, help="the Monday that ends the week: 2026-11-16")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds for the run to finish")
    parser.add_argument("--api-timeout", type=float, default=API_TIMEOUT, help="seconds for the API to start")
    parser.add_argument(
        "--api", default=None, help="the API's base URL (default: AIRFLOW__API__PORT on 127.0.0.1)"
    )
    parser.add_argument(
        "--replace", action="store_true", help="delete a run of the interval with another conf"
    )
    args = parser.parse_args(argv)
    base = args.api or f"http://127.0.0.1:{os.environ.get('AIRFLOW__API__PORT', '8080')}"
    _wait_for_api(base, args.api_timeout)
    api = Api(base)
    dag = urllib.parse.quote(args.dag_id)
    deadline = time.monotonic() + args.api_timeout
    while True:  # the DAG processor may not have parsed the DAG yet
        try:
            api.call("GET", f"/api/v2/dags/{dag}")
            break
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(2)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        run_id = start_run(
            api, args.dag_id, args.run_id, args.logical_date, json.loads(args.conf), args.replace
        )
        api.call(
            "PATCH", f"/api/v2/dags/{dag}", {"is_paused": False}
        )  # the scheduler runs only unpaused DAGs
        return follow(api, args.dag_id, run_id, args.timeout)
    finally:  # paused, as docs/getting-started.md says, even after a failure or a time-out
        try:
            api.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": True})
        except OSError as error:
            print(
                f"run_dag: could not pause {args.dag_id} again ({error}): pause it in the UI", file=sys.stderr
            )


if __name__ == "__main__":
    sys.exit(main())
