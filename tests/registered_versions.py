"""Versions registered through `register_run` as train and evaluate leave a run (a manifest with window,
splits, tuning and imbalance; a sealed gate report with gates, a slice table, costs, the paired interval
against the champion and calibration): real registry records for the comparison tests (unit and e2e)."""

from __future__ import annotations

import copy
import json

import yaml

from retrainer.core import artifacts, layout
from retrainer.core.models import load_model
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.register import register_run
from tests.conftest import PROJECT_DIR
from tests.published_run import gate_report, publish_run

MODEL = "fraud-xgb"


def model_params(**changes) -> dict:
    params = copy.deepcopy(load_model(PROJECT_DIR, MODEL))
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = params
        for part in path:
            node = node[part]
        node[last] = value
    return params


def gate_report_of(run_key: str, model_bytes: bytes, n: int, champion: int | None, slice_name: str) -> dict:
    """A passed gate report as evaluate writes it: metrics, the paired interval against the champion (if
    any), a floor, a per-slice gate, a slice table, costs and the calibration section."""
    metrics = {
        "challenger": {
            "pr_auc": 0.5 + n / 100,
            "roc_auc": 0.9,
            "recall_at_fpr": 0.4,
            "rows": 900,
            "positives": 30,
        }
    }
    gates = [
        {"name": "min_pr_auc", "value": 0.5 + n / 100, "threshold": 0.3, "verdict": "passed", "passed": True},
        {"name": "min_slice_roc_auc", "slice": slice_name, "value": 0.8, "threshold": 0.7,
         "verdict": "passed", "passed": True},
    ]  # fmt: skip
    report = gate_report(run_key, model_bytes, metrics, gates)
    calibration = {
        "method": "isotonic" if n == 2 else "none",
        "fitted_on": {"split": "valid"},
        "uncalibrated": {"ece": 0.05, "brier": 0.03, "mean_score": 0.1, "reliability": []},
        "calibrated": {"ece": 0.01 * n, "brier": 0.02, "mean_score": 0.03, "reliability": []},
    }
    slices = {
        "metric": "roc_auc",
        "rows": [
            {"slice": slice_name, "rows": 300, "positives": 12, "challenger_roc_auc": 0.8 + n / 100,
             "judged": True, "delta": 0.01 if champion else None, "delta_low": -0.02 if champion else None,
             "delta_high": 0.04 if champion else None},
        ],
    }  # fmt: skip
    costs = {"models": {"challenger": {"threshold": 0.2, "alerts": 40 + n, "total": 1000.0 - n}}}
    costs["saved_vs_champion"] = 12.5 if champion else None
    report |= {"champion_version": champion, "slices": slices, "costs": costs, "calibration": calibration}
    if champion:
        report["non_regression"] = {"estimate": 0.01, "low": -0.005, "high": 0.03, "confidence": 0.95}
    return report


def register_version(
    setup, n: int, params: dict, champion: int | None = None, slice_name: str = "channel=pos"
) -> int:
    """Publish run n (trained with `params`, tuned and down-sampled as the fit reports it) with a passed
    gate report judged against `champion`, and register it: the version number."""
    settings, storage = setup
    run_key = f"2026-11-{n + 10:02d}T000000Z"
    model_bytes = f"model {n}".encode()
    files = {name: f"{name} of {run_key}".encode() for name in artifacts.PUBLISHED}
    files[artifacts.MODEL] = model_bytes
    files["params.yaml"] = yaml.safe_dump(params).encode()
    files["dvc.lock"] = b"stages: {}\n"
    batches = []
    for day in (n, n + 1):
        batch = f"2026-11-{day:02d}T000000Z"
        uri = storage.put_text(layout.batch_file_key(MODEL, batch, layout.MANIFEST_FILE), "{}")
        batches.append({"run_key": batch, "sha256": f"sha-{day}", "manifest_uri": uri})
    run = publish_run(storage, MODEL, run_key, files, {"challenger": {"pr_auc": 0.5}}, batches)
    run["window"] |= {"rows": 1000 * n, "sha256": f"rows-sha-{n}"}
    run["prepare"] |= {
        "rows_labelled": 900 * n,
        "splits": {
            s: {"rows": r * n, "frauds": n} for s, r in (("train", 600), ("valid", 150), ("holdout", 150))
        },
    }
    run["tuning"] = {"enabled": True, "chosen": {"max_depth": 3 + n, "eta": 0.1}}
    run["fit"] = {"imbalance": {"scale_pos_weight": "auto", "negative_sample_rate": 0.1 * n, "applied": True}}
    storage.put_text(storage.key_of(run["manifest_uri"]), json.dumps(run))
    gates = gate_report_of(run_key, model_bytes, n, champion, slice_name)
    gates_uri, _ = write_sealed(storage, MODEL, run_key, gates)
    for name in (layout.REPORT_MD, layout.REPORT_HTML):
        storage.put_text(layout.run_file_key(MODEL, run_key, name), "report")
    return register_run(settings, storage, run["manifest_uri"], gates_uri, f"manual__{n}")["version"]
