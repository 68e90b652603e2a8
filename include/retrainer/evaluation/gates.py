"""The gates a challenger must pass before it is registered, and `assess`: every gate, the slice table, the
interval and the money, from scores that all come from the same holdout."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from retrainer.core.bootstrap import Interval, paired_bootstrap, percentile_interval
from retrainer.core.errors import Rejected
from retrainer.evaluation.costs import cost_curve_rows, expected_cost
from retrainer.evaluation.metrics import (
    BASELINE,
    HEADLINE,
    METRICS,
    RULE,
    SLICE_METRIC,
    classification_metrics,
    pr_curve_rows,
)
from retrainer.evaluation.slices import slice_table
from retrainer.registry.aliases import CHALLENGER, CHAMPION

PASSED, FAILED, INSUFFICIENT = "passed", "failed", "insufficient data"


@dataclass(frozen=True)
class Gate:
    """One check of the challenger: its value, the threshold it is held to and the verdict.

    `verdict` is passed, failed or "insufficient data" (a slice with too few positives to judge: it neither
    passes nor fails, and the report says so). `slice` names the slice of a per-slice gate.
    """

    name: str
    value: float | None
    threshold: float | None
    verdict: str
    detail: str
    slice: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict != FAILED

    @property
    def label(self) -> str:
        return f"{self.name} [slice {self.slice}]" if self.slice else self.name

    def describe(self) -> str:
        verdict = "FAILED" if self.verdict == FAILED else self.verdict
        return f"{self.label} {verdict}: {self.detail}"

    def to_dict(self) -> dict:
        return asdict(self) | {"passed": self.passed}


def _verdict(ok: bool) -> str:
    return PASSED if ok else FAILED


class GateFailed(Rejected):
    """The challenger failed one or more evaluation gates; the champion stays as it is."""

    def __init__(self, gates: list[Gate], report_url: str | None = None) -> None:
        self.gates = gates
        self.report_url = report_url  # the gate report in the Airflow UI (`layout.run_report_url`)
        failed = [g for g in gates if not g.passed]
        lines = "\n".join(f"  - {g.describe()}" for g in failed)
        where = f" (report: {report_url})" if report_url else ""
        super().__init__(f"challenger rejected by {len(failed)} gate(s){where}:\n{lines}")

    @property
    def failed(self) -> list[str]:
        return [g.label for g in self.gates if not g.passed]


def _floor(name: str, value: float, threshold: float) -> Gate:
    return Gate(
        name, value, threshold, _verdict(value >= threshold), f"{value:.4f} (threshold >= {threshold:.4f})"
    )


# How the report names each metric.
METRIC_NAMES = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC"}


def _beats(name: str, challenger: float, other: float, margin: float, what: str, metric: str) -> Gate:
    delta = challenger - other
    shown = METRIC_NAMES[metric]
    return Gate(
        name,
        delta,
        margin,
        _verdict(delta > margin),
        f"{shown} {challenger:.4f} vs {what} {other:.4f}: margin {delta:+.4f} (must exceed {margin:+.4f})",
    )


def evaluate_gates(
    challenger: dict[str, float],
    baselines: dict[str, dict[str, float]],
    non_regression: Interval | None,
    slices: list[dict],
    gates: dict[str, Any],
    headline: str = HEADLINE,
    slice_metric: str = SLICE_METRIC,
    positives: str = "positives",
) -> list[Gate]:
    """Every gate, passed or not, from metrics that all come from the same holdout. `headline` is the
    metric of the floor, the baselines and the champion (`evaluate.metric`, PR-AUC by default) and
    `slice_metric` that of the slices (`slices.metric`, ROC-AUC); `positives` names the rows labelled 1.

    - absolute floors: `min_pr_auc`, `min_recall_at_fpr`;
    - `beats_baseline` / `beats_rule`: PR-AUC margin over each entry of `baselines` (baseline, rule);
    - `no_regression_vs_champion`: the lower bound of the paired bootstrap interval of challenger -
      champion PR-AUC must be at least -`champion_tolerance` (None: no champion yet);
    - per judged slice (rows of `slice_table`), on ROC-AUC: `min_slice_roc_auc`, the challenger's floor,
      and `no_slice_regression`: fails when the whole interval of challenger - champion lies below
      -`slice_tolerance` (slices are too small to ask each for proof of no regression; the whole
      holdout is asked for it).
    """
    results = [
        _floor("min_pr_auc", challenger[headline], gates["min_pr_auc"]),
        _floor("min_recall_at_fpr", challenger["recall_at_fpr"], gates["min_recall_at_fpr"]),
    ]
    margins = {BASELINE: "min_margin_over_baseline", RULE: "min_margin_over_rule"}
    for name, metrics in baselines.items():
        results.append(
            _beats(
                f"beats_{name}", challenger[headline], metrics[headline], gates[margins[name]], name, headline
            )
        )
    tolerance = gates["champion_tolerance"]
    if non_regression is None:
        results.append(
            Gate("no_regression_vs_champion", None, None, PASSED, "no champion yet: nothing to regress from")
        )
    else:
        results.append(
            Gate(
                "no_regression_vs_champion",
                non_regression.low,
                -tolerance,
                _verdict(non_regression.low >= -tolerance),
                f"{METRIC_NAMES[headline]} challenger - champion {non_regression.describe()}: "
                f"lower bound must be >= {-tolerance:+.4f}",
            )
        )
    results.extend(_slice_gates(slices, gates, slice_metric, positives))
    return results


def alert_rate_gate(
    challenger_alerts: int, champion_alerts: int | None, rows: int, bounds: list[float] | tuple[float, float]
) -> Gate:
    """`alert_rate_vs_champion`: the challenger's alert rate at its own decision threshold over the
    champion's at the champion's threshold, on the same `rows` holdout rows, must lie within `bounds`
    (`deployment.rollback.alert_rate_ratio`, the bounds that roll a canary back), so a challenger the
    canary would roll back on its first day is refused at registration. `champion_alerts` None: no champion
    yet, nothing to compare with (passed, and said so)."""
    low, high = float(bounds[0]), float(bounds[1])
    name, allowed = "alert_rate_vs_champion", f"allowed {low:g}x-{high:g}x, the canary's bounds"
    if champion_alerts is None:
        return Gate(name, None, None, PASSED, "no champion yet: no alert rate to compare with")
    mine, theirs = challenger_alerts / max(rows, 1), champion_alerts / max(rows, 1)
    rates = (
        f"challenger alerts on {mine:.2%} of the {rows} holdout rows ({challenger_alerts}) at its "
        f"threshold, the champion on {theirs:.2%} ({champion_alerts}) at its own"
    )
    if champion_alerts == 0:  # no ratio: equal when neither alerts, unbounded when only the challenger does
        ok = challenger_alerts == 0
        shown = "1" if ok else "unbounded"
        return Gate(name, None, high, _verdict(ok), f"{rates}: ratio {shown} ({allowed})")
    ratio = mine / theirs
    return Gate(
        name,
        ratio,
        high if ratio >= 1 else low,
        _verdict(low <= ratio <= high),
        f"{rates}: ratio {ratio:.2f}x ({allowed})",
    )


def _slice_gates(slices: list[dict], gates: dict[str, Any], metric: str, positives: str) -> list[Gate]:
    floor, tolerance = gates["min_slice_roc_auc"], gates["slice_tolerance"]
    shown = METRIC_NAMES[metric]
    results = []
    for row in slices:
        name, value = row["slice"], row[f"{CHALLENGER}_{metric}"]
        if not row["judged"]:
            count, least = row["positives"], row["min_positives"]
            why = f"{count} {positives} in {row['rows']} rows (fewer than {least}): not judged"
            results.append(Gate("min_slice_roc_auc", value, floor, INSUFFICIENT, why, name))
            results.append(Gate("no_slice_regression", None, -tolerance, INSUFFICIENT, why, name))
            continue
        results.append(
            Gate(
                "min_slice_roc_auc",
                value,
                floor,
                _verdict(value >= floor),
                f"{shown} {value:.4f} on {row['positives']} {positives} (threshold >= {floor:.4f})",
                name,
            )
        )
        if row["delta"] is None:
            results.append(
                Gate(
                    "no_slice_regression",
                    None,
                    None,
                    PASSED,
                    "no champion yet: nothing to regress from",
                    name,
                )
            )
            continue
        interval = Interval(row["delta"], row["delta_low"], row["delta_high"], row["confidence"])
        champion = row[f"{CHAMPION}_{metric}"]
        results.append(
            Gate(
                "no_slice_regression",
                interval.high,
                -tolerance,
                _verdict(interval.high >= -tolerance),
                f"{shown} {value:.4f} vs champion {champion:.4f}: {interval.describe()} "
                f"(fails when the whole interval lies below {-tolerance:+.4f})",
                name,
            )
        )
    return results


@dataclass
class Assessment:
    """What `assess` found: `report` is the JSON gate report, `curves` the data of its figures."""

    report: dict
    gates: list[Gate]
    curves: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def assess(
    y: np.ndarray,
    amounts: np.ndarray,
    scores: dict[str, np.ndarray],
    thresholds: dict[str, float],
    masks: dict[str, np.ndarray],
    params: dict[str, Any],
) -> Assessment:
    """Hold the challenger against the baselines, the champion (when `scores` has one), each slice and the
    money, all on the same holdout rows.

    `scores`: holdout scores of `challenger`, `baseline`, `rule` and optionally `champion`; `thresholds`:
    each model's decision threshold, chosen on validation data (the champion's stored with its version);
    `masks`: `slice_masks` of the holdout; `params`: the model's params (evaluate, slices, costs, gates).
    """
    y = np.asarray(y)
    fpr_target = params["evaluate"]["fpr_target"]
    boot = params["evaluate"]["bootstrap"]
    confidence = boot["confidence"]
    review_cost = params["costs"]["review_cost"]
    min_positives = params["slices"]["min_positives"]
    headline = params["evaluate"].get("metric", HEADLINE)
    slice_metric = params["slices"].get("metric", SLICE_METRIC)
    positives = params.get("model", {}).get("positives", "positives")
    has_champion = CHAMPION in scores

    metrics = {model: classification_metrics(y, s, fpr_target) for model, s in scores.items()}
    judged = {name: m for name, m in masks.items() if y[m].sum() >= min_positives and (y[m] == 0).any()}
    slice_confidence = 1 - (1 - confidence) / max(len(judged), 1)  # Bonferroni over the judged slices

    non_regression = None
    intervals: dict[str, Interval] = {}
    if has_champion:
        groups = {"all": (np.ones(len(y), dtype=bool), headline)}
        groups |= {name: (mask, slice_metric) for name, mask in judged.items()}
        distributions = paired_bootstrap(
            y, scores[CHALLENGER], scores[CHAMPION], groups, boot["resamples"], boot["seed"]
        )
        for name, distribution in distributions.items():
            mask, metric = groups[name]
            estimate = METRICS[metric](y[mask], scores[CHALLENGER][mask]) - METRICS[metric](
                y[mask], scores[CHAMPION][mask]
            )
            level = confidence if name == "all" else slice_confidence
            intervals[name] = percentile_interval(estimate, distribution, level)
        non_regression = intervals.pop("all")

    slices = slice_table(y, scores, masks, judged, intervals, min_positives)
    costs = {
        model: expected_cost(y, scores[model], amounts, thresholds[model], review_cost)
        for model in scores
        if model in thresholds
    }
    gates = evaluate_gates(
        metrics[CHALLENGER],
        {name: metrics[name] for name in (BASELINE, RULE) if name in metrics},
        non_regression,
        slices,
        params["gates"],
        headline,
        slice_metric,
        positives,
    )
    bounds = params["deployment"]["rollback"]["alert_rate_ratio"]
    alerts = {model: cost["alerts"] for model, cost in costs.items()}
    # beside the champion's gates, before the per-slice ones
    at = next((i for i, g in enumerate(gates) if g.slice is not None), len(gates))
    gates.insert(at, alert_rate_gate(alerts.get(CHALLENGER, 0), alerts.get(CHAMPION), len(y), bounds))
    report = {
        "passed": all(g.passed for g in gates),
        "headline_metric": headline,
        "positives": positives,
        "fpr_target": fpr_target,
        "metrics": metrics,
        "non_regression": None
        if non_regression is None
        else asdict(non_regression)
        | {
            "metric": headline,
            "difference": f"{CHALLENGER} - {CHAMPION}",
            "resamples": boot["resamples"],
            "seed": boot["seed"],
            "excludes_zero": non_regression.excludes_zero(),
        },
        "slices": {
            "metric": slice_metric,
            "min_positives": min_positives,
            "confidence": slice_confidence,
            "rows": slices,
        },
        "costs": {
            "review_cost_per_alert": review_cost,
            "models": costs,
            "saved_vs_champion": round(costs[CHAMPION]["total"] - costs[CHALLENGER]["total"], 2)
            if CHAMPION in costs and CHALLENGER in costs
            else None,
        },
        "thresholds": params["gates"],
        "alert_rates": {
            "rows": len(y),
            "rates": {model: count / max(len(y), 1) for model, count in alerts.items()},
            "bounds": list(bounds),  # deployment.rollback.alert_rate_ratio: challenger / champion
        },
        "gates": [g.to_dict() for g in gates],
    }
    curves = {
        "pr": pr_curve_rows(y, scores),
        "cost": cost_curve_rows(y, scores, amounts, review_cost),
        "decision_alerts": {model: cost["alerts"] for model, cost in costs.items()},
    }
    return Assessment(report, gates, curves)
