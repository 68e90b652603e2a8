"""The DAG's task entry points chained without Airflow: real GX, real `dvc repro` and `dvc push`."""

import json

import pytest
import yaml

from retrainer.core import layout
from retrainer.core.errors import ConfigError
from retrainer.evaluation.gates import GateFailed
from retrainer.registry import register
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage.base import sha256_bytes
from retrainer.tasks import retrain as tasks
from retrainer.tasks.context import Context
from retrainer.training.models import load_xgboost, score_xgboost
from tests.conftest import generate_source, week

FIRST = "2026-11-16T00:00:00+00:00"
SECOND = "2026-11-23T00:00:00+00:00"


def _run(as_of, dag_params=None):
    batch = tasks.extract(tasks.Run(*week(as_of)), dag_params)
    tasks.validate(batch["manifest_uri"], dag_params)
    tasks.check_labels(tasks.Run(*week(as_of)), dag_params)
    trained = tasks.train(tasks.Run(*week(as_of)), dag_params)
    evaluated = tasks.evaluate(trained["run_manifest_uri"], dag_params)
    return trained, tasks.register(
        trained["run_manifest_uri"], evaluated["gates_uri"], "manual__test", dag_params
    )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Two weekly runs on one storage root; shared by the tests below because DVC training takes seconds."""
    mp = pytest.MonkeyPatch()
    var = tmp_path_factory.mktemp("var")
    mp.setenv("RETRAINER_VAR_DIR", str(var))
    mp.setenv("RETRAINER_MODEL", "fraud-xgb")  # two models are configured; these runs train the fraud model
    from retrainer.core.settings import Settings
    from retrainer.storage import open_storage

    settings = Settings.from_env()
    generate_source(
        open_storage(settings.source_root), days=77, last_day=__import__("datetime").date(2026, 11, 22)
    )
    first_trained, first = _run(FIRST, {"extract_window_days": 56})
    # The week before runs after it (reaching back 56 days too, before the training window of FIRST): its
    # batch overlaps FIRST's by seven weeks and holds a week from outside FIRST's window.
    earlier = tasks.extract(tasks.Run(*week("2026-11-09T00:00:00+00:00")), {"extract_window_days": 56})
    tasks.validate(earlier["manifest_uri"])
    rerun_trained, rerun = _run(FIRST, {"extract_window_days": 56})
    second_trained, second = _run(SECOND)
    yield {
        "settings": settings,
        "storage": open_storage(settings.storage_root),
        "first": first,
        "first_trained": first_trained,
        "rerun": rerun,
        "rerun_trained": rerun_trained,
        "second": second,
        "second_trained": second_trained,
    }
    mp.undo()


def test_first_passing_model_becomes_champion_with_lineage(pipeline):
    first = pipeline["first"]
    assert first["created"] and first["version"] == 1 and first["aliases"] == [CHAMPION]
    record = Registry(pipeline["storage"], "fraud-xgb").get(CHAMPION)
    lock = yaml.safe_load(Registry(pipeline["storage"], "fraud-xgb").read_file(1, "dvc.lock"))
    batches_dep = next(d for d in lock["stages"]["prepare"]["deps"] if d["path"] == "data/batches")
    assert record["data_hash"] == batches_dep["md5"]
    assert record["airflow_run_id"] == "manual__test"
    assert record["params"]["run"]["as_of"] == FIRST
    assert record["git"]["source"] in {"git", "unavailable", "RETRAINER_GIT_REVISION"}
    assert {g["name"] for g in record["gates"]} >= {
        "min_pr_auc",
        "beats_baseline",
        "no_regression_vs_champion",
    }


def test_rerunning_a_week_after_an_overlapping_run_trains_on_the_same_rows_and_adds_no_version(pipeline):
    assert pipeline["rerun"]["version"] == 1 and not pipeline["rerun"]["created"]
    assert pipeline["rerun_trained"]["data_hash"] == pipeline["first_trained"]["data_hash"]
    storage = pipeline["storage"]
    run = json.loads(storage.get_text(storage.key_of(pipeline["rerun_trained"]["run_manifest_uri"])))
    # both batches were read; each transaction of the 56 days was trained on once, none from outside
    assert run["window"]["rows"] == 56 * 2000
    used = {b["run_key"]: (b["rows_in_window"], b["rows_used"]) for b in run["batches"]}
    assert used == {"2026-11-09T000000Z": (49 * 2000, 0), "2026-11-16T000000Z": (56 * 2000, 56 * 2000)}


def test_lineage_names_the_bytes_trained_on(pipeline):
    record = Registry(pipeline["storage"], "fraud-xgb").get(1)
    window = record["training_window"]
    assert (window["start"], window["end"]) == ("2026-09-21T00:00:00+00:00", "2026-11-16T00:00:00+00:00")
    assert len(window["sha256"]) == 64 and window["rows"] == 56 * 2000
    [batch] = record["batches"]
    manifest = json.loads(pipeline["storage"].get_text(pipeline["storage"].key_of(batch["manifest_uri"])))
    assert batch["sha256"] == manifest["sha256"]


def test_the_openlineage_lineage_of_a_version_names_each_batch_read_and_the_version(pipeline):
    storage, rerun = pipeline["storage"], pipeline["rerun"]
    run = json.loads(storage.get_text(storage.key_of(pipeline["rerun_trained"]["run_manifest_uri"])))
    keys = {layout.batch_file_key("fraud-xgb", b["run_key"]): b["sha256"] for b in run["batches"]}
    read = {storage.uri(key): sha256 for key, sha256 in keys.items()}
    assert {d["uri"]: d["version"] for d in rerun["lineage"]["inputs"]} == read and len(read) == 2
    assert [(d["uri"], d["version"]) for d in rerun["lineage"]["outputs"]] == [(rerun["record_uri"], "1")]


def test_register_refuses_a_gate_report_that_judged_other_model_bytes(pipeline):
    storage = pipeline["storage"]
    run_uri = pipeline["second_trained"]["run_manifest_uri"]
    gates = json.loads(storage.get_text("runs/fraud-xgb/2026-11-23T000000Z/gates.json"))
    assert (
        gates["challenger_sha256"]
        == json.loads(storage.get_text(storage.key_of(run_uri)))["files"]["models/model.ubj"]["sha256"]
    )
    forged_bytes = json.dumps(gates | {"challenger_sha256": "0" * 64}).encode()
    forged = storage.put_bytes("runs/fraud-xgb/2026-11-23T000000Z/gates-other.json", forged_bytes)
    with pytest.raises(register.NotGated, match="judged model bytes 0000"):  # even with its own sha256
        tasks.register(run_uri, forged, "manual__forged", gates_sha256=sha256_bytes(forged_bytes))
    assert len(Registry(storage, "fraud-xgb").versions()) == 2


def test_next_week_registers_a_challenger_compared_with_the_champion(pipeline):
    second = pipeline["second"]
    assert second["version"] == 2 and second["aliases"] == [CHALLENGER]
    registry = Registry(pipeline["storage"], "fraud-xgb")
    assert registry.get(CHAMPION)["version"] == 1
    assert registry.get(2)["metrics"]["champion"]["version"] == 1


def test_registered_model_loads_and_scores(pipeline, params):
    import io

    import pandas as pd

    from retrainer.features.matrix import build_matrix

    registry = Registry(pipeline["storage"], "fraud-xgb")
    booster = load_xgboost(registry.read_file(CHAMPION, "model.ubj"))
    run = json.loads(
        pipeline["storage"].get_text(
            pipeline["storage"].key_of(pipeline["first_trained"]["run_manifest_uri"])
        )
    )
    holdout_uri = run["files"]["data/prepared/holdout.parquet"]["uri"]
    holdout = pd.read_parquet(
        io.BytesIO(pipeline["storage"].get_bytes(pipeline["storage"].key_of(holdout_uri)))
    )
    scores = score_xgboost(booster, build_matrix(holdout, params["features"]))
    assert scores.shape == (len(holdout),) and scores.min() >= 0 and scores.max() <= 1
    assert scores[holdout["is_fraud"] == 1].mean() > 5 * scores[holdout["is_fraud"] == 0].mean()


def test_data_and_models_are_pushed_to_the_dvc_remote(pipeline):
    remote = pipeline["settings"].dvc_remote
    from pathlib import Path

    assert sum(1 for p in Path(remote).rglob("*") if p.is_file()) > 5


def test_the_dvc_cache_links_the_workspace_files_rather_than_copying_them(pipeline):
    """The window and the prepared splits are in the cache once: the workspace's files are hard links to
    the cache's (read-only, so a stray write cannot corrupt the cache), not a second full copy."""
    import os
    import stat
    from pathlib import Path

    from retrainer.data.published import read_run

    workspace = Path(
        read_run(pipeline["storage"], pipeline["second_trained"]["run_manifest_uri"])["workspace"]
    )
    cache = pipeline["settings"].dvc_cache_dir
    cached = {(p.stat().st_dev, p.stat().st_ino) for p in cache.rglob("*") if p.is_file()}
    for name in ("data/batches/window.parquet", "data/prepared/train.parquet", "models/model.ubj"):
        path = workspace / name
        assert (path.stat().st_dev, path.stat().st_ino) in cached, f"{name} is a copy, not the cache's file"
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), f"{name} is writable"
    assert os.access(workspace / "data/prepared/holdout.parquet", os.R_OK)


