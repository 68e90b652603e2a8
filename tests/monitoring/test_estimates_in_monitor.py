"""The estimate inside a whole monitor run (`monitoring.monitor.check_drift`, as the monitor DAG's task
calls it), without training through DVC: a small real XGBoost champion registered with a published run
(its valid and holdout splits) and a scored day whose scores promise little (estimated PR-AUC below the
bound): the run's report counts the estimate as a drift kind, the alert names it, the page shows it, and
the model's estimates history holds the day."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import numpy as np
import pandas as pd

from retrainer.core import artifacts, layout
from retrainer.core.models import load_model
from retrainer.monitoring.monitor import check_drift
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.sources.partitions import partition_key, read_partition
from retrainer.storage import open_storage
from tests.conftest import PROJECT_DIR
from tests.deploy_helpers import train_model, write_days

MODEL = "fraud-xgb"


def _publish_run(storage, frames: dict[str, pd.DataFrame]) -> str:
    """A training run's manifest naming its published splits with their sha256; returns its URI."""
    files = {}
    for split, frame in frames.items():
        data = frame.to_parquet(index=False)
        uri = storage.put_bytes(layout.run_file_key(MODEL, "r1", artifacts.prepared(split)), data)
        files[artifacts.prepared(split)] = {"uri": uri, "sha256": hashlib.sha256(data).hexdigest()}
    manifest = layout.run_file_key(MODEL, "r1", layout.MANIFEST_FILE)
    return storage.put_text(manifest, json.dumps({"files": files}))


def test_a_monitor_run_estimates_the_scored_day_and_shows_it(tmp_path):
    params = load_model(PROJECT_DIR, MODEL)
    source, storage = open_storage(tmp_path / "source"), open_storage(tmp_path / "storage")
    days = write_days(source, 4, rows=600, first=date(2026, 11, 1))
    reference = read_partition(source.get_bytes(partition_key(days[0])))
    registry = Registry(storage, MODEL)
    record, _ = registry.register(
        {"model.ubj": train_model(params)},
        {
            "params": params,
            "decision": {"threshold": 0.05},
            "metrics": {"challenger": {"pr_auc": 0.5}},
            "as_of": "2026-11-02T00:00:00+00:00",
            "run_manifest_uri": _publish_run(storage, {"valid": reference, "holdout": reference}),
            "data_hash": "abc.dir",
        },
        "run-1",
        actor="test",
    )
    registry.set_alias(CHAMPION, record["version"], "test", "the champion", expected=None)
    judged_day = days[-1]
    day = read_partition(source.get_bytes(partition_key(judged_day)))
    p = np.random.default_rng(1).beta(0.5, 20, len(day))  # ~15 expected frauds, poorly ranked
    scores = pd.DataFrame(
        {"transaction_id": day["transaction_id"], "champion_score": p, "champion_version": np.int32(1)}
    )
    storage.put_bytes(layout.scores_file_key(MODEL, judged_day.isoformat()), scores.to_parquet(index=False))

    result = check_drift(storage, source, params, "2026-11-05T06:00:00+00:00")
    report = json.loads(storage.get_text(storage.key_of(result["report_uri"])))
    (entry,) = report["estimate"]["days"]
    print(f"\nmonitor run {result['run']}: {result['verdict']} {report['kinds']}; {result['alert']}")
    assert entry["day"] == judged_day.isoformat() and entry["champion_version"] == record["version"]
    assert entry["estimate"]["pr_auc"]["estimate"] < params["gates"]["min_pr_auc"]
    assert "estimate" in report["kinds"] and "estimated PR-AUC" in result["alert"]
    history = json.loads(storage.get_text(layout.estimates_key(MODEL)))
    assert history["days"][judged_day.isoformat()]["estimate"] == entry["estimate"]
    page = storage.get_text(storage.key_of(result["page_uri"]))
    assert "Estimated performance (from the scores, before labels)" in page
    assert result["evidence"]["estimate"]["breaches"][0]["day"] == judged_day.isoformat()
