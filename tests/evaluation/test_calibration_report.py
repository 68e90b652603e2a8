"""The calibration travels with the version: evaluate scores the challenger with its run's calibration and
writes ECE, Brier and a reliability diagram into the gate report; register keeps the file (sha256-checked)
and its figures in the lineage; scoring and the next evaluation's champion use it; a version registered
before calibration existed scores as it always did."""

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from retrainer.core import artifacts, calibration, layout
from retrainer.core.models import load_model
from retrainer.core.settings import Settings
from retrainer.evaluation.evaluate import champion_on, evaluate_run
from retrainer.evaluation.report import render_html, render_markdown
from retrainer.features.matrix import build_matrix
from retrainer.registry.register import register_run
from retrainer.registry.store import Registry
from retrainer.scoring.models import load_scorer
from retrainer.storage import ChecksumMismatch, open_storage
from retrainer.training.models import load_fitted
from tests.conftest import PROJECT_DIR
from tests.evaluation.test_raw_columns import _measured
from tests.published_run import publish_run

MODEL = "fraud-xgb"


def _params() -> dict:
    params = copy.deepcopy(load_model(PROJECT_DIR, MODEL))
    params["features"] = {
        "numeric": ["amount", "account_age_days", "customer_id__amount_mean_30d"],
        "categorical": {"channel": ["pos", "ecom", "atm", "wallet"]},
        "derived": {},
    }
    params["slices"]["levels"] = ["channel"]
    # scale_pos_weight: raw scores far above the 5 % positive rate, so calibration has work to do
    params["train"]["xgboost"] |= {"n_jobs": 1, "n_estimators": 60, "early_stopping_rounds": 10}
    params["train"]["xgboost"]["scale_pos_weight"] = 10.0
    params["train"]["calibration"] = "isotonic"
    # Gates any model passes: these tests are about what is stored and shown, not about the verdict.
    params["gates"] |= {
        "min_pr_auc": 0.0,
        "min_recall_at_fpr": 0.0,
        "min_margin_over_baseline": -1.0,
        "min_margin_over_rule": -1.0,
        "min_slice_roc_auc": 0.0,
        "champion_tolerance": 1.0,
        "slice_tolerance": 1.0,
    }
    return params


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict, dict]:
    workspace, params = tmp_path_factory.mktemp("calibrated"), _params()
    return workspace, params, _measured(workspace, params)


def _publish(storage, workspace: Path, params: dict, metrics: dict, run_key: str, calibrated: bool = True):
    """The run as train publishes it (the files evaluate and register read), with or without calibration."""
    files = {name: f"{name} of {run_key}".encode() for name in artifacts.PUBLISHED}
    names = [artifacts.MODEL, artifacts.BASELINE, artifacts.CALIBRATION]
    files |= {name: (workspace / name).read_bytes() for name in names}
    splits = [artifacts.prepared(s) for s in ("valid", "holdout")]
    files |= {name: (workspace / name).read_bytes() for name in splits}
    files |= {"params.yaml": yaml.safe_dump(params).encode(), "dvc.lock": b"stages: {}\n"}
    if not calibrated:
        del files[artifacts.CALIBRATION]
    return publish_run(storage, MODEL, run_key, files, metrics)


@pytest.fixture
def setup(tmp_path):
    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(tmp_path / "var")})
    return settings, open_storage(settings.storage_root)


