"""A run by hand that holds the logical date of the next interval's scheduled run is named in extract's
log, with what to do: Airflow would skip that interval's scheduled run, or refuse its trigger with 409."""

from __future__ import annotations

import logging

from retrainer.core.run_dates import displaced_scheduled_run
from retrainer.tasks import retrain as tasks
from tests.conftest import generate_source, week

MONDAY = "2026-11-16T00:00:00+00:00"


def test_a_run_on_the_monday_that_ends_its_week_is_named_with_the_fix():
    form_run = tasks.Run(*week(MONDAY), run_id="manual__2026-11-16", logical_date=MONDAY)
    message = displaced_scheduled_run(form_run)
    print(message)
    assert "manual__2026-11-16" in message and "logical date 2026-11-16T00:00:00Z" in message
    assert "2026-11-16T12:00:00Z" in message and "scripts/run_dag.py" in message


def test_scheduled_runs_and_runs_at_their_interval_start_or_later_are_not_named():
    start, end = week(MONDAY)
    assert displaced_scheduled_run(tasks.Run(start, end, run_id="scheduled__x", logical_date=start)) is None
    later = "2026-11-18T10:30:00+00:00"  # the form's "now" on a Wednesday: the same week, no clash
    assert displaced_scheduled_run(tasks.Run(start, end, run_id="manual__y", logical_date=later)) is None
    assert displaced_scheduled_run(tasks.Run(run_id="asset_triggered__z", run_after=MONDAY)) is None


def test_extract_says_it_in_the_task_log(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    from retrainer.core.settings import Settings
    from retrainer.storage import open_storage

    generate_source(open_storage(Settings.from_env().source_root), days=7)
    form_run = tasks.Run(*week(MONDAY), run_id="manual__2026-11-16", logical_date=MONDAY)
    with caplog.at_level(logging.WARNING):
        tasks.extract(form_run, None, "fraud-xgb")
    assert any("holds logical date 2026-11-16" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        tasks.extract(
            tasks.Run(*week(MONDAY), run_id="scheduled__x", logical_date=week(MONDAY)[0]), None, "fraud-xgb"
        )
    assert not any("holds logical date" in r.getMessage() for r in caplog.records)
