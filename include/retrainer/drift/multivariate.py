"""Multivariate drift: a classifier two-sample test of the reference rows against the current rows.

A domain classifier (drift/domain.py) is fit on one part of both samples and scored on the rest. If the
two samples come from one law, no classifier beats chance on held-out rows: its AUC is 0.5 up to noise.
The noise is measured, not assumed: the held-out domain labels are permuted against the fixed held-out
scores (exchangeable under the null, so a valid permutation test, and cheap: no refit), and the AUC's
threshold is the 1 - alpha quantile of those permuted AUCs. Drift needs the AUC above that threshold AND
at least `multivariate_min_auc`, an effect-size floor, so that a huge sample does not alarm on a trivial
difference. The features the classifier relied on (permutation importance on held-out rows: how much
the AUC falls when a feature is shuffled) are the root cause.

This sees what per-feature checks cannot: two features that stopped moving together, a spread change
that keeps the mean, a category whose share moved without moving the whole distribution much.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT, DriftConfig, as_config
from retrainer.drift.domain import domain_classifier, encode, subsample

PERMUTATION_BATCH_CELLS = 4_000_000  # permuted ranks held in memory at once (32 MB of float64)
IMPORTANCE_REPEATS = 3


def permutation_aucs(scores: np.ndarray, labels: np.ndarray, permutations: int, seed: int) -> np.ndarray:
    """The AUC of fixed `scores` against `permutations` random permutations of the 0/1 `labels`.

    Rank form of the AUC (Mann-Whitney, mid-ranks for ties): the positives' rank sum minus its minimum,
    over n1 * n0, so each permutation costs one shuffle and one sum, never a sort.
    """
    ranks = rankdata(scores)
    n = ranks.size
    n1 = int(labels.sum())
    n0 = n - n1
    rng = np.random.default_rng(seed)
    batch = max(1, PERMUTATION_BATCH_CELLS // n)
    sums = []
    for start in range(0, permutations, batch):
        shuffled = rng.permuted(np.broadcast_to(ranks, (min(batch, permutations - start), n)), axis=1)
        sums.append(shuffled[:, :n1].sum(axis=1))
    rank_sums = np.concatenate(sums)
    return (rank_sums - n1 * (n1 + 1) / 2) / (n1 * n0)


def _insufficient(rows: dict, cfg: DriftConfig, reason: str) -> dict:
    return {
        "verdict": INSUFFICIENT,
        "reason": reason,
        "auc": None,
        "threshold": None,
        "min_auc": cfg.multivariate_min_auc,
        "p_value": None,
        "rows": rows,
        "features": [],
        "root_cause": [],
    }


def multivariate_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    config: DriftConfig | dict | None = None,
    *,
    features: list[str] | None = None,
    categorical: list[str] | None = None,
) -> dict:
    """The classifier two-sample test of `current` against `reference` over `features` (default: the
    reference's columns; `categorical` names the categorical ones, default: by dtype).

    Returns a JSON-able dict: `verdict` ("drift", "no drift", "insufficient data"), `auc` (held-out),
    `threshold` (permutation-calibrated), `min_auc`, `p_value` (permutation), `alpha`, `permutations`,
    `rows` (each side's rows, fitted and held out), `features` ([{feature, importance}], the AUC lost when
    the feature is shuffled, highest first; computed when the verdict is drift), `root_cause` (their names)
    and `seconds`. Settings: the `multivariate_*` fields of DriftConfig; `seed` seeds everything.
    """
    started = time.perf_counter()
    cfg = as_config(config)
    features = list(reference.columns if features is None else features)
    if categorical is None:
        from retrainer.drift.data import is_categorical

        categorical = [name for name in features if is_categorical(reference[name])]
    categorical = [name for name in categorical if name in set(features)]
    rows = {"reference": len(reference), "current": len(current)}
    if len(current) < cfg.multivariate_min_rows or len(reference) < cfg.multivariate_min_rows:
        return _insufficient(rows, cfg, f"fewer than {cfg.multivariate_min_rows} rows on a side")
    rng = np.random.default_rng(cfg.seed)
    # Subsample before encoding: a million reference rows cost only the rows the classifier reads.
    ref_rows = subsample(len(reference), cfg.multivariate_max_rows, rng)
    cur_rows = subsample(len(current), cfg.multivariate_max_rows, rng)
    (x_ref, x_cur), mask = encode([reference.iloc[ref_rows], current.iloc[cur_rows]], features, categorical)
    x = np.vstack([x_ref, x_cur])
    y = np.r_[np.zeros(ref_rows.size, dtype=np.int8), np.ones(cur_rows.size, dtype=np.int8)]
    fit, held = train_test_split(
        np.arange(y.size), test_size=cfg.multivariate_holdout_share, stratify=y, random_state=cfg.seed
    )
    rows.update(
        fit_reference=int((y[fit] == 0).sum()),
        fit_current=int((y[fit] == 1).sum()),
        held_reference=int((y[held] == 0).sum()),
        held_current=int((y[held] == 1).sum()),
    )
    model = domain_classifier(mask, cfg.seed, balanced=True).fit(x[fit], y[fit])
    scores = model.predict_proba(x[held])[:, 1]
    auc = float(roc_auc_score(y[held], scores))
    null = permutation_aucs(scores, y[held], cfg.multivariate_permutations, cfg.seed)
    threshold = float(np.quantile(null, 1 - cfg.multivariate_alpha, method="higher"))
    p_value = float((1 + np.count_nonzero(null >= auc)) / (1 + null.size))
    drifted = auc > threshold and auc >= cfg.multivariate_min_auc
    relied = _importance(model, x[held], y[held], features, cfg) if drifted else []
    return {
        "verdict": DRIFT if drifted else NO_DRIFT,
        "auc": auc,
        "threshold": threshold,
        "min_auc": cfg.multivariate_min_auc,
        "p_value": p_value,
        "alpha": cfg.multivariate_alpha,
        "permutations": cfg.multivariate_permutations,
        "rows": rows,
        "features": relied,
        "root_cause": [f["feature"] for f in relied],
        "seconds": round(time.perf_counter() - started, 3),
    }


def _importance(model, x: np.ndarray, y: np.ndarray, features: list[str], cfg: DriftConfig) -> list[dict]:
    """The features the classifier relied on: the held-out AUC lost when each is shuffled (at most
    `multivariate_importance_rows` held-out rows, stratified), the top `multivariate_top_features` with
    a positive loss, highest first."""
    if y.size > cfg.multivariate_importance_rows:
        keep, _ = train_test_split(
            np.arange(y.size), train_size=cfg.multivariate_importance_rows, stratify=y, random_state=cfg.seed
        )
        x, y = x[keep], y[keep]
    found = permutation_importance(
        model, x, y, scoring="roc_auc", n_repeats=IMPORTANCE_REPEATS, random_state=cfg.seed
    )
    order = np.argsort(-found.importances_mean, kind="stable")
    return [
        {"feature": features[i], "importance": float(found.importances_mean[i])}
        for i in order[: cfg.multivariate_top_features]
        if found.importances_mean[i] > 0
    ]
