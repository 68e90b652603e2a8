import numpy as np
import pytest

from retrainer.evaluate import GateFailed, classification_metrics, evaluate_gates

GATES = {
    "min_pr_auc": 0.3,
    "min_recall_at_fpr": 0.3,
    "min_margin_over_baseline": 0.0,
    "champion_tolerance": 0.01,
}


def test_recall_at_fpr_reads_the_roc_curve():
    y = np.array([0] * 100 + [1] * 10)
    scores = np.concatenate([np.linspace(0, 0.5, 100), np.linspace(0.45, 1.0, 10)])
    metrics = classification_metrics(y, scores, fpr_target=0.0)
    assert metrics["positives"] == 10 and metrics["rows"] == 110
    assert metrics["recall_at_fpr"] == pytest.approx(0.9)  # 9 of 10 frauds score above every legitimate row
    assert 0.9 < metrics["pr_auc"] <= 1.0


def _m(pr_auc, recall=0.5):
    return {"pr_auc": pr_auc, "recall_at_fpr": recall}


def test_a_good_challenger_passes_every_gate():
    gates = evaluate_gates(_m(0.5), _m(0.3), _m(0.495), GATES)
    assert all(g.passed for g in gates)
    assert [g.name for g in gates] == [
        "min_pr_auc",
        "min_recall_at_fpr",
        "beats_baseline",
        "no_regression_vs_champion",
    ]


def test_failed_gates_are_named_with_value_and_threshold():
    gates = evaluate_gates(_m(0.25, recall=0.6), _m(0.3), _m(0.4), GATES)
    error = GateFailed(gates, "file:///r/gates.json")
    assert error.failed == ["min_pr_auc", "beats_baseline", "no_regression_vs_champion"]
    assert "min_pr_auc FAILED: 0.2500 (threshold >= 0.3000)" in str(error)
    assert "delta -0.1500 (must be >= -0.0100)" in str(error)
    assert "file:///r/gates.json" in str(error)


def test_without_a_champion_the_regression_gate_passes_and_says_why():
    gate = evaluate_gates(_m(0.5), _m(0.3), None, GATES)[-1]
    assert gate.passed and "no champion yet" in gate.detail
