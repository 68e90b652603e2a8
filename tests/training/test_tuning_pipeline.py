"""Through the task entry points and real `dvc repro` (no Airflow): a model whose params switch the search
on and down-sample its negatives runs the `tune` stage inside the pipeline; the run publishes
reports/tuning.json with every trial, the fit trains with the chosen values, and the registered version's
lineage carries the search (seed, trials, chosen values) and the imbalance handling."""

from __future__ import annotations

import pytest
import yaml

from retrainer.core import artifacts
from retrainer.data.published import read_run, read_run_file
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from retrainer.tasks import retrain as tasks
from tests.conftest import copy_configuration, generate_source, week

MODEL = "fraud-xgb"
AS_OF = "2026-11-16T00:00:00+00:00"


@pytest.mark.e2e
def test_a_run_with_tuning_on_searches_inside_dvc_and_the_version_records_it(tmp_path, monkeypatch):
    project = copy_configuration(tmp_path / "project")
    path = project / "models" / MODEL / "params.yaml"
    own = yaml.safe_load(path.read_text())
    own["train"] = {
        "xgboost": {"inherit": True, "n_estimators": 60, "early_stopping_rounds": 20},
        "tuning": {"enabled": True, "trials": 4, "timeout_seconds": 300},
        "imbalance": {"negative_sample_rate": 0.5},
    }
    # this test is about what is recorded, not the model's quality: every gate passes
    own["gates"] = {
        "min_pr_auc": 0.0,
        "min_recall_at_fpr": 0.0,
        "min_margin_over_baseline": -1.0,
        "min_margin_over_rule": -1.0,
        "min_slice_roc_auc": 0.0,
    }
    path.write_text(yaml.safe_dump(own, sort_keys=False))
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    from retrainer.core.settings import Settings

    settings = Settings.from_env()
    generate_source(open_storage(settings.source_root), days=70, rows_per_day=400)
    storage = open_storage(settings.storage_root)
    run, dag_params = tasks.Run(*week(AS_OF)), {"extract_window_days": 56, "approval": "auto"}
    batch = tasks.extract(run, dag_params, MODEL)
    tasks.validate(batch["manifest_uri"], dag_params, MODEL)
    tasks.check_labels(run, dag_params, MODEL)
    trained = tasks.train(run, dag_params, MODEL)
    manifest = read_run(storage, trained["run_manifest_uri"])
    tuning = manifest["tuning"]
    print("tuning inside dvc repro:", tuning["why"])
    assert tuning["enabled"] is True and tuning["trials_run"] == 4 and len(tuning["trials"]) == 4
    assert yaml.safe_load(read_run_file(storage, manifest, artifacts.TUNING_REPORT)) == tuning
    assert manifest["fit"]["tuning"]["chosen"] == tuning["chosen"]
    assert manifest["fit"]["imbalance"]["sample"]["negative_sample_rate"] == 0.5
    lock = yaml.safe_load(read_run_file(storage, manifest, "dvc.lock"))
    assert "tune" in lock["stages"] and artifacts.TUNING_REPORT in str(lock["stages"]["fit"]["deps"])

    evaluated = tasks.evaluate(trained["run_manifest_uri"], dag_params, MODEL)
    registered = tasks.register(
        trained["run_manifest_uri"],
        evaluated["gates_uri"],
        "manual__test",
        dag_params,
        run_type="manual",
        model=MODEL,
        gates_sha256=evaluated.get("gates_sha256"),
    )
    record = Registry(storage, MODEL).get(registered["version"])
    assert record["tuning"]["seed"] == tuning["seed"] and record["tuning"]["chosen"] == tuning["chosen"]
    assert [t["value"] for t in record["tuning"]["trials"]] == [t["value"] for t in tuning["trials"]]
    assert record["imbalance"]["negative_sample_rate"] == 0.5
