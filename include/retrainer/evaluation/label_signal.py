"""The label check: a batch's labels are judged when they mature, before the batch enters training.

Each validated batch of the training window whose labels have all matured (its window ended
`data.label_maturity_days` before the run's end) is scored by the champion, and its ROC-AUC on its labels
is compared with the champion's ROC-AUC on the labelled rows of the other batches of the window. A batch
far below them (`labels.max_roc_auc_drop`) has labels that carry no signal (a join on the wrong key, a
feed that filled in defaults): it is quarantined with a reason naming both numbers, and training goes on
without it. Before there is a champion, nothing is judged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from retrainer.core import artifacts, layout
from retrainer.core.clock import as_utc
from retrainer.data import quarantine
from retrainer.data.catalogue import read_validated_frame, validated_batches
from retrainer.data.contracts import Failure
from retrainer.evaluation.metrics import roc_auc
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import Storage
from retrainer.training import features
from retrainer.training.models import load_xgboost, score_xgboost
from retrainer.training.window import rows_in_window, window_bounds_of

EXPECTATION = "expect_batch_labels_to_rank_like_the_other_batches"

log = logging.getLogger(__name__)


def _labelled(storage: Storage, manifest: dict, start, end, params: dict[str, Any]) -> pd.DataFrame:
    frame = rows_in_window(read_validated_frame(storage, manifest), start, end, params)
    return features.label_as_of(frame, end, params)[0]


def screen_matured_batches(storage: Storage, params: dict[str, Any], end: datetime | str) -> dict:
    """Judge the labels of every matured batch of the training window ending at `end` with the champion;
    quarantine the batches whose ROC-AUC lies more than `labels.max_roc_auc_drop` below the others'.

    Returns the champion's version, one entry per judged batch (its ROC-AUC, the others', the verdict) and
    the run keys quarantined.
    """
    model, rules = params["model"]["name"], params["labels"]
    label = params["model"]["label"]
    registry = Registry(storage, model)
    if registry.alias(CHAMPION) is None:
        return {"champion_version": None, "judged": [], "quarantined": [], "note": "no champion yet"}
    record = registry.get(CHAMPION)
    booster = load_xgboost(registry.read_file(CHAMPION, artifacts.MODEL_FILE))
    start, end = window_bounds_of(params, end)
    horizon = end - timedelta(days=params["data"]["label_maturity_days"])
    rows = {}
    for manifest in validated_batches(storage, model, end, params["data"]["training_window_days"]):
        frame = _labelled(storage, manifest, start, end, params)
        if len(frame):
            scores = score_xgboost(booster, features.build_matrix(frame, record["params"]["features"]))
            rows[manifest["run_key"]] = (manifest, frame.assign(__score=scores))
    judged, quarantined = [], []
    for key, (manifest, frame) in rows.items():
        positives = int(frame[label].sum())
        if as_utc(manifest["window_end"]) > horizon or positives < rules["min_positives"]:
            continue
        ids = set(frame[params["model"]["id_column"]])
        others = [f for k, (_, f) in rows.items() if k != key]
        if not others:
            continue
        pooled = pd.concat(others, ignore_index=True)
        pooled = pooled.loc[~pooled[params["model"]["id_column"]].isin(ids)]
        if pooled[label].sum() < rules["min_positives"]:
            continue
        own, reference = roc_auc(frame[label], frame["__score"]), roc_auc(pooled[label], pooled["__score"])
        floor = reference - rules["max_roc_auc_drop"]
        entry = {
            "run_key": key,
            "roc_auc": own,
            "others_roc_auc": reference,
            "positives": positives,
            "passed": own >= floor,
        }
        judged.append(entry)
        if not entry["passed"]:
            _quarantine(storage, manifest, entry, floor, record["version"], rules, label, len(frame))
            quarantined.append(key)
    return {"champion_version": record["version"], "judged": judged, "quarantined": quarantined}


def _quarantine(storage, manifest, entry, floor, champion, rules, label, rows) -> None:
    model, key = manifest["model"], manifest["run_key"]
    failure = Failure(
        EXPECTATION,
        "critical",
        label,
        {
            "roc_auc": round(entry["roc_auc"], 4),
            "matured_positives": entry["positives"],
            "matured_rows": rows,
        },
        {
            "min_roc_auc": round(floor, 4),
            "others_roc_auc": round(entry["others_roc_auc"], 4),
            "max_roc_auc_drop": rules["max_roc_auc_drop"],
            "scored_by": f"champion version {champion}",
        },
    )
    reason = {
        "model": model,
        "run_key": key,
        "stage": "labels",
        "success": False,
        "batch_uri": manifest["batch_uri"],
        "batch_sha256": manifest["sha256"],
        "rows": manifest["rows"],
        "window_start": manifest["window_start"],
        "window_end": manifest["window_end"],
        "failures": [asdict(failure)],
        "warnings": [],
        "data_docs_uri": None,
    }
    log.warning("quarantining batch %s before training: %s", key, failure.describe())
    quarantine.quarantine_batch(
        storage, layout.batch_prefix(model, key), model, key, reason, by="check_labels"
    )
