"""Which challenger a drift-triggered run keeps: the fit weighted toward the drifted days, or the
unweighted fit of the same rows, chosen by importance-weighted validation (IWCV, Sugiyama, Krauledat and
Mueller 2007). Each model's PR-AUC (average precision) on the valid split, with every valid row weighing
its importance p_recent(x) / p_matured(x), estimates its PR-AUC on the recent rows, whose labels are not
known yet. On a valid split of a few thousand rows that estimate is noisy (its importance weights leave
an effective sample of a third to two thirds of the rows), and the plain rule "keep the weighted model if
its estimate is not lower" kept, on generated drift, a weighted model 0.031 PR-AUC worse on the drifted
days than the unweighted one on an estimated gain of +0.010 (tests/training/test_adapt.py). So the
one-standard-error rule (Hastie, Tibshirani and Friedman, ESL 7.10) decides: the weighted model, the more
complex choice, is kept only if its estimate beats the unweighted one's by at least `min_gain_se` standard
errors of the difference (a seeded paired bootstrap over the valid rows); `min_gain_se: 0` is plain IWCV.

In: the two fitted boosters, the valid split (matrix, labels) and its rows' importance weights.
Out: the booster kept and the report the fit stage writes (`artifacts.FIT_REPORT`), which the version's
lineage (`training.adapt.lineage`) carries."""

from __future__ import annotations

from typing import Any

import numpy as np

from retrainer.training.weights import effective_sample_size


def importance_weighted_pr_auc(y: np.ndarray, scores: np.ndarray, importance: np.ndarray) -> float:
    """The average precision of `scores` on labels `y`, each row weighing `importance` (scikit-learn's
    `average_precision_score` with sample_weight): an estimate of the PR-AUC on the rows they resemble."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, scores, sample_weight=importance))


BOOTSTRAP_RESAMPLES = 200  # paired resamples of the valid rows for the standard error of the difference


def difference_standard_error(
    y: np.ndarray, weighted: np.ndarray, unweighted: np.ndarray, importance: np.ndarray, seed: int
) -> float:
    """The standard error of the importance-weighted PR-AUC difference (weighted - unweighted scores)
    over `BOOTSTRAP_RESAMPLES` paired resamples of the rows (the same rows for both models, seeded);
    a resample with one class is skipped."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        rows = rng.integers(0, len(y), size=len(y))
        if np.unique(y[rows]).size < 2:
            continue
        differences.append(
            importance_weighted_pr_auc(y[rows], weighted[rows], importance[rows])
            - importance_weighted_pr_auc(y[rows], unweighted[rows], importance[rows])
        )
    return float(np.std(differences, ddof=1)) if len(differences) > 1 else float("inf")


def unweighted_report(reason: str) -> dict[str, Any]:
    """The fit report of a run that fitted only the unweighted model, and why."""
    return {"weighted": False, "kept": "unweighted", "reason": reason}


def choose(
    unweighted,
    weighted,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    importance: np.ndarray,
    settings: dict[str, Any],
    seed: int,
) -> tuple[Any, dict[str, Any]]:
    """The booster to keep of `unweighted` and `weighted` (fitted with the weights flattened by
    `settings["flatten"]`, params' `adaptation`) and the report: both models' importance-weighted and
    plain valid PR-AUC, the gain's bootstrap standard error and the margin `settings["min_gain_se"]`
    asked, their trees, the valid rows' effective sample size under `importance`, which was kept and why.
    With no valid row (or one class) there is nothing to judge the weighted fit by: the unweighted one is
    kept."""
    if len(y_valid) == 0 or np.unique(y_valid).size < 2:
        return unweighted, unweighted_report(
            "drift-triggered run without a valid split of both classes to judge the weighted fit by: "
            "the unweighted fit is kept"
        )
    from sklearn.metrics import average_precision_score

    boosters = {"weighted": weighted, "unweighted": unweighted}
    scores = {name: booster.inplace_predict(x_valid) for name, booster in boosters.items()}
    estimate = {name: importance_weighted_pr_auc(y_valid, s, importance) for name, s in scores.items()}
    plain = {name: float(average_precision_score(y_valid, s)) for name, s in scores.items()}
    flatten, margin = float(settings["flatten"]), float(settings["min_gain_se"])
    gain = estimate["weighted"] - estimate["unweighted"]
    se = difference_standard_error(
        y_valid, scores["weighted"], scores["unweighted"], np.asarray(importance, dtype=np.float64), seed
    )
    keep = gain >= margin * se
    figures = (
        f"importance-weighted valid PR-AUC {estimate['weighted']:.4f} against {estimate['unweighted']:.4f} "
        f"unweighted, a gain of {gain:+.4f} (standard error {se:.4f}; kept only from {margin:g} standard "
        "errors up)"
    )
    reason = (
        f"the weighted fit (importance ** {flatten:g}) is kept: {figures}"
        if keep
        else f"the unweighted fit is kept over the weighted one (importance ** {flatten:g}): {figures}"
    )
    report = {
        "weighted": bool(keep),
        "kept": "weighted" if keep else "unweighted",
        "reason": reason,
        "flatten": flatten,
        "iw_pr_auc": estimate,  # estimates of each model's PR-AUC on the recent rows (IWCV)
        "gain": gain,
        "gain_standard_error": se,  # paired bootstrap over the valid rows
        "min_gain_se": margin,
        "valid_pr_auc": plain,  # the same, unweighted: on the matured valid rows as they are
        "trees": {name: int(booster.num_boosted_rounds()) for name, booster in boosters.items()},
        "valid_rows": int(len(y_valid)),
        "valid_effective_sample_size": effective_sample_size(importance),
        "early_stopping": "each model on the unweighted valid PR-AUC",
    }
    return (weighted if keep else unweighted), report
