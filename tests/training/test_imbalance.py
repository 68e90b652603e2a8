"""Class imbalance by configuration (`train.imbalance`): scale_pos_weight (a number or `auto` =
negatives / positives) reaches the booster; negative down-sampling keeps every positive and a seeded
share of the negatives weighing 1 / rate, so the scores stay unbiased; both are in the fit report, the run
manifest and the version's lineage with the search's trials."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from retrainer.core import artifacts, layout
from retrainer.core.settings import Settings
from retrainer.features import matrix
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.register import register_run
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from retrainer.training import imbalance, stages
from retrainer.training.models import fit_xgboost, load_xgboost
from tests.published_run import gate_report, publish_run
from tests.training.test_tuning import prepared_splits, shipped_params


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return prepared_splits(tmp_path_factory.mktemp("imbalance"), 400, shipped_params())


def _with(params: dict, **settings) -> dict:
    params = copy.deepcopy(params)
    params["train"]["imbalance"] = {"scale_pos_weight": None, "negative_sample_rate": None, **settings}
    params["train"]["xgboost"]["n_estimators"] = 60
    params["train"]["xgboost"]["early_stopping_rounds"] = 20
    return params


def _valid_scores(models: Path, prepared: Path, params: dict) -> np.ndarray:
    x, _ = stages._xy(prepared / "valid.parquet", params)
    return load_xgboost((models / artifacts.MODEL_FILE).read_bytes()).inplace_predict(x)


def test_negative_down_sampling_keeps_every_positive_and_a_seeded_share_of_negatives():
    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.02).astype(np.int8)
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    kept_x, kept_y, weights, report = imbalance.down_sample(x, y, None, 0.1, seed=42)
    assert report["positives"] == int(y.sum()) == int(kept_y.sum())  # every positive kept
    assert report["negatives_after"] == pytest.approx(0.1 * report["negatives_before"], rel=0.1)
    assert np.all(np.diff(kept_x[:, 0]) > 0)  # in their order
    np.testing.assert_allclose(weights[kept_y == 0], 10.0, rtol=1e-6)  # 1 / rate
    np.testing.assert_allclose(weights[kept_y == 1], 1.0)
    # weighted, the kept negatives count as all of them: the loss of every row in expectation
    assert weights[kept_y == 0].sum() == pytest.approx(report["negatives_before"], rel=0.1)
    again = imbalance.down_sample(x, y, None, 0.1, seed=42)
    np.testing.assert_array_equal(again[0], kept_x)  # the same seed keeps the same rows
    # a drift-triggered run's weights are kept and multiplied
    _, _, scaled, _ = imbalance.down_sample(x, y, np.full(len(y), 2.0, np.float32), 0.1, seed=42)
    np.testing.assert_allclose(scaled, 2 * weights, rtol=1e-6)


def test_auto_scale_pos_weight_is_negatives_over_positives_and_reaches_the_booster(tmp_path, prepared):
    params = _with(shipped_params(), scale_pos_weight="auto")
    report = stages.fit(prepared, tmp_path / "auto", params)
    x_train, y_train = stages._xy(prepared / "train.parquet", params)
    ratio = (len(y_train) - y_train.sum()) / y_train.sum()
    assert report["imbalance"]["scale_pos_weight"] == "auto"
    assert report["imbalance"]["scale_pos_weight_used"] == pytest.approx(ratio)
    # the saved challenger is the booster fitted with that scale_pos_weight
    x_valid, y_valid = stages._xy(prepared / "valid.parquet", params)
    block = {**params["train"]["xgboost"], "scale_pos_weight": float(ratio)}
    names = matrix.feature_names(params["features"])
    expected, _ = fit_xgboost(x_train, y_train, x_valid, y_valid, names, block, params["train"]["seed"])
    np.testing.assert_array_equal(
        _valid_scores(tmp_path / "auto", prepared, params), expected.inplace_predict(x_valid)
    )
    # scores of a positive-weighted loss are no longer probabilities: they overshoot the fraud rate
    plain = stages.fit(prepared, tmp_path / "plain", _with(shipped_params()))
    assert plain["imbalance"]["applied"] is False
    rate = y_valid.mean()
    auto_mean = _valid_scores(tmp_path / "auto", prepared, params).mean()
    plain_mean = _valid_scores(tmp_path / "plain", prepared, params).mean()
    print(
        f"valid fraud rate {rate:.4f}; mean score plain {plain_mean:.4f}, scale_pos_weight auto "
        f"{auto_mean:.4f}"
    )
    assert auto_mean > 3 * rate


def test_down_sampled_negatives_weighted_one_over_the_rate_keep_the_scores_unbiased(tmp_path, prepared):
    full = _with(shipped_params())
    sampled = _with(shipped_params(), negative_sample_rate=0.2)
    stages.fit(prepared, tmp_path / "full", full)
    report = stages.fit(prepared, tmp_path / "sampled", sampled)
    kept = report["imbalance"]["sample"]
    assert kept["rows_after"] < 0.3 * kept["rows_before"] and kept["negative_weight"] == pytest.approx(5.0)
    # the same rows without their weights: what down-sampling alone does to the scores
    x_train, y_train = stages._xy(prepared / "train.parquet", full)
    x_valid, y_valid = stages._xy(prepared / "valid.parquet", full)
    x_kept, y_kept, _, _ = imbalance.down_sample(x_train, y_train, None, 0.2, full["train"]["seed"])
    names = matrix.feature_names(full["features"])
    unweighted, _ = fit_xgboost(
        x_kept, y_kept, x_valid, y_valid, names, full["train"]["xgboost"], full["train"]["seed"]
    )
    rate = y_valid.mean()
    means = {
        "every row": _valid_scores(tmp_path / "full", prepared, full).mean(),
        "down-sampled, weighted 1/rate": _valid_scores(tmp_path / "sampled", prepared, sampled).mean(),
        "down-sampled, unweighted": unweighted.inplace_predict(x_valid).mean(),
    }
    print(
        f"valid fraud rate {rate:.4f}; mean valid score: "
        + ", ".join(f"{k} {v:.4f}" for k, v in means.items())
    )
    # weighted: about the fraud rate, as the fit on every row; unweighted: biased up toward 1 / rate times it
    weighted, biased = means["down-sampled, weighted 1/rate"], means["down-sampled, unweighted"]
    assert weighted == pytest.approx(rate, rel=0.35)
    assert biased > 2 * rate and abs(weighted - rate) < abs(biased - rate) / 3


def test_the_search_and_the_imbalance_handling_are_in_the_versions_lineage(tmp_path):
    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(tmp_path / "var")})
    storage = open_storage(settings.storage_root)
    model, run_key = "fraud-xgb", "2026-11-23T000000Z"
    params = _with(shipped_params(enabled=True), negative_sample_rate=0.5)
    files = {name: f"{name} of {run_key}".encode() for name in artifacts.PUBLISHED}
    files["params.yaml"], files["dvc.lock"] = yaml.safe_dump(params).encode(), b"stages: {}\n"
    metrics = {"challenger": {"pr_auc": 0.58, "recall_at_fpr": 0.5}}
    run = publish_run(storage, model, run_key, files, metrics)
    tuning_report = {
        "enabled": True,
        "seed": 7,
        "chosen": {"max_depth": 3},
        "trials": [{"number": 0, "state": "complete", "value": 0.5, "params": {"max_depth": 5}}],
    }
    balance = {"negative_sample_rate": 0.5, "applied": True, "sample": {"rows_before": 10, "rows_after": 6}}
    manifest = {**run, "tuning": tuning_report, "fit": {"imbalance": balance}}  # as train_run publishes it
    storage.put_text(storage.key_of(run["manifest_uri"]), json.dumps(manifest))
    gates = gate_report(
        run_key, files[artifacts.MODEL], metrics, [{"name": "g", "verdict": "passed", "passed": True}]
    )
    gates_uri, _ = write_sealed(storage, model, run_key, gates)
    for name in (layout.REPORT_MD, layout.REPORT_HTML):
        storage.put_text(layout.run_file_key(model, run_key, name), "report")
    registered = register_run(settings, storage, run["manifest_uri"], gates_uri, "manual__test")
    record = Registry(storage, model).get(registered["version"])
    assert record["tuning"] == tuning_report  # every trial, the chosen values and the seed
    assert record["imbalance"] == balance
