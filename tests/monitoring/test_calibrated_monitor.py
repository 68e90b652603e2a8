"""The drift monitor scores the champion as scoring does: calibrated by the calibration stored with its
version, against its threshold on that scale. Its alert rate of a day is the share of rows the scoring
decided; raw scores of a model whose positives were weighted 20x would have alerted far more."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrainer.core.settings import Settings
from retrainer.evaluation.evaluate import evaluate_run
from retrainer.features.matrix import build_matrix
from retrainer.monitoring.monitor import check_drift
from retrainer.registry.register import register_run
from retrainer.registry.store import Registry
from retrainer.scoring.batch import read_day, score_frame
from retrainer.scoring.models import Scorer, load_scorer
from retrainer.storage import open_storage
from retrainer.synthetic import GeneratorConfig, generate
from retrainer.synthetic.generator import generate_day
from tests.evaluation.test_calibration_report import _publish

JUDGED = date(2026, 11, 24)  # judged by the run at 06:00 the next day; the champion's run is of 2026-11-23
CONFIG = GeneratorConfig(rows_per_day=3000, fraud_rate=0.01)


def _params(params: dict) -> dict:
    params = copy.deepcopy(params)
    params["train"]["calibration"] = "isotonic"
    params["train"]["xgboost"] |= {"n_jobs": 1, "n_estimators": 80, "early_stopping_rounds": 15}
    params["train"]["xgboost"]["scale_pos_weight"] = 20.0  # raw scores overstate the fraud rate
    params["monitoring"]["drift"]["multivariate_enabled"] = False  # not what this test is about
    params["gates"] |= {"min_pr_auc": 0.0, "min_recall_at_fpr": 0.0, "min_margin_over_baseline": -1.0}
    params["gates"] |= {"min_margin_over_rule": -1.0, "min_slice_roc_auc": 0.0}
    return params


def test_the_monitor_judges_the_champion_s_calibrated_scores_at_its_calibrated_threshold(tmp_path, params):
    params = _params(params)
    workspace = tmp_path / "workspace"
    prepared = workspace / "data/prepared"
    prepared.mkdir(parents=True)
    first = date(2026, 9, 1)
    for name, (start, days) in {"train": (0, 14), "valid": (14, 6), "holdout": (20, 5)}.items():
        frames = [generate_day(first + timedelta(days=start + i), 3, CONFIG) for i in range(days)]
        pd.concat(frames, ignore_index=True).to_parquet(prepared / f"{name}.parquet", index=False)
    metrics = _measured_on(workspace, params)
    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(tmp_path / "var")})
    storage, source = open_storage(settings.storage_root), open_storage(tmp_path / "source")
    run = _publish(storage, workspace, params, metrics, "2026-11-23T000000Z")
    evaluated = evaluate_run(storage, run["manifest_uri"], params)
    registered = register_run(settings, storage, run["manifest_uri"], evaluated["gates_uri"], "manual__t")
    generate(source, JUDGED - timedelta(days=3), JUDGED, seed=5, config=CONFIG)

    found = check_drift(storage, source, params, f"{JUDGED + timedelta(days=1)}T06:00:00+00:00")
    report = json.loads(storage.get_text(storage.key_of(found["report_uri"])))
    monitored = report["prediction"]["alert_rate"]["current"]

    scorer = load_scorer(Registry(storage, params["model"]["name"]), registered["version"])
    day = read_day(source, JUDGED)
    scored, _ = score_frame(day, scorer)
    raw = Scorer(scorer.version, scorer.booster, scorer.threshold, scorer.feature_params)  # no calibration
    raw_alerts = int((raw.score(build_matrix(day, scorer.feature_params)) >= scorer.threshold).sum())
    print(
        f"\n{JUDGED}: monitor {monitored['alerts']} alerts, scoring {int(scored['decision'].sum())}, raw "
        f"scores at the calibrated threshold {scorer.threshold:.4f} would alert {raw_alerts} of {len(day)}"
    )
    assert report["prediction"]["decision_threshold"] == scorer.threshold
    assert monitored["alerts"] == int(scored["decision"].sum()) and np.isclose(
        monitored["rate"], scored["decision"].mean()
    )
    assert raw_alerts > 2 * monitored["alerts"]  # what an uncalibrated monitor would have judged


def _measured_on(workspace, params):
    """The fit and measure stages on the workspace's prepared splits, as `dvc repro` runs them."""
    from retrainer.evaluation.holdout import measure
    from retrainer.training.stages import fit

    prepared, models = workspace / "data/prepared", workspace / "models"
    fit(prepared, models, params)
    return measure(prepared, models, workspace / "reports/metrics.json", workspace / "reports/pr.csv", params)
