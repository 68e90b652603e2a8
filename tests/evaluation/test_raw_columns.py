"""A model that declares derived features is measured against the same XGBoost on its raw columns alone:
in the `measure` stage's metrics and in the gate report, informative and never a gate. Models without
derived features get no comparison and no extra fit."""

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrainer.core import artifacts, layout
from retrainer.core.artifacts import RAW_COLUMNS
from retrainer.core.feature_declarations import derived_feature_names
from retrainer.core.models import load_model
from retrainer.evaluation import holdout
from retrainer.evaluation.evaluate import evaluate_run
from retrainer.evaluation.holdout import measure, raw_columns_comparison
from retrainer.evaluation.metrics import pr_auc
from retrainer.evaluation.report import render_markdown
from retrainer.storage import open_storage
from retrainer.training.stages import fit
from tests.conftest import PROJECT_DIR
from tests.evaluation.test_report import _assessment
from tests.published_run import publish_run

# A customer's 30-day mean amount, as the feature engine names it: the column that carries the signal.
WINDOWS = [{"entity": "customer_id", "value": "amount", "aggregations": ["mean"], "windows": ["30d"]}]
SPLITS = {"train": 4000, "valid": 1000, "holdout": 1500}


def _params(derived: dict | None = None, numeric=("amount", "account_age_days"), categorical=True) -> dict:
    params = copy.deepcopy(load_model(PROJECT_DIR, "fraud-xgb"))
    params["features"] = {
        "numeric": list(numeric),
        "categorical": {"channel": ["pos", "ecom", "atm", "wallet"]} if categorical else {},
        "derived": derived or {},
    }
    params["slices"]["levels"] = ["channel"]  # the frame holds no region or card_present
    params["train"]["xgboost"] |= {"n_jobs": 1, "n_estimators": 60, "early_stopping_rounds": 10}
    return params


def _prepared(directory: Path) -> Path:
    """train | valid | holdout of raw columns that say little about the label, and the derived column
    (as the `featurize` stage would add it) that says much."""
    rng = np.random.default_rng(5)
    directory.mkdir(parents=True)
    for name, n in SPLITS.items():
        y = (rng.random(n) < 0.05).astype(int)
        pd.DataFrame(
            {
                "transaction_id": [f"{name}-{i}" for i in range(n)],
                "customer_id": rng.integers(0, 300, n),
                "amount": rng.lognormal(4, 1, n),
                "account_age_days": rng.integers(1, 2000, n),
                "channel": rng.choice(["pos", "ecom", "atm", "wallet"], n),
                "customer_id__amount_mean_30d": 2.5 * y + rng.normal(size=n),
                "is_fraud": y,
            }
        ).to_parquet(directory / f"{name}.parquet", index=False)
    return directory


def _measured(workspace: Path, params: dict) -> dict:
    prepared, models = _prepared(workspace / "data/prepared"), workspace / "models"
    fit(prepared, models, params)
    return measure(prepared, models, workspace / "reports/metrics.json", workspace / "reports/pr.csv", params)


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> tuple[Path, dict, dict]:
    workspace, params = tmp_path_factory.mktemp("declared"), _params({"windows": WINDOWS})
    assert derived_feature_names(params) == ["customer_id__amount_mean_30d"]
    return workspace, params, _measured(workspace, params)


def test_measure_reports_the_same_model_on_the_raw_columns_alone(declared):
    workspace, params, metrics = declared
    comparison = metrics[RAW_COLUMNS]
    assert json.loads((workspace / "reports/metrics.json").read_text())[RAW_COLUMNS] == comparison
    assert comparison["comparable"] and comparison["derived"] == 1
    assert comparison["columns"] == ["amount", "account_age_days", "channel"]
    assert comparison["features"] == 2 + 4  # two numeric columns and four channel levels
    assert comparison["challenger_pr_auc"] == metrics["challenger"]["pr_auc"]
    assert comparison["lift"] == pytest.approx(comparison["challenger_pr_auc"] - comparison["pr_auc"])
    # The raw-columns model never sees the derived column: it ranks far below that column on its own.
    frame = pd.read_parquet(workspace / "data/prepared/holdout.parquet")
    alone = pr_auc(frame["is_fraud"], frame["customer_id__amount_mean_30d"])
    assert alone > 0.5 and comparison["pr_auc"] < alone / 2
    # The same fit (params, seed, splits) again gives the same numbers: the stage's figure is reproducible.
    again = raw_columns_comparison(
        workspace / "data/prepared",
        frame,
        {
            "pr_auc": comparison["challenger_pr_auc"],
            "roc_auc": comparison["challenger_roc_auc"],
            "features": comparison["challenger_features"],
        },
        params,
    )
    assert again == comparison


