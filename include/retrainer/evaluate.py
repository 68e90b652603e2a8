"""Metrics on the holdout, and the gates a challenger must pass before it is registered."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from retrainer.errors import Rejected


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, fpr_target: float) -> dict[str, float]:
    """PR-AUC (average precision), ROC-AUC and recall at a false-positive-rate budget."""
    y_true = np.asarray(y_true)
    fpr, tpr, _ = roc_curve(y_true, scores)
    return {
        "pr_auc": float(average_precision_score(y_true, scores)),
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "recall_at_fpr": float(tpr[fpr <= fpr_target].max()),
        "rows": int(len(y_true)),
        "positives": int(y_true.sum()),
    }


def pr_curve_rows(y_true: np.ndarray, scores: np.ndarray, model: str, points: int = 200) -> list[dict]:
    """Precision-recall points for `dvc plots`, thinned to about `points` rows."""
    precision, recall, _ = precision_recall_curve(y_true, scores)
    keep = np.unique(np.linspace(0, len(precision) - 1, num=min(points, len(precision))).astype(int))
    return [
        {"model": model, "recall": round(float(recall[i]), 5), "precision": round(float(precision[i]), 5)}
        for i in keep
    ]


@dataclass(frozen=True)
class Gate:
    name: str
    value: float | None
    threshold: float | None
    passed: bool
    detail: str

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.name} {verdict}: {self.detail}"


class GateFailed(Rejected):
    """The challenger failed one or more evaluation gates; the champion stays as it is."""

    def __init__(self, gates: list[Gate], report_uri: str | None = None) -> None:
        self.gates = gates
        self.report_uri = report_uri
        failed = [g for g in gates if not g.passed]
        lines = "\n".join(f"  - {g.describe()}" for g in failed)
        where = f" (report: {report_uri})" if report_uri else ""
        super().__init__(f"challenger rejected by {len(failed)} gate(s){where}:\n{lines}")

    @property
    def failed(self) -> list[str]:
        return [g.name for g in self.gates if not g.passed]


def _floor(name: str, value: float, threshold: float) -> Gate:
    return Gate(name, value, threshold, value >= threshold, f"{value:.4f} (threshold >= {threshold:.4f})")


def evaluate_gates(
    challenger: dict[str, float],
    baseline: dict[str, float],
    champion: dict[str, float] | None,
    gates: dict[str, Any],
) -> list[Gate]:
    """Every gate, passed or not: absolute floors, beat the baseline, no regression against the champion.

    All three sets of metrics must come from the same holdout.
    """
    results = [
        _floor("min_pr_auc", challenger["pr_auc"], gates["min_pr_auc"]),
        _floor("min_recall_at_fpr", challenger["recall_at_fpr"], gates["min_recall_at_fpr"]),
    ]
    margin = challenger["pr_auc"] - baseline["pr_auc"]
    results.append(
        Gate(
            "beats_baseline",
            margin,
            gates["min_margin_over_baseline"],
            margin > gates["min_margin_over_baseline"],
            f"PR-AUC {challenger['pr_auc']:.4f} vs baseline {baseline['pr_auc']:.4f}: "
            f"margin {margin:+.4f} (must exceed {gates['min_margin_over_baseline']:+.4f})",
        )
    )
    if champion is None:
        results.append(
            Gate("no_regression_vs_champion", None, None, True, "no champion yet: nothing to regress from")
        )
    else:
        delta = challenger["pr_auc"] - champion["pr_auc"]
        tolerance = gates["champion_tolerance"]
        results.append(
            Gate(
                "no_regression_vs_champion",
                delta,
                -tolerance,
                delta >= -tolerance,
                f"PR-AUC {challenger['pr_auc']:.4f} vs champion {champion['pr_auc']:.4f}: "
                f"delta {delta:+.4f} (must be >= {-tolerance:+.4f})",
            )
        )
    return results


def gate_report(gates: list[Gate]) -> dict:
    return {"passed": all(g.passed for g in gates), "gates": [asdict(g) for g in gates]}
