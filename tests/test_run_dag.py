"""scripts/run_dag.py, the demo's trigger, against a fake Airflow REST API on 127.0.0.1: it waits for an API
that starts late (Airflow once took 143 s, the acceptance 5 minutes), retries a GET that fails on the way,
leaves the DAG paused whatever happens, and makes one run per week: a by-hand run of a week clears that
week's run, or takes the week's start as its logical date, never the next week's scheduled run's."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import PROJECT_DIR

DAG = "retrain_fraud-xgb"  # the project's model: weekly, Mondays 00:00 UTC


def _load_run_dag():
    spec = importlib.util.spec_from_file_location("run_dag", PROJECT_DIR / "scripts" / "run_dag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Clock:
    """Virtual time for run_dag's waits: sleeping advances it at once, so 5 minutes take none."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class FakeAirflow:
    """The part of Airflow 3.3's REST API run_dag uses, with its one-run-per-logical-date constraint (409).
    A created or cleared run finishes at once with `outcome`."""

    def __init__(self, clock: Clock, ready_after: float = 0.0) -> None:
        self.clock, self.ready_after = clock, ready_after
        self.runs: dict[str, dict] = {}
        self.paused = True
        self.patches: list[bool] = []
        self.created: list[dict] = []
        self.cleared: list[str] = []
        self.drop_next_run_get = 0  # close the connection without an answer, this many times
        self.outcome = "success"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, code: int, body: dict | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                parts = [urllib.parse.unquote(p) for p in url.path.split("/")]
                if url.path == "/api/v2/monitor/health":
                    return self._answer(200 if fake.clock.now >= fake.ready_after else 503)
                if url.path == "/auth/token":
                    return self._answer(201, {"access_token": "token"})
                if len(parts) == 5:  # /api/v2/dags/<dag>
                    return self._answer(200, {"dag_id": parts[4], "is_paused": fake.paused})
                if len(parts) == 6:  # /api/v2/dags/<dag>/dagRuns?logical_date_gte=..&logical_date_lte=..
                    query = dict(urllib.parse.parse_qsl(url.query))
                    low, high = _when(query["logical_date_gte"]), _when(query["logical_date_lte"])
                    runs = [r for r in fake.runs.values() if low <= _when(r["logical_date"]) <= high]
                    return self._answer(200, {"dag_runs": runs, "total_entries": len(runs)})
                if fake.drop_next_run_get:
                    fake.drop_next_run_get -= 1
                    self.close_connection = True  # a slow or dropped answer: the client sees no response
                    return None
                run = fake.runs.get(parts[6])
                if run is None:
                    return self._answer(404, {"detail": "not found"})
                if len(parts) == 8:  # .../taskInstances
                    state = run["state"]
                    return self._answer(200, {"task_instances": [{"task_id": "extract", "state": state}]})
                return self._answer(200, run)

            def do_PATCH(self) -> None:
                fake.paused = self._body()["is_paused"]
                fake.patches.append(fake.paused)
                self._answer(200, {"is_paused": fake.paused})

            def do_POST(self) -> None:
                parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(self.path).path.split("/")]
                body = self._body()
                if parts[-1] == "clear":
                    fake.runs[parts[6]]["state"] = fake.outcome
                    fake.cleared.append(parts[6])
                    return self._answer(200, {})
                if any(_when(r["logical_date"]) == _when(body["logical_date"]) for r in fake.runs.values()):
                    return self._answer(409, {"detail": "Unique constraint violation: dag_id, logical_date"})
                fake.add(
                    body["dag_run_id"],
                    body["logical_date"],
                    body.get("data_interval_start"),
                    body.get("data_interval_end"),
                    body.get("conf") or {},
                    fake.outcome,
                )
                fake.created.append(body)
                return self._answer(200, fake.runs[body["dag_run_id"]])

            def do_DELETE(self) -> None:
                parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(self.path).path.split("/")]
                fake.runs.pop(parts[6])
                self._answer(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def add(self, run_id, logical, start, end, conf=None, state="success") -> None:
        self.runs[run_id] = {
            "dag_run_id": run_id,
            "logical_date": logical,
            "data_interval_start": start,
            "data_interval_end": end,
            "conf": conf or {},
            "state": state,
        }


@pytest.fixture
def airflow(monkeypatch):
    """A fake Airflow on a free loopback port and run_dag on a virtual clock; the server is shut down
    after the test, also when it fails."""
    run_dag, clock = _load_run_dag(), Clock()
    monkeypatch.setattr(run_dag, "time", clock)
    fake = FakeAirflow(clock)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield run_dag, fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(10)


def _run(run_dag, fake, *args: str) -> int:
    """run_dag as the demo calls it: its command line, the API port in AIRFLOW__API__PORT."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["run_dag.py", DAG, *args])
        patch.setenv("AIRFLOW__API__PORT", str(fake.server.server_port))
        return run_dag.main()


def test_the_demo_waits_for_an_api_that_starts_after_five_minutes(airflow, capsys):
    run_dag, fake = airflow
    fake.ready_after = 300.0
    assert _run(run_dag, fake, "demo__2026-11-16", "--logical-date", "2026-11-16") == 0
    print(f"API answered after {fake.clock.now:.0f} s (virtual); run {list(fake.runs)} succeeded")
    assert fake.clock.now >= 300


def test_an_api_slower_than_the_deadline_ends_with_the_setting_to_raise(airflow):
    run_dag, fake = airflow
    fake.ready_after = 300.0
    with pytest.raises(SystemExit, match="RETRAINER_DEMO_API_TIMEOUT"):
        _run(run_dag, fake, "demo__2026-11-16", "--logical-date", "2026-11-16", "--api-timeout", "120")


def test_a_get_that_gets_no_answer_is_retried(airflow):
    run_dag, fake = airflow
    fake.drop_next_run_get = 2  # the first two GETs of the run find the connection closed
    assert _run(run_dag, fake, "demo__2026-11-16", "--logical-date", "2026-11-16") == 0
    assert fake.drop_next_run_get == 0


@pytest.mark.parametrize("outcome", ["success", "failed", "running"])
def test_the_dag_is_left_paused_whatever_the_run_did(airflow, outcome):
    run_dag, fake = airflow
    fake.outcome = outcome
    expected = 0 if outcome == "success" else 1
    assert (
        _run(run_dag, fake, "demo__2026-11-16", "--logical-date", "2026-11-16", "--timeout", "30") == expected
    )
    assert fake.patches[-1] is True and fake.paused


def test_a_week_whose_next_week_has_its_scheduled_run_is_run_at_its_own_start(airflow):
    """The issue's 409: the week ending 2026-11-23 triggered with that Monday, while the next week's
    scheduled run (logical date 2026-11-23, interval 11-23 .. 11-30) exists."""
    run_dag, fake = airflow
    fake.add(
        "scheduled__2026-11-23T00:00:00+00:00",
        "2026-11-23T00:00:00Z",
        "2026-11-23T00:00:00Z",
        "2026-11-30T00:00:00Z",
    )
    assert _run(run_dag, fake, "by_hand", "--logical-date", "2026-11-23") == 0
    (created,) = fake.created
    # the logical date of the week's own scheduled run, so the scheduler makes no second run of it later
    assert _when(created["logical_date"]) == _when(created["data_interval_start"])
    assert (_when(created["data_interval_start"]), _when(created["data_interval_end"])) == (
        datetime(2026, 11, 16, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
    )
    assert "scheduled__2026-11-23T00:00:00+00:00" in fake.runs and not fake.cleared


def test_a_week_that_has_its_scheduled_run_reuses_it(airflow, capsys):
    run_dag, fake = airflow
    scheduled = "scheduled__2026-11-16T00:00:00+00:00"
    fake.add(scheduled, "2026-11-16T00:00:00Z", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z")
    assert _run(run_dag, fake, "by_hand", "--logical-date", "2026-11-23") == 0
    assert fake.cleared == [scheduled] and not fake.created  # one run of the week, run again
    assert f"{scheduled} covers" in capsys.readouterr().out


def test_a_week_run_with_another_conf_is_refused_before_creation_saying_what_to_do(airflow):
    run_dag, fake = airflow
    scheduled = "scheduled__2026-11-09T00:00:00+00:00"
    fake.add(scheduled, "2026-11-09T00:00:00Z", "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z")
    args = ["demo__2026-11-16", "--logical-date", "2026-11-16", "--conf", '{"extract_window_days": 56}']
    with pytest.raises(SystemExit, match=re.escape(scheduled) + ".*--replace"):
        _run(run_dag, fake, *args)
    assert not fake.created and not fake.cleared and fake.paused
    assert _run(run_dag, fake, *args, "--replace") == 0
    assert list(fake.runs) == ["demo__2026-11-16"]
    assert fake.runs["demo__2026-11-16"]["conf"] == {"extract_window_days": 56}
