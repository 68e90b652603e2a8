"""Scheduling semantics through real Airflow (`airflow dags test`, which gives a run its data interval the
way the trigger form and the REST API do): runs cover calendar weeks and are keyed by the week's end, a
run from the form in the following week neither double-counts rows nor adds a version, a missing day is
named, and a run before the model's first day is refused instead of "succeeding" with no task run."""

import json

import pytest

pytestmark = pytest.mark.e2e

TASKS = {
    "wait_for_late_files", "extract", "validate", "check_labels", "train", "evaluate", "register", "route",
    "decide",
}  # fmt: skip
FIRST_RUN = {"extract_window_days": 56}
# A later week's challenger would wait for a person in the approval form; this test is about windows.
AUTO = {"approval": "auto"}


def _ran(run) -> dict[str, str]:
    """The tasks that ran: all but the approval form, which these runs skip (first model, or auto), and the
    deployment event, skipped where nothing moved (a first model is made champion by register)."""
    return {task: state for task, state in run.tasks.items() if task not in ("approve", "announce_move")}


def _manifest(airflow, area: str, run: str) -> dict:
    return json.loads((airflow.var / "storage" / area / "fraud-xgb" / run / "manifest.json").read_text())


def test_form_runs_cover_the_calendar_week_and_never_double_count_rows(airflow):
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "70")
    first = airflow.dags_test("retrain_fraud-xgb", "2026-11-09", FIRST_RUN)
    assert first.state == "success" and set(_ran(first)) == TASKS, first.log[-3000:]

    # The form's logical date is "now": a Wednesday morning of the week after the one to train on.
    form = airflow.dags_test("retrain_fraud-xgb", "2026-11-18T10:30:00+00:00", AUTO)
    assert form.state == "success", form.log[-5000:]
    assert _ran(form) == dict.fromkeys(TASKS, "success")
    assert form.data_interval == ("2026-11-09 00:00:00+00:00", "2026-11-16 00:00:00+00:00")  # Airflow's own
    batch = _manifest(airflow, "batches", "2026-11-16T000000Z")
    assert (batch["window_start"], batch["window_end"]) == (
        "2026-11-09T00:00:00+00:00",
        "2026-11-16T00:00:00+00:00",
    )
    assert batch["rows"] == 7 * 2000
    run = _manifest(airflow, "runs", "2026-11-16T000000Z")
    assert run["window"]["rows"] == 56 * 2000  # 8 weeks from two batches, each transaction once

    # Pressed again on Friday: the same week, the same keys, the same rows, no new version.
    again = airflow.dags_test("retrain_fraud-xgb", "2026-11-20T15:00:00+00:00", AUTO)
    assert again.state == "success" and _ran(again) == dict.fromkeys(TASKS, "success")
    assert _manifest(airflow, "runs", "2026-11-16T000000Z")["data_hash"] == run["data_hash"]
    versions = json.loads(airflow.retrainer("registry", "list", "--json"))
    assert [v["run_key"] for v in versions] == ["2026-11-09T000000Z", "2026-11-16T000000Z"]


def test_a_day_missing_from_the_source_stops_the_run_by_name(airflow):
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "7")
    (airflow.var / "source" / "date=2026-11-12" / "transactions.parquet").unlink()
    run = airflow.dags_test("retrain_fraud-xgb", "2026-11-16")
    assert run.state == "failed"
    assert "MissingSourcePartition" in run.log and "2026-11-12" in run.log
    assert "Matched rule for MissingSourcePartition" in run.log  # a verdict: not retried
    assert run.tasks["extract"] == "failed" and "train" not in run.tasks


def test_a_run_before_the_models_first_day_fails_by_name_instead_of_succeeding_empty(airflow):
    run = airflow.dags_test("retrain_fraud-xgb", "2025-06-02")
    assert run.state == "failed"
    assert "BeforeModelStart" in run.log and "use a logical date on or after 2026-01-12" in run.log.replace(
        "Use", "use"
    )
    assert run.tasks["extract"] == "failed"
