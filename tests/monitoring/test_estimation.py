"""Confidence-based performance estimation (retrainer.monitoring.estimation) on calibrated scores: the
figures a set of labels gives are sklearn's, the estimate's interval holds the realised figure when the
scores are the true probabilities, and the same day gives the same estimate. Figures printed (`-s`)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from retrainer.evaluation.costs import expected_cost
from retrainer.monitoring.estimation import Ranked, estimate, realised


def test_the_figures_of_drawn_labels_are_sklearn_s_with_tied_scores():
    rng = np.random.default_rng(3)
    for rows in (40, 700, 5000):
        scores = np.round(rng.random(rows) ** 3, 2)  # many ties, as a tree model's scores have
        labels = (rng.random(rows) < scores).astype(int)
        amounts = rng.lognormal(3, 1, rows)
        ranked = Ranked.of(scores, amounts, threshold=0.3)
        order = np.argsort(-scores, kind="stable")
        pr_auc, recall, cost = ranked.figures(np.flatnonzero(labels[order]), review_cost=5.0)
        assert np.isclose(pr_auc, average_precision_score(labels, scores))
        assert np.isclose(recall, labels[scores >= 0.3].sum() / labels.sum())
        assert np.isclose(cost, expected_cost(labels, scores, amounts, 0.3, 5.0)["total"], atol=0.01)
        assert realised(labels, scores, 0.3, amounts, 5.0)["pr_auc"] == average_precision_score(
            labels, scores
        )


def test_on_calibrated_scores_the_interval_holds_the_realised_figure():
    """Days of scores that are the true probabilities: the realised PR-AUC, recall and cost of each day
    fall inside the 95 % interval on about 95 % of the days, and the estimates are unbiased."""
    rng = np.random.default_rng(11)
    inside, errors = {k: [] for k in ("pr_auc", "recall", "cost")}, []
    for _ in range(100):
        p = 1 / (1 + np.exp(-(2.5 * rng.normal(size=3000) - 6.0)))
        labels = (rng.random(3000) < p).astype(int)
        found, seen = estimate(p, 0.2, samples=200, seed=int(rng.integers(1 << 30))), realised(labels, p, 0.2)
        for name in inside:
            inside[name].append(found[name]["low"] <= seen[name] <= found[name]["high"])
        errors.append(seen["pr_auc"] - found["pr_auc"]["estimate"])
    coverage = {name: float(np.mean(v)) for name, v in inside.items()}
    print(f"\ncoverage of the 95% intervals over 100 days: {coverage}; PR-AUC bias {np.mean(errors):+.4f}")
    assert all(share >= 0.88 for share in coverage.values()), coverage
    assert abs(np.mean(errors)) < 0.02


def test_the_same_day_gives_the_same_estimate():
    p = np.random.default_rng(1).random(2000) * 0.1
    assert estimate(p, 0.05, seed=[7, 123]) == estimate(p, 0.05, seed=[7, 123])