def test_an_impossible_gate_stops_the_run_and_keeps_the_champion(pipeline):
    with pytest.raises(GateFailed, match="min_pr_auc FAILED"):
        tasks.evaluate(pipeline["first_trained"]["run_manifest_uri"], {"min_pr_auc": 0.99})
    assert Registry(pipeline["storage"], "fraud-xgb").get(CHAMPION)["version"] == 1


def test_unknown_dag_param_is_refused():
    with pytest.raises(ConfigError, match="min_prauc"):
        Context.load({"min_prauc": 0.5}, "fraud-xgb")


def test_gate_report_is_stored_with_the_registry_version(pipeline):
    registry = Registry(pipeline["storage"], "fraud-xgb")
    gates = json.loads(registry.read_file(2, "gates.json"))
    assert gates["passed"] and gates["champion_version"] == 1
    assert {g["name"] for g in gates["gates"]} >= {
        "beats_baseline",
        "beats_rule",
        "no_regression_vs_champion",
        "min_slice_roc_auc",
        "no_slice_regression",
    }
    interval = gates["non_regression"]
    assert interval["low"] <= interval["estimate"] <= interval["high"] and interval["confidence"] == 0.95
    markdown = registry.read_file(2, "report.md").decode()
    assert f"[{interval['low']:+.4f}, {interval['high']:+.4f}]" in markdown
    assert "| region=latam |" in markdown and "Saved against the champion" in markdown
    html = registry.read_file(2, "report.html").decode()
    # the PR and cost curves, the calibration's reliability diagram, and the tables
    assert html.count("<svg") == 3 and "<table>" in html


