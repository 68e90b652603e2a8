"""The retraining DAG end to end through real Airflow, GX and DVC on generated data."""

import json

import pytest
import yaml

pytestmark = pytest.mark.e2e

LOGICAL_DATE = "2026-11-16"
FIRST_RUN = {"extract_window_days": 56}


def test_weekly_run_registers_a_champion_whose_lineage_matches_dvc_lock(airflow):
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "70")
    run = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE, FIRST_RUN)
    assert run.state == "success", run.log[-5000:]

    versions = json.loads(airflow.retrainer("registry", "list", "--json"))
    assert [(v["version"], v["aliases"]) for v in versions] == [(1, ["champion"])]
    version = versions[0]
    lock = yaml.safe_load(
        (airflow.var / "work" / "fraud-xgb" / "2026-11-16T000000Z" / "dvc.lock").read_text()
    )
    batches = next(d for d in lock["stages"]["prepare"]["deps"] if d["path"] == "data/batches")
    assert version["data_hash"] == batches["md5"]
    assert version["airflow_run_id"].startswith("manual__")
    assert version["params"]["data"]["extract_window_days"] == 56

    # the champion loads (checksum verified) and scores
    from retrainer.core.settings import Settings
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage
    from retrainer.training.models import load_xgboost

    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(airflow.var)})
    registry = Registry(open_storage(settings.storage_root), "fraud-xgb")
    booster = load_xgboost(registry.read_file("champion", "model.ubj"))
    assert booster.num_features() == len(version["params"]["features"]["numeric"]) + sum(
        len(levels) for levels in version["params"]["features"]["categorical"].values()
    )

    # a rerun of the same logical date overwrites the same keys and adds no version
    rerun = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE, FIRST_RUN)
    assert rerun.state == "success", rerun.log[-5000:]
    assert len(json.loads(airflow.retrainer("registry", "list", "--json"))) == 1


def test_batch_missing_a_column_ends_in_quarantine_before_training(airflow):
    # every day of the window lacks `amount`
    airflow.retrainer(
        "generate",
        "--end",
        "2026-11-15",
        "--days",
        "7",
        "--broken",
        "missing_column",
        *[arg for d in range(9, 16) for arg in ("--broken-day", f"2026-11-{d:02d}")],
    )
    run = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE)
    assert run.state == "failed"
    assert "BatchRejected" in run.log
    assert "expect_column_to_exist on column 'amount'" in run.log
    # a rejected batch is a verdict: the retry policy fails the task at once instead of retrying
    assert "action=fail" in run.log and "Matched rule for BatchRejected" in run.log

    reason = json.loads(
        (airflow.var / "storage/quarantine/fraud-xgb/2026-11-16T000000Z/reason.json").read_text()
    )
    assert ("expect_column_to_exist", "amount") in {
        (f["expectation"], f["column"]) for f in reason["failures"]
    }
    assert not (airflow.var / "storage/batches/fraud-xgb/2026-11-16T000000Z").exists()
    # nothing after validate ran: no workspace, nothing pushed, no registry
    assert not (airflow.var / "work").exists()
    assert not (airflow.var / "dvc-remote").exists()
    assert not (airflow.var / "storage/registry").exists()


def test_a_challenger_broken_on_one_region_stops_the_run_naming_the_slice(airflow):
    # A new fraud pattern in latam from 2026-10-26: the first run's labelled rows end before it; the
    # second run's holdout (its last labelled week) is in it, and neither model has learned it.
    airflow.retrainer(
        "generate",
        "--end",
        "2026-11-22",
        "--days",
        "77",
        "--concept-drift",
        "1",
        "--concept-drift-region",
        "latam",
        "--drift-start",
        "2026-10-26",
    )
    first = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE, FIRST_RUN)
    assert first.state == "success", first.log[-5000:]

    second = airflow.dags_test("retrain_fraud-xgb", "2026-11-23")
    assert second.state == "failed"
    assert "GateFailed" in second.log
    assert "min_slice_roc_auc [slice region=latam] FAILED" in second.log
    # a failed gate is a verdict: failed at once, not retried
    assert "Matched rule for GateFailed" in second.log

    run_dir = airflow.var / "storage/runs/fraud-xgb/2026-11-23T000000Z"
    gates = json.loads((run_dir / "gates.json").read_text())
    assert not gates["passed"]
    assert gates["non_regression"]["low"] >= -gates["thresholds"]["champion_tolerance"]  # a good average
    latam = next(row for row in gates["slices"]["rows"] if row["slice"] == "region=latam")
    assert latam["judged"] and latam["challenger_roc_auc"] < gates["thresholds"]["min_slice_roc_auc"]
    assert (run_dir / "report.html").read_text().count("<svg") == 3  # PR, cost, reliability
    # the champion is untouched and nothing was registered
    versions = json.loads(airflow.retrainer("registry", "list", "--json"))
    assert [(v["version"], v["aliases"]) for v in versions] == [(1, ["champion"])]
