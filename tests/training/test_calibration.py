"""Calibrated scores through the training stages, on generated card transactions whose fraud rate is known
(the generator draws each day's frauds from probabilities whose mean is `FRAUD_RATE`): the fit stage
calibrates the challenger on its valid split, the measure stage chooses its threshold on the calibrated
scale, and a later day scored with the version's calibration says its fraud rate, with the same decisions
as the raw model."""

import copy
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrainer.core import artifacts, calibration
from retrainer.core.models import load_model
from retrainer.evaluation.holdout import measure, run_calibration
from retrainer.scoring.batch import score_frame
from retrainer.scoring.models import Scorer
from retrainer.synthetic.generator import GeneratorConfig, generate_day
from retrainer.training.models import load_fitted
from retrainer.training.stages import fit
from tests.conftest import PROJECT_DIR

FRAUD_RATE = 0.01
FIRST = date(2026, 9, 1)
SPLIT_DAYS = {"train": 20, "valid": 8, "holdout": 7}
SCORED_DAYS = 7  # days after the holdout, scored as the daily scoring would
# A day of 4,000 rows holds ~40 frauds: its realised rate alone moves by +-0.0016 (one standard deviation)
# around FRAUD_RATE; the tolerance is on the mean probability the generator drew them from.
DAY_TOLERANCE = 0.003  # |mean calibrated score of a day - FRAUD_RATE|, absolute (30 % of the rate)