def test_the_champion_is_compared_at_its_own_stored_threshold(pipeline):
    registry = Registry(pipeline["storage"], "fraud-xgb")
    champion, challenger = registry.get(1), registry.get(2)
    assert champion["decision"]["threshold"] > 0 and challenger["decision"]["threshold"] > 0
    costs = challenger["costs"]["models"]
    assert costs["champion"]["threshold"] == champion["decision"]["threshold"]
    assert costs["challenger"]["threshold"] == challenger["decision"]["threshold"]
    assert challenger["costs"]["saved_vs_champion"] == pytest.approx(
        costs["champion"]["total"] - costs["challenger"]["total"]
    )


def _dvc(cwd, *args):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dvc_metrics_and_plots_compare_two_runs(pipeline, tmp_path):
    import shutil
    import subprocess

    workspaces = pipeline["settings"].work_dir / "fraud-xgb"
    first, second = workspaces / "2026-11-16T000000Z", workspaces / "2026-11-23T000000Z"
    shown = json.loads(_dvc(second, "metrics", "show", "--json"))[""]["data"]["reports/metrics.json"]["data"]
    assert {"challenger", "baseline", "rule", "slices"} <= set(shown)
    assert shown["slices"]["region=latam"]["positives"] > 0 and shown["challenger"]["cost"]["total"] > 0

    # `dvc metrics diff` and `dvc plots diff` compare git revisions: commit one run's pipeline files, then
    # put the other's in the working tree, as a reviewer would with two versions.
    def copy_run(workspace):
        for name in ("dvc.yaml", "params.yaml", "dvc.lock", "reports"):
            source = workspace / name
            if source.is_dir():
                shutil.copytree(source, tmp_path / name, dirs_exist_ok=True)
            else:
                shutil.copy2(source, tmp_path / name)

    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    _dvc(tmp_path, "init", "-q")
    copy_run(first)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "first run"], cwd=tmp_path, check=True)
    copy_run(second)
    diff = json.loads(_dvc(tmp_path, "metrics", "diff", "HEAD", "--json"))["reports/metrics.json"]
    assert diff["challenger.pr_auc"]["new"] == shown["challenger"]["pr_auc"]
    plots = json.loads(_dvc(tmp_path, "plots", "diff", "HEAD", "--json"))["data"]
    assert set(plots) == {
        "Precision-recall on the holdout (interpolated)",
        "Expected cost on the holdout by number of alerts",
    }
    for rendered in plots.values():
        assert set(rendered[0]["revisions"]) == {"workspace", "HEAD"}


