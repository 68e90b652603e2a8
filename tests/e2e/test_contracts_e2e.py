"""Broken batches through real Airflow: the run fails before training, with a named error, the batch (or
the unreadable file) in quarantine, no registry version, the champion unchanged, nothing on the DVC remote."""

import json

import pytest

from retrainer.core import layout

pytestmark = pytest.mark.e2e

LOGICAL_DATE = "2026-11-16"
RUN = "2026-11-16T000000Z"
WEEK = [f"2026-11-{d:02d}" for d in range(9, 16)]


def _registry(airflow):
    from retrainer.core.settings import Settings
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage

    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(airflow.var)})
    return Registry(open_storage(settings.storage_root), "fraud-xgb")


def _broken(kind: str, days: list[str]) -> list[str]:
    return ["--broken", kind, *[arg for day in days for arg in ("--broken-day", day)]]


def _validated_history(airflow, as_of: str) -> None:
    """An earlier week extracted and validated by hand (`retrainer task`), as a past run would have."""
    manifest = json.loads(airflow.retrainer("task", "extract", "--as-of", as_of))
    assert json.loads(airflow.retrainer("task", "validate", "--uri", manifest["manifest_uri"]))["success"]


def _assert_stopped_before_training(airflow, run, versions_before: int) -> dict:
    assert run.state == "failed", run.log[-3000:]
    # a verdict: the retry policy fails the task at once
    assert "action=fail" in run.log
    # training never started: it would have made a DVC workspace under work/ and pushed to the remote
    reason = json.loads((airflow.var / f"storage/quarantine/fraud-xgb/{RUN}/reason.json").read_text())
    assert not (airflow.var / f"storage/batches/fraud-xgb/{RUN}").exists()
    assert not (airflow.var / "work").exists()
    assert not (airflow.var / "dvc-remote").exists() or not any((airflow.var / "dvc-remote").rglob("*"))
    assert len(_registry(airflow).versions()) == versions_before
    return reason


def test_a_corrupt_source_file_is_quarantined_and_the_champion_stays(airflow):
    from retrainer.registry.aliases import CHAMPION

    registry = _registry(airflow)
    record, _ = registry.register({"model.ubj": b"the champion"}, {"as_of": "2026-11-09"}, "seeded")
    registry.set_alias(CHAMPION, record["version"], "test", "a champion from an earlier run", expected=None)
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "7", "--rows-per-day", "300",
                      *_broken("corrupt_parquet", ["2026-11-12"]))  # fmt: skip

    run = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE)
    reason = _assert_stopped_before_training(airflow, run, versions_before=1)
    assert "UnreadableSourceFile" in run.log and "date=2026-11-12/transactions.parquet" in run.log
    assert reason["stage"] == "extract"
    assert [f["expectation"] for f in reason["failures"]] == ["expect_source_file_to_be_readable_parquet"]
    assert (
        airflow.var / f"storage/quarantine/fraud-xgb/{RUN}/source/date=2026-11-12/transactions.parquet"
    ).exists()
    assert _registry(airflow).alias(CHAMPION)["version"] == record["version"]


def test_a_volume_drop_against_recent_batches_stops_the_run(airflow):
    airflow.retrainer("generate", "--end", "2026-11-08", "--days", "14", "--rows-per-day", "300")
    _validated_history(airflow, "2026-11-02")
    _validated_history(airflow, "2026-11-09")
    airflow.retrainer("generate", "--start", "2026-11-09", "--end", "2026-11-15", "--rows-per-day", "300",
                      *_broken("volume_drop", WEEK))  # fmt: skip

    run = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE)
    reason = _assert_stopped_before_training(airflow, run, versions_before=0)
    assert "BatchRejected" in run.log and "expect_table_row_count_to_be_between on table" in run.log
    failure = next(
        f for f in reason["failures"] if f["expectation"] == "expect_table_row_count_to_be_between"
    )
    assert failure["observed"] == 7 * 15 and failure["expected"]["median_rows_per_day"] == 300
    # the task log points at this run's Data Docs page, and the page exists
    docs = reason["data_docs_uri"]
    # logged by validate, passing or failing: the page through the registry plugin, never its storage URI
    url = layout.ui_url(docs.split("/storage/", 1)[1])  # /registry/data-docs/fraud-xgb/<run>/validations/...
    assert url.startswith(f"/registry/data-docs/fraud-xgb/{RUN}/")
    assert f"Data Docs of run {RUN}: {url}\n" in run.log or f"Data Docs of run {RUN}: {url} " in run.log
    assert f"stored at {docs}" not in run.log
    assert (airflow.var / "storage" / docs.split("/storage/", 1)[1]).is_file()


def test_a_batch_in_mixed_time_zones_stops_the_run(airflow):
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "7", "--rows-per-day", "300",
                      *_broken("mixed_time_zones", ["2026-11-12", "2026-11-13"]))  # fmt: skip

    run = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE)
    reason = _assert_stopped_before_training(airflow, run, versions_before=0)
    assert "expect_column_time_zone_to_be on column 'event_ts'" in run.log
    failure = next(f for f in reason["failures"] if f["expectation"] == "expect_column_time_zone_to_be")
    assert set(failure["observed"]) == {
        "date=2026-11-12/transactions.parquet",
        "date=2026-11-13/transactions.parquet",
    }
    # the engineer can see it from the command line too
    assert "expect_column_time_zone_to_be:event_ts" in airflow.retrainer("quarantine", "list")