def _days(start: int, count: int, seed: int = 11) -> pd.DataFrame:
    config = GeneratorConfig(rows_per_day=4000, fraud_rate=FRAUD_RATE)
    return pd.concat(
        [generate_day(FIRST + timedelta(days=start + i), seed, config) for i in range(count)],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """train | valid | holdout in time order, as the prepare stage writes them."""
    directory = tmp_path_factory.mktemp("calibration") / "data/prepared"
    directory.mkdir(parents=True)
    at = 0
    for name, count in SPLIT_DAYS.items():
        _days(at, count).to_parquet(directory / f"{name}.parquet", index=False)
        at += count
    return directory


def _params(method: str, **xgboost) -> dict:
    params = copy.deepcopy(load_model(PROJECT_DIR, "fraud-xgb"))
    params["train"]["calibration"] = method
    params["train"]["xgboost"] |= {"n_jobs": 1, "n_estimators": 120, "early_stopping_rounds": 20, **xgboost}
    return params


def _run(prepared: Path, workspace: Path, params: dict) -> dict:
    """The fit and measure stages on `prepared` in `workspace`: the models, their calibration, the metrics."""
    models = workspace / "models"
    fit(prepared, models, params)
    metrics = measure(prepared, models, workspace / "metrics.json", workspace / "pr.csv", params)
    booster, _ = load_fitted(models)
    return {"booster": booster, "calibration": run_calibration(models), "metrics": metrics, "dir": models}


@pytest.fixture(scope="module")
def scored_days() -> list[pd.DataFrame]:
    start = sum(SPLIT_DAYS.values())
    return [_days(start + i, 1) for i in range(SCORED_DAYS)]


def _scorer(run: dict, params: dict) -> Scorer:
    threshold = run["metrics"]["challenger"]["decision_threshold"]
    return Scorer(1, run["booster"], threshold, params["features"], run["calibration"])


def _acceptance(prepared: Path, workspace: Path, scored_days: list[pd.DataFrame], **xgboost) -> dict:
    params = _params("isotonic", **xgboost)
    run = _run(prepared, workspace, params)
    holdout = pd.read_parquet(prepared / "holdout.parquet")
    scorer = _scorer(run, params)
    raw_scorer = Scorer(1, run["booster"], 0.5, params["features"])  # the same model, uncalibrated
    from retrainer.features.matrix import build_matrix

    x = build_matrix(holdout, params["features"])
    y = holdout["is_fraud"].to_numpy()
    raw, calibrated = raw_scorer.score(x), scorer.score(x)
    days = []
    for day in scored_days:
        scores, _ = score_frame(day, scorer)
        days.append(
            {
                "day": str(day["event_ts"].min().date()),
                "mean_calibrated": float(scores["score"].mean()),
                "mean_raw": float(raw_scorer.score(build_matrix(day, params["features"])).mean()),
                "realised": float(day["is_fraud"].mean()),
            }
        )
    return {
        "ece_raw": calibration.ece(y, raw),
        "ece_calibrated": calibration.ece(y, calibrated),
        "brier_raw": calibration.brier(y, raw),
        "brier_calibrated": calibration.brier(y, calibrated),
        "days": days,
    }


def _print(title: str, found: dict) -> None:
    print(
        f"\n{title}: holdout ECE {found['ece_raw']:.5f} raw -> {found['ece_calibrated']:.5f} calibrated; "
        f"Brier {found['brier_raw']:.6f} -> {found['brier_calibrated']:.6f}"
    )
    for day in found["days"]:
        print(
            f"  {day['day']}: mean calibrated score {day['mean_calibrated']:.5f}, raw {day['mean_raw']:.5f}, "
            f"realised fraud rate {day['realised']:.5f}, generator's rate {FRAUD_RATE}"
        )


def test_calibrated_scores_have_a_lower_ece_and_each_day_s_mean_score_is_its_fraud_rate(
    prepared, scored_days, tmp_path
):
    # Positives weighted 20x (how class imbalance is often handled): the raw scores overstate fraud.
    weighted = _acceptance(prepared, tmp_path / "weighted", scored_days, scale_pos_weight=20.0)
    _print("scale_pos_weight 20, isotonic", weighted)
    assert weighted["ece_calibrated"] < weighted["ece_raw"]
    assert weighted["brier_calibrated"] < weighted["brier_raw"]
    for day in weighted["days"]:
        assert abs(day["mean_calibrated"] - FRAUD_RATE) <= DAY_TOLERANCE, day
        assert abs(day["mean_raw"] - FRAUD_RATE) > DAY_TOLERANCE, day  # what calibration fixed

    # The shipped model's own settings: its raw scores are close already; calibration keeps them so.
    shipped = _acceptance(prepared, tmp_path / "shipped", scored_days)
    _print("shipped params, isotonic", shipped)
    assert shipped["ece_calibrated"] < shipped["ece_raw"]
    for day in shipped["days"]:
        assert abs(day["mean_calibrated"] - FRAUD_RATE) <= DAY_TOLERANCE, day


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_changes_the_scores_and_threshold_but_not_one_decision(
    prepared, scored_days, tmp_path, method
):
    xgboost = {"scale_pos_weight": 20.0}  # a map far from the identity
    off = _run(prepared, tmp_path / "off", _params("off", **xgboost))
    on = _run(prepared, tmp_path / method, _params(method, **xgboost))
    assert (off["dir"] / artifacts.MODEL_FILE).read_bytes() == (on["dir"] / artifacts.MODEL_FILE).read_bytes()
    assert on["calibration"].method == method
    thresholds = [run["metrics"]["challenger"]["decision_threshold"] for run in (off, on)]
    print(f"\n{method}: decision threshold {thresholds[0]:.6f} raw -> {thresholds[1]:.6f} calibrated")
    assert thresholds[1] < thresholds[0]  # raw scores of a 20x-weighted model overstate the risk
    for name in ("alerts", "total"):  # the same alerts on the holdout, the same cost
        assert off["metrics"]["challenger"]["cost"][name] == on["metrics"]["challenger"]["cost"][name]
    params = _params(method, **xgboost)
    alerted = 0
    for day in scored_days:
        raw, _ = score_frame(day, _scorer(off, params))
        calibrated, _ = score_frame(day, _scorer(on, params))
        assert not np.allclose(raw["score"], calibrated["score"])
        assert np.array_equal(raw["decision"], calibrated["decision"])
        alerted += int(calibrated["decision"].sum())
    print(f"{method}: {alerted} alerts over {SCORED_DAYS} scored days, the same rows with raw scores")
    assert alerted  # the comparison decided something


def test_calibration_off_stores_the_identity_and_scores_as_before(prepared, scored_days, tmp_path):
    run = _run(prepared, tmp_path / "off", _params("off"))
    stored = (run["dir"] / artifacts.CALIBRATION_FILE).read_text()
    assert calibration.Calibration.from_json(stored).identity
    params = _params("off")
    day = scored_days[0]
    scores, _ = score_frame(day, _scorer(run, params))
    from retrainer.features.matrix import build_matrix

    raw = run["booster"].inplace_predict(build_matrix(day, params["features"]))
    assert scores["score"].dtype == np.float32 and np.array_equal(scores["score"], raw)


def test_a_challenger_fitted_on_dask_is_calibrated_on_the_valid_split_too(prepared, tmp_path, monkeypatch):
    from retrainer.features.matrix import feature_names
    from retrainer.training import stages
    from retrainer.training.models import fit_xgboost

    params = _params("platt")
    params["train"]["engine"] = "dask"

    def on_this_machine(prepared_dir, params):  # the cluster's booster is an XGBoost booster like this one
        x, y = stages._xy(prepared_dir / "train.parquet", params)
        xv, yv = stages._xy(prepared_dir / "valid.parquet", params)
        names = feature_names(params["features"])
        return fit_xgboost(x, y, xv, yv, names, params["train"]["xgboost"], params["train"]["seed"])

    monkeypatch.setattr(stages, "fit_xgboost_dask", on_this_machine)
    report = fit(prepared, tmp_path / "models", params)
    valid_rows = len(pd.read_parquet(prepared / "valid.parquet"))
    assert report["calibration"]["method"] == "platt"
    assert report["calibration"]["fitted_on"]["rows"] == valid_rows
    assert run_calibration(tmp_path / "models").method == "platt"
