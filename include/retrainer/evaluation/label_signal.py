"""The label check: a batch's labels are judged when they mature, before the batch enters training.

Each validated batch of the training window whose labels have all matured (its window ended
`data.label_maturity_days` before the run's end) is scored by the champion, and its ROC-AUC on its labels
is compared with the champion's ROC-AUC on the labelled rows of the other batches of the window. A batch
far below them (`labels.max_roc_auc_drop`) disagrees with the champion. That is what labels without signal
look like (a join on the wrong key, a feed that filled in defaults), and also what a new fraud pattern looks
like. The two differ in the batch itself: labels without signal are not learnable from the features (a model
fitted on the batch's own rows ranks them at chance in cross-validation), a new pattern is. So a flagged
batch is fitted on itself (a small seeded gradient-boosted model, stratified k-fold, at most
`labels.self_check_max_rows` rows) and quarantined only when its own cross-validated ROC-AUC is also below
`labels.min_self_roc_auc`, with a reason naming the three numbers; training goes on without it. Otherwise
the batch is kept, trained on, and reported as concept change (the result's `concept_change`, the log).
Before there is a champion, nothing is judged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from retrainer.core import artifacts, layout
from retrainer.core.clock import as_utc
from retrainer.data import quarantine
from retrainer.data.catalogue import read_validated_frame, validated_batches
from retrainer.data.contracts import Failure
from retrainer.deployment.state import champion_version as deployed_champion
from retrainer.evaluation.metrics import roc_auc
from retrainer.features import matrix
from retrainer.registry.store import Registry
from retrainer.storage import Storage
from retrainer.training.models import load_xgboost, score_xgboost
from retrainer.training.window import rows_in_window, window_bounds_of

EXPECTATION = "expect_batch_labels_to_rank_like_the_other_batches"
SELF_CHECK_FOLDS = 5

log = logging.getLogger(__name__)


def _labelled(storage: Storage, manifest: dict, start, end, params: dict[str, Any]) -> pd.DataFrame:
    frame = rows_in_window(read_validated_frame(storage, manifest), start, end, params)
    return matrix.label_as_of(frame, end, params)[0]


def screen_matured_batches(storage: Storage, params: dict[str, Any], end: datetime | str) -> dict:
    """Judge the labels of every matured batch of the training window ending at `end` with the champion;
    quarantine the batches whose ROC-AUC lies more than `labels.max_roc_auc_drop` below the others' and
    whose own rows are not learnable either (cross-validated ROC-AUC below `labels.min_self_roc_auc`).

    Returns the champion's version, one entry per judged batch (its ROC-AUC, the others', for a batch the
    champion disagrees with its own cross-validated `self_roc_auc`, and the `verdict`: "ok", "label noise"
    or "concept change"), the run keys quarantined and the run keys kept as concept change.
    """
    model, rules = params["model"]["name"], params["labels"]
    label = params["model"]["label"]
    registry = Registry(storage, model)
    if (champion_version := deployed_champion(registry)) is None:  # the record: what scores
        return {
            "champion_version": None,
            "judged": [],
            "quarantined": [],
            "concept_change": [],
            "note": "no champion yet",
        }
    record = registry.get(champion_version)
    booster = load_xgboost(registry.read_file(champion_version, artifacts.MODEL_FILE))
    start, end = window_bounds_of(params, end)
    horizon = end - timedelta(days=params["data"]["label_maturity_days"])
    rows = {}
    for manifest in validated_batches(storage, model, end, params["data"]["training_window_days"]):
        frame = _labelled(storage, manifest, start, end, params)
        if len(frame):
            scores = score_xgboost(booster, matrix.build_matrix(frame, record["params"]["features"]))
            rows[manifest["run_key"]] = (manifest, frame.assign(__score=scores))
    judged, quarantined, concept_change = [], [], []
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
            "passed": own >= floor,  # the champion ranks the batch like the others
            "verdict": "ok",
        }
        judged.append(entry)
        if entry["passed"]:
            continue
        entry["self_roc_auc"] = self_roc_auc(frame, label, params)
        if entry["self_roc_auc"] is not None and entry["self_roc_auc"] >= rules["min_self_roc_auc"]:
            entry["verdict"] = "concept change"
            concept_change.append(key)
            log.warning(
                "batch %s: the champion ranks its labels at ROC-AUC %.3f against %.3f on the other batches, "
                "but a model fitted on the batch itself ranks them at %.3f (labels.min_self_roc_auc %.2f): "
                "its labels are learnable, a new pattern rather than noise; kept for training",
                key, own, reference, entry["self_roc_auc"], rules["min_self_roc_auc"],
            )  # fmt: skip
            continue
        entry["verdict"] = "label noise"
        _quarantine(storage, manifest, entry, floor, record["version"], rules, label, len(frame))
        quarantined.append(key)
    return {
        "champion_version": record["version"],
        "judged": judged,
        "quarantined": quarantined,
        "concept_change": concept_change,
    }


def self_roc_auc(frame: pd.DataFrame, label: str, params: dict[str, Any]) -> float | None:
    """How learnable a batch's labels are from its own features: the ROC-AUC of out-of-fold scores of a
    small gradient-boosted model (stratified k-fold, seeded by `train.seed`) on the model's features.

    `frame` holds the batch's matured rows. At most `labels.self_check_max_rows` rows are used: every
    positive, and a seeded sample of the negatives (ROC-AUC does not depend on the class ratio). Returns None
    when a class has fewer rows than two folds need.
    """
    y = frame[label].to_numpy(dtype=np.int8)
    seed, limit = params["train"]["seed"], params["labels"]["self_check_max_rows"]
    if len(y) > limit:
        rng = np.random.default_rng(seed)
        positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        keep = rng.choice(negatives, size=max(limit - len(positives), 0), replace=False)
        rows = np.sort(np.concatenate([positives[:limit], keep]))
        frame, y = frame.iloc[rows], y[rows]
    folds = min(SELF_CHECK_FOLDS, int(y.sum()), int((y == 0).sum()))
    if folds < 2:
        return None
    # Shallow, regularised trees with a fixed number of rounds: a week holds tens of positives, and the
    # question is only whether the features carry its labels at all, not how well a tuned model would do.
    learner = HistGradientBoostingClassifier(
        max_iter=50,
        learning_rate=0.2,
        max_depth=3,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    x = matrix.build_matrix(frame, params["features"])
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    # One OpenMP thread: a fit this small gains nothing from more, and on a busy machine (a worker shared
    # with other tasks) OpenMP's spinning threads made it 30x slower (a 2,800-row week: 56 s, not 1.8 s).
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_predict(learner, x, y, cv=cv, method="predict_proba")[:, 1]
    return roc_auc(y, scores)


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
            # a model fitted on the batch's own rows (None: too few rows of a class to cross-validate)
            "self_roc_auc": None if entry["self_roc_auc"] is None else round(entry["self_roc_auc"], 4),
        },
        {
            "min_roc_auc": round(floor, 4),
            "others_roc_auc": round(entry["others_roc_auc"], 4),
            "max_roc_auc_drop": rules["max_roc_auc_drop"],
            "scored_by": f"champion version {champion}",
            "min_self_roc_auc": rules["min_self_roc_auc"],  # at or above it: a new pattern, kept
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