def test_a_rerun_is_the_same_version_unless_what_makes_the_model_changed(params):
    run = {"run_key": "2026-11-16T000000Z", "data_hash": "abc.dir"}
    key = register.idempotency_key("fraud-xgb", run, params)
    judged = {**params, "gates": {**params["gates"], "min_pr_auc": 0.9}, "slices": {}, "validation": {}}
    assert register.idempotency_key("fraud-xgb", run, judged) == key
    retrained = {**params, "train": {**params["train"], "seed": params["train"]["seed"] + 1}}
    assert register.idempotency_key("fraud-xgb", run, retrained) != key
    assert register.idempotency_key("fraud-xgb", {**run, "data_hash": "other.dir"}, params) != key
    # the code that made the model is part of it: another revision, another version
    assert register.idempotency_key("fraud-xgb", run, params, "abc123") != key
    assert register.idempotency_key("fraud-xgb", run, params, "abc123") == register.idempotency_key(
        "fraud-xgb", run, params, "abc123"
    )


def test_a_week_waits_for_its_late_files_but_a_past_week_does_not():
    from datetime import UTC, datetime, timedelta

    ended_now = datetime.now(UTC).replace(microsecond=0)
    assert not tasks.late_files_landed(tasks.Run(ended_now - timedelta(days=7), ended_now), None, "fraud-xgb")
    assert tasks.late_files_landed(tasks.Run(*week("2026-11-16T00:00:00+00:00")), None, "fraud-xgb")
    drift_triggered = tasks.Run(run_id="asset_triggered__x", run_after=ended_now)  # no data interval
    assert tasks.late_files_landed(drift_triggered, None, "fraud-xgb")  # its week ended last Monday 00:00


def test_a_drift_triggered_run_covers_the_week_up_to_its_newest_evidence():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    def event(as_of):
        return SimpleNamespace(extra={"run": "x", "as_of": as_of})

    # two monitor runs' evidence consumed by one run (a burst): the newest one ends its week
    events = (event("2026-11-25T00:00:00+00:00"), event("2026-11-26T06:00:00+00:00"))
    params = Context.load(None, "fraud-xgb").params  # the shipped schedule: Mondays 00:00 UTC
    run = tasks.Run(
        run_id="asset_triggered__x", run_after="2026-12-02T09:00:00+00:00", consumed_asset_events=events
    )
    assert tasks._interval(run, params) == (
        datetime(2026, 11, 19, tzinfo=UTC),
        datetime(2026, 11, 26, tzinfo=UTC),
    )
    assert tasks.late_files_landed(run, None, "fraud-xgb")  # the evidence was judged on files that had landed
    # without evidence: the last complete calendar week before it was due
    bare = tasks.Run(run_id="asset_triggered__y", run_after="2026-12-02T09:00:00+00:00")
    assert tasks._interval(bare, params) == (
        datetime(2026, 11, 23, tzinfo=UTC),
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    # a scheduled run keeps its data interval whatever events it carries
    scheduled = tasks.Run(*week("2026-11-16T00:00:00+00:00"), consumed_asset_events=events)
    assert tasks._interval(scheduled, params)[1] == datetime(2026, 11, 16, tzinfo=UTC)


def test_route_reads_the_model_its_dag_names_not_the_environment(monkeypatch, var_dir):
    monkeypatch.delenv("RETRAINER_MODEL", raising=False)  # two models configured: the DAG names one
    registered = {"version": 2, "created": True, "aliases": ["challenger"]}
    assert tasks.route(registered, None, "ato-xgb")
    assert not tasks.route(registered, {"approval": "auto"}, "fraud-xgb")
