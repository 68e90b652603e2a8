"""`train.engine: dask`: the challenger is fitted by xgboost.dask on a Dask cluster (here two worker processes
on 127.0.0.1, started and stopped by the test), and the run is gated and registered like a local one."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from retrainer.core.errors import ConfigError
from retrainer.training.engines import SCHEDULER_ENV, engine_of, scheduler_address
from tests.conftest import PROJECT_DIR, generate_source, week

AS_OF = "2026-11-16T00:00:00+00:00"


def test_an_unknown_engine_or_a_missing_scheduler_is_named(params):
    assert engine_of(params) == "local"
    with pytest.raises(ConfigError, match="train.engine"):
        engine_of({**params, "train": {**params["train"], "engine": "spark"}})
    with pytest.raises(ConfigError, match=SCHEDULER_ENV):
        scheduler_address({})
    assert scheduler_address({SCHEDULER_ENV: "tcp://127.0.0.1:8786"}) == "tcp://127.0.0.1:8786"


@pytest.fixture
def dask_cluster():
    """A local Dask cluster: a scheduler and two worker processes on 127.0.0.1, closed whatever happens."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        yield cluster
    finally:
        cluster.close()


def _project_with_engine(tmp_path: Path, engine: str) -> Path:
    """A copy of the project's pipeline, suites and models with the fraud model's `train.engine` set."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(PROJECT_DIR / "dvc.yaml", project / "dvc.yaml")
    shutil.copytree(PROJECT_DIR / "expectations", project / "expectations")
    shutil.copytree(PROJECT_DIR / "models", project / "models")
    path = project / "models" / "fraud-xgb" / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("train", {})["engine"] = engine
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return project


@pytest.mark.e2e  # a Dask cluster, and the whole run through DVC
def test_a_run_trained_on_dask_is_gated_and_registered_like_a_local_one(
    dask_cluster, var_dir, tmp_path, monkeypatch
):
    from retrainer.core.settings import Settings
    from retrainer.evaluation.holdout import measure
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage
    from retrainer.tasks import retrain as tasks
    from retrainer.training.stages import fit

    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(_project_with_engine(tmp_path, "dask")))
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster.scheduler_address)
    settings = Settings.from_env()
    generate_source(open_storage(settings.source_root), days=63, last_day=date(2026, 11, 15))
    first = {"extract_window_days": 56}
    batch = tasks.extract(tasks.Run(*week(AS_OF)), first)
    tasks.validate(batch["manifest_uri"], first)
    trained = tasks.train(tasks.Run(*week(AS_OF)), first)
    evaluated = tasks.evaluate(trained["run_manifest_uri"], first)
    registered = tasks.register(trained["run_manifest_uri"], evaluated["gates_uri"], "manual__dask", first)
    assert registered["created"] and registered["version"] == 1

    # registered at all means every gate passed (NotGated otherwise)
    record = Registry(open_storage(settings.storage_root), "fraud-xgb").get(1)
    assert record["params"]["train"]["engine"] == "dask"
    on_dask = record["metrics"]["challenger"]
    assert on_dask["pr_auc"] == pytest.approx(trained["challenger_pr_auc"])

    # The single-machine model on the same prepared splits passes the same gates and scores alike.
    workspace = settings.work_dir / "fraud-xgb" / "2026-11-16T000000Z"
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["train"]["engine"] = "local"
    prepared, models = workspace / "data" / "prepared", tmp_path / "local-models"
    fit(prepared, models, params)
    local = measure(prepared, models, tmp_path / "metrics.json", tmp_path / "pr_curve.csv", params)
    gates = params["gates"]
    for metrics in (local, record["metrics"]):
        challenger = metrics["challenger"]
        assert challenger["pr_auc"] >= gates["min_pr_auc"]
        assert challenger["recall_at_fpr"] >= gates["min_recall_at_fpr"]
        assert challenger["pr_auc"] - metrics["baseline"]["pr_auc"] > gates["min_margin_over_baseline"]
        assert challenger["pr_auc"] - metrics["rule"]["pr_auc"] > gates["min_margin_over_rule"]
    assert abs(on_dask["pr_auc"] - local["challenger"]["pr_auc"]) < 0.05, (on_dask, local["challenger"])