def test_the_gate_report_shows_declared_features_against_the_raw_columns(declared):
    _, _, metrics = declared
    comparison = metrics[RAW_COLUMNS]
    report, _ = _assessment()
    plain = render_markdown(report)
    markdown = render_markdown(report | {RAW_COLUMNS: comparison})
    assert "raw columns alone" not in plain.lower()  # a model without derived features: no change
    assert markdown.startswith(plain.rstrip("\n"))
    assert (
        f"Declared features vs raw columns alone: PR-AUC {comparison['challenger_pr_auc']:.4f} against "
        f"{comparison['pr_auc']:.4f}, lift {comparison['lift']:+.4f}"
    ) in markdown
    assert f"| raw columns alone | 6 | {comparison['pr_auc']:.4f} | {comparison['roc_auc']:.4f} |" in markdown


def test_evaluate_puts_the_comparison_of_the_run_in_its_gate_report(declared, tmp_path):
    workspace, params, metrics = declared
    # Gates any model passes: this test is about what the report shows, not about the verdict.
    params = copy.deepcopy(params)
    params["gates"] |= {
        "min_pr_auc": 0.0,
        "min_recall_at_fpr": 0.0,
        "min_margin_over_baseline": -1.0,
        "min_margin_over_rule": -1.0,
        "min_slice_roc_auc": 0.0,
    }
    storage = open_storage(tmp_path / "storage")
    model, comparison = params["model"]["name"], metrics[RAW_COLUMNS]
    published = [artifacts.MODEL, artifacts.BASELINE, *map(artifacts.prepared, ("valid", "holdout"))]
    files = {name: (workspace / name).read_bytes() for name in published}
    run = publish_run(storage, model, "2026-11-23T000000Z", files, metrics)
    evaluated = evaluate_run(storage, run["manifest_uri"], params)
    gates = json.loads(storage.get_text(storage.key_of(evaluated["gates_uri"])))
    assert gates[RAW_COLUMNS] == comparison
    markdown = storage.get_text(layout.run_file_key(model, run["run_key"], layout.REPORT_MD))
    assert "## Declared features against the raw columns alone" in markdown
    assert f"against {comparison['pr_auc']:.4f}, lift {comparison['lift']:+.4f}" in markdown
    # the page a person opens is the one evaluate sealed, named by its address in the Airflow UI
    from retrainer.registry.gate_report import sealed_page_sha256
    from retrainer.storage.base import sha256_bytes

    assert evaluated["report_url"] == layout.run_report_url(model, run["run_key"])
    assert "report_uri" not in evaluated  # no storage URI of the page in the task's XCom
    page = storage.get_bytes(layout.run_file_key(model, run["run_key"], layout.REPORT_HTML))
    assert sealed_page_sha256(storage, model, run["run_key"], layout.REPORT_HTML) == sha256_bytes(page)


def test_a_model_without_derived_features_gets_no_comparison_and_no_extra_fit(tmp_path, monkeypatch):
    params = _params()
    prepared, models = _prepared(tmp_path / "data/prepared"), tmp_path / "models"
    fit(prepared, models, params)

    def no_second_fit(*args, **kwargs):
        raise AssertionError("measure fitted a raw-columns model for a model without derived features")

    monkeypatch.setattr(holdout, "train_xgboost", no_second_fit)
    metrics = measure(prepared, models, tmp_path / "metrics.json", tmp_path / "pr.csv", params)
    assert RAW_COLUMNS not in metrics
    assert RAW_COLUMNS not in json.loads((tmp_path / "metrics.json").read_text())


def test_a_model_whose_every_feature_is_derived_is_reported_not_comparable(tmp_path, monkeypatch):
    params = _params({"windows": WINDOWS}, numeric=(), categorical=False)
    monkeypatch.setattr(holdout, "train_xgboost", pytest.fail)  # nothing to fit on
    prepared = _prepared(tmp_path / "prepared")
    frame = pd.read_parquet(prepared / "holdout.parquet")
    challenger = {"pr_auc": 0.61, "roc_auc": 0.9, "features": 1}
    comparison = raw_columns_comparison(prepared, frame, challenger, params)
    assert not comparison["comparable"] and comparison["features"] == 0
    assert comparison["pr_auc"] is None and comparison["lift"] is None
    assert "every feature of the model is derived" in comparison["reason"]
    report, _ = _assessment()
    assert "Not comparable: every feature of the model is derived" in render_markdown(
        report | {RAW_COLUMNS: comparison}
    )
