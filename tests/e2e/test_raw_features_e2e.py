"""The shipped raw-events model through real Airflow: `retrain_raw-fraud-xgb` trains on the behaviour features
its params declare (computed by the featurize stage of the DVC pipeline, over the source history before the
window), passes its gates with them, far above the same model on the raw columns alone; then
`score_raw-fraud-xgb` scores a later day with the same features, computed by the same code."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from retrainer.core.feature_declarations import derived_feature_names

pytestmark = pytest.mark.e2e

MODEL = "raw-fraud-xgb"


def test_retrain_then_score_the_raw_events_model(airflow):
    airflow.retrainer("generate", "--model", MODEL, "--end", "2026-11-17", "--days", "72")

    run = airflow.dags_test(f"retrain_{MODEL}", "2026-11-16", {"extract_window_days": 56})
    assert run.state == "success", run.log[-3000:]
    assert run.tasks["register"] == "success"
    shown = airflow.retrainer("registry", "show", "champion", "--json", env={"RETRAINER_MODEL": MODEL})
    shown = json.loads(shown)
    params = shown["params"]
    names = derived_feature_names(params)
    assert names and shown["features"]["derived"] == names  # the lineage records the definitions
    workspace = airflow.var / "work" / MODEL / shown["run_key"]
    lock = (workspace / "dvc.lock").read_text()
    assert "featurize" in lock and "features.derived" in lock  # a changed declaration is a changed run

    gates = json.loads((airflow.var / "storage/runs" / MODEL / shown["run_key"] / "gates.json").read_text())
    compared = gates["raw_columns"]
    print(
        f"\n{MODEL}: holdout PR-AUC with declared features {compared['challenger_pr_auc']:.3f}, "
        f"the same model on the raw columns alone {compared['pr_auc']:.3f}"
    )
    assert gates["passed"] and compared["challenger_pr_auc"] > compared["pr_auc"] + 0.3
    # a slice may name a derived feature (new_customer: customer_id__amount_count_30d < 5)
    assert "new_customer" in {row["slice"] for row in gates["slices"]["rows"]}

    scored = airflow.dags_test(f"score_{MODEL}", "2026-11-18")
    assert scored.state == "success", scored.log[-3000:]
    scores = pd.read_parquet(airflow.var / f"storage/scores/{MODEL}/date=2026-11-17/scores.parquet")
    assert len(scores) == 2000 and scores["score"].notna().all() and (scores["decided_by"] == 1).all()
    assert (airflow.var / f"storage/scores/{MODEL}/date=2026-11-17/features.parquet").exists()  # what it saw
    report = json.loads((airflow.var / f"storage/scores/{MODEL}/date=2026-11-17/report.json").read_text())
    inputs = report["health"]["input"]["features"]  # the day's derived features, against training's
    assert set(names) <= set(inputs) and all(inputs[n]["missing_share"] < 0.5 for n in names)
    assert report["breaches"] == [], report["breaches"]

    # The drift monitor judges the derived features too, computed the same way for its days
    monitored = airflow.dags_test(f"monitor_{MODEL}", "2026-11-18")
    assert monitored.state == "success", monitored.log[-3000:]
    [drift] = (airflow.var / f"storage/monitoring/{MODEL}").glob("*/drift.json")
    judged = {f["feature"] for f in json.loads(drift.read_text())["data"]["features"]}
    assert set(names) <= judged
