"""Which challenger a drift-triggered run keeps: the fit weighted toward the drifted days, or the
unweighted fit of the same rows, chosen by importance-weighted validation (IWCV, Sugiyama, Krauledat and
Mueller 2007). Each model's PR-AUC (average precision) on the valid split, with every valid row weighing
its importance p_recent(x) / p_matured(x), estimates its PR-AUC on the recent rows, whose labels are not
known yet. The weighted model is kept only if that estimate is not lower than the unweighted one's: on
generated covariate drift a weighted fit was measured far worse on the drifted days than the unweighted
one (tests/training/test_adapt.py), so weighting has to earn its place run by run.

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


def unweighted_report(reason: str) -> dict[str, Any]:
    """The fit report of a run that fitted only the unweighted model, and why."""
    return {"weighted": False, "kept": "unweighted", "reason": reason}


def choose(
    unweighted, weighted, x_valid: np.ndarray, y_valid: np.ndarray, importance: np.ndarray, flatten: float
) -> tuple[Any, dict[str, Any]]:
    """The booster to keep of `unweighted` and `weighted` (fitted with the flattened weights, `flatten`)
    and the report: both models' importance-weighted and plain valid PR-AUC, their trees, the valid rows'
    effective sample size under `importance`, which was kept and why. With no valid row (or one class)
    there is nothing to judge the weighted fit by: the unweighted one is kept."""
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
    keep = estimate["weighted"] >= estimate["unweighted"]
    figures = f"{estimate['weighted']:.4f} against {estimate['unweighted']:.4f}"
    reason = (
        f"the weighted fit (importance ** {flatten:g}) is kept: its importance-weighted valid PR-AUC "
        f"{figures} unweighted"
        if keep
        else f"the unweighted fit is kept: the weighted one's (importance ** {flatten:g}) "
        f"importance-weighted valid PR-AUC {figures} unweighted is lower"
    )
    report = {
        "weighted": bool(keep),
        "kept": "weighted" if keep else "unweighted",
        "reason": reason,
        "flatten": float(flatten),
        "iw_pr_auc": estimate,  # estimates of each model's PR-AUC on the recent rows (IWCV)
        "valid_pr_auc": plain,  # the same, unweighted: on the matured valid rows as they are
        "trees": {name: int(booster.num_boosted_rounds()) for name, booster in boosters.items()},
        "valid_rows": int(len(y_valid)),
        "valid_effective_sample_size": effective_sample_size(importance),
        "early_stopping": "each model on the unweighted valid PR-AUC",
    }
    return (weighted if keep else unweighted), report