def test_the_gate_report_shows_ece_brier_and_a_reliability_diagram_raw_and_calibrated(trained, setup):
    workspace, params, metrics = trained
    _, storage = setup
    run = _publish(storage, workspace, params, metrics, "2026-11-23T000000Z")
    evaluated = evaluate_run(storage, run["manifest_uri"], params)
    gates = json.loads(storage.get_text(storage.key_of(evaluated["gates_uri"])))
    found = gates["calibration"]
    print(
        f"\nholdout ECE {found['uncalibrated']['ece']:.4f} raw -> {found['calibrated']['ece']:.4f} "
        f"calibrated, Brier {found['uncalibrated']['brier']:.4f} -> {found['calibrated']['brier']:.4f}; "
        "positive rate "
        f"{found['positive_rate']:.4f}, mean score {found['uncalibrated']['mean_score']:.4f} -> "
        f"{found['calibrated']['mean_score']:.4f}"
    )
    assert found["method"] == "isotonic" and found["fitted_on"]["rows"] == 1000
    assert found["calibrated"]["ece"] < found["uncalibrated"]["ece"]
    assert len(found["calibrated"]["reliability"]) == found["bins"]

    markdown = storage.get_text(layout.run_file_key(MODEL, run["run_key"], layout.REPORT_MD))
    assert "## Calibration" in markdown
    assert f"| calibrated | {found['calibrated']['ece']:.4f} |" in markdown
    assert f"| raw model | {found['uncalibrated']['ece']:.4f} |" in markdown
    html = storage.get_text(layout.run_file_key(MODEL, run["run_key"], layout.REPORT_HTML))
    figure = html.split('<figure aria-label="Reliability on the holdout">', 1)[1].split("</figure>", 1)[0]
    assert figure.lstrip().startswith("<svg") and "<script" not in html.lower()


def test_a_gate_report_written_before_calibration_renders_without_the_section(trained, setup):
    from tests.evaluation.test_report import _assessment

    report, curves = _assessment()
    assert "calibration" not in report
    assert "## Calibration" not in render_markdown(report)
    assert "Reliability" not in render_html(report, curves)


def test_the_version_keeps_its_calibration_and_scoring_and_the_next_champion_use_it(trained, setup):
    workspace, params, metrics = trained
    settings, storage = setup
    run = _publish(storage, workspace, params, metrics, "2026-11-23T000000Z")
    evaluated = evaluate_run(storage, run["manifest_uri"], params)
    registered = register_run(settings, storage, run["manifest_uri"], evaluated["gates_uri"], "manual__t")
    registry = Registry(storage, MODEL)
    record = registry.get(registered["version"])
    assert artifacts.CALIBRATION_FILE in record["files"]
    assert record["calibration"]["method"] == "isotonic"
    assert record["calibration"]["calibrated"]["ece"] < record["calibration"]["uncalibrated"]["ece"]

    holdout = pd.read_parquet(workspace / artifacts.prepared("holdout"))
    booster, _ = load_fitted(workspace / "models")
    mapping = calibration.Calibration.from_json((workspace / artifacts.CALIBRATION).read_text())
    expected = mapping.apply(booster.inplace_predict(build_matrix(holdout, params["features"])))
    scorer = load_scorer(registry, registered["version"])
    assert scorer.threshold == metrics["challenger"]["decision_threshold"]  # on the calibrated scale
    assert np.array_equal(scorer.score(build_matrix(holdout, params["features"])), expected)
    # The next run's evaluation scores this champion as it scores in production: calibrated.
    champion = champion_on(registry, holdout, lambda: holdout, params)
    assert np.array_equal(champion.scores, expected) and champion.threshold == scorer.threshold

    # Its bytes are checked like the model's: an edited calibration is refused.
    key = storage.key_of(record["files"][artifacts.CALIBRATION_FILE]["key"])
    storage.put_text(key, mapping.to_json().replace('"isotonic"', '"off"'))
    with pytest.raises(ChecksumMismatch):
        load_scorer(registry, registered["version"])


def test_a_run_published_without_calibration_registers_a_version_that_scores_raw(trained, setup):
    workspace, params, metrics = trained
    settings, storage = setup
    params = copy.deepcopy(params)
    params["train"]["calibration"] = "off"
    raw_metrics = _measured(workspace.parent / "raw", params)  # thresholds on the raw scale
    run = _publish(storage, workspace.parent / "raw", params, raw_metrics, "2026-11-23T000000Z", False)
    evaluated = evaluate_run(storage, run["manifest_uri"], params)
    registered = register_run(settings, storage, run["manifest_uri"], evaluated["gates_uri"], "manual__t")
    registry = Registry(storage, MODEL)
    assert artifacts.CALIBRATION_FILE not in registry.get(registered["version"])["files"]
    scorer = load_scorer(registry, registered["version"])
    assert scorer.calibration.identity
    holdout = pd.read_parquet(workspace / artifacts.prepared("holdout"))
    x = build_matrix(holdout, params["features"])
    scores = scorer.score(x)
    assert scores.dtype == np.float32 and np.array_equal(scores, scorer.booster.inplace_predict(x))
