"""Metrics on the holdout, and the gates a challenger must pass before it is registered.

Everything here is a pure function over arrays (labels, scores, amounts, slice masks) or a data frame, so
the statistics are unit-tested on synthetic scores. `retrainer.tasks.evaluate` loads the models and data,
scores them and calls `assess`; `retrainer.stages.evaluate` (the DVC stage) writes the run's own metrics.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from retrainer.config import ConfigError
from retrainer.errors import Rejected

HEADLINE = "pr_auc"  # the metric of the floors, the baselines and the non-regression gate
# Slices are judged by ROC-AUC: it does not depend on a slice's fraud rate, so one floor fits every slice,
# and it reads every (fraud, legitimate) pair, so it stays steady where a slice has few frauds (PR-AUC of a
# slice with 20 frauds moves by +-0.1 between two equally good models, ROC-AUC by +-0.005).
SLICE_METRIC = "roc_auc"
CHALLENGER, CHAMPION, BASELINE, RULE = "challenger", "champion", "baseline", "rule"
PASSED, FAILED, INSUFFICIENT = "passed", "failed", "insufficient data"


# --- metrics -----------------------------------------------------------------------------------------


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


def pr_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision, or None when there is no positive to rank (it is undefined then)."""
    y_true = np.asarray(y_true)
    if y_true.sum() == 0:
        return None
    return float(average_precision_score(y_true, scores))


def pr_curve_rows(y_true: np.ndarray, scores: dict[str, np.ndarray], points: int = 101) -> list[dict]:
    """Interpolated precision (the best precision at this recall or more) of each model on one recall
    grid: one row per recall level, one column per model, so `dvc plots` draws a line per model."""
    grid = np.linspace(0.0, 1.0, points)
    rows = [{"recall": round(float(r), 4)} for r in grid]
    for model, model_scores in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, model_scores)
        # recall falls along the arrays; the envelope max(precision at recall >= r) is a running maximum
        envelope = np.maximum.accumulate(precision)
        at = np.searchsorted(-recall, -grid, side="right") - 1  # last point with recall >= r
        for row, i in zip(rows, at, strict=True):
            row[model] = round(float(envelope[max(i, 0)]), 5)
    return rows


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC, or None when the rows hold only one class (it is undefined then)."""
    y_true = np.asarray(y_true)
    if y_true.sum() in (0, len(y_true)):
        return None
    return float(roc_auc_score(y_true, scores))


_METRICS = {"pr_auc": pr_auc, "roc_auc": roc_auc}


def rule_scores(frame: pd.DataFrame, expression: str) -> np.ndarray:
    """The rule baseline: a pandas expression over the columns (params.yaml `evaluate.rule`), higher is
    riskier. It is what an analyst would write without a model; the model must beat it."""
    try:
        values = frame.eval(expression)
    except Exception as error:  # pandas raises many kinds (UndefinedVariableError, SyntaxError, ...)
        raise ConfigError(f"evaluate.rule {expression!r} cannot be computed: {error}") from error
    return np.asarray(values, dtype=float)


# --- slices ------------------------------------------------------------------------------------------


def slice_masks(frame: pd.DataFrame, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """Boolean row masks of the slices configured in params.yaml `slices`, by slice name.

    `levels`: one slice per value of each column (`region=latam`); `bands`: one per interval between the
    edges of a numeric column (`50<=amount<200`); `expressions`: named boolean pandas expressions.
    """
    masks: dict[str, np.ndarray] = {}
    for column in spec.get("levels", []):
        values = _column(frame, column)
        for level in sorted(pd.unique(values), key=str):
            masks[f"{column}={level}"] = np.asarray(values == level)
    for column, edges in (spec.get("bands") or {}).items():
        values = _column(frame, column).to_numpy(dtype=float)
        edges = sorted(float(e) for e in edges)
        bounds = [-math.inf, *edges, math.inf]
        for low, high in zip(bounds[:-1], bounds[1:], strict=True):
            if low == -math.inf:
                name = f"{column}<{high:g}"
            elif high == math.inf:
                name = f"{column}>={low:g}"
            else:
                name = f"{low:g}<={column}<{high:g}"
            masks[name] = (values >= low) & (values < high)
    for name, expression in (spec.get("expressions") or {}).items():
        try:
            mask = np.asarray(frame.eval(expression))
        except Exception as error:
            raise ConfigError(f"slice {name!r} ({expression!r}) cannot be computed: {error}") from error
        if mask.dtype != bool:
            raise ConfigError(f"slice {name!r} ({expression!r}) is not a true/false condition")
        masks[name] = mask
    return masks


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise ConfigError(f"slice column {column!r} is not in the holdout; columns: {sorted(frame.columns)}")
    return frame[column]


# --- the paired bootstrap ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ranked:
    """One model's ranking of a set of rows, prepared once so that every resample is a few array passes.

    `columns`: the rows by descending score; `positives`: positions (in that order) of the frauds;
    `cutoffs` / `starts`: for each fraud, the last / first position of its group of tied scores (a
    threshold takes a whole tie group, as scikit-learn does).
    """

    columns: np.ndarray
    labels: np.ndarray
    positives: np.ndarray
    cutoffs: np.ndarray
    starts: np.ndarray
    positives_at_cutoff: np.ndarray  # index into `positives` of the last fraud at or before each cutoff

    @classmethod
    def of(cls, y: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> _Ranked:
        order = rows[np.argsort(-scores[rows], kind="stable")]
        ranked_scores = scores[order]
        group_ends = np.flatnonzero(np.r_[ranked_scores[1:] != ranked_scores[:-1], True])
        group_starts = np.r_[0, group_ends[:-1] + 1]
        positives = np.flatnonzero(y[order] == 1)
        group = np.searchsorted(group_ends, positives)
        cutoffs = group_ends[group]
        return cls(
            order,
            y[order],
            positives,
            cutoffs,
            group_starts[group],
            np.searchsorted(positives, cutoffs, side="right") - 1,
        )


def _weighted_average_precision(weights: np.ndarray, ranked: _Ranked) -> np.ndarray:
    """Average precision for each row of `weights` (resamples x rows: how often each row was drawn).

    AP = sum over frauds of precision at the fraud's threshold, weighted by how often it was drawn, divided
    by the frauds drawn: the same number scikit-learn gives for the resampled rows, without sorting again.
    """
    drawn = weights[:, ranked.columns]
    drawn_at_cutoff = np.cumsum(drawn, axis=1)[:, ranked.cutoffs]
    frauds = drawn[:, ranked.positives]
    frauds_so_far = np.cumsum(frauds, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = frauds_so_far[:, ranked.positives_at_cutoff] / drawn_at_cutoff
        precision = np.where(drawn_at_cutoff > 0, precision, 0.0)
        return (frauds * precision).sum(axis=1) / frauds_so_far[:, -1]


def _weighted_roc_auc(weights: np.ndarray, ranked: _Ranked) -> np.ndarray:
    """ROC-AUC for each row of `weights`: the share of (fraud, legitimate) pairs ranked the right way round,
    a tie counting half (Mann-Whitney), as scikit-learn's roc_auc_score gives for the resampled rows."""
    legit = weights[:, ranked.columns] * (ranked.labels == 0)
    legit_so_far = np.cumsum(legit, axis=1)
    total_legit = legit_so_far[:, -1:]
    above = np.where(ranked.starts > 0, legit_so_far[:, np.maximum(ranked.starts - 1, 0)], 0)
    tied = legit_so_far[:, ranked.cutoffs] - above
    below = total_legit - legit_so_far[:, ranked.cutoffs]
    frauds = weights[:, ranked.columns[ranked.positives]]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (frauds * (below + 0.5 * tied)).sum(axis=1) / (frauds.sum(axis=1) * total_legit[:, 0])


_WEIGHTED = {"pr_auc": _weighted_average_precision, "roc_auc": _weighted_roc_auc}


def paired_bootstrap(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    groups: dict[str, tuple[np.ndarray, str]],
    resamples: int,
    seed: int,
    batch: int = 250,
) -> dict[str, np.ndarray]:
    """Bootstrap distribution of metric(challenger) - metric(champion) on each group of rows.

    `groups`: {name: (row mask, metric)}, the metric `pr_auc` or `roc_auc`. Paired: each resample is one
    draw of holdout rows (with replacement) that both models are scored on, so what the two share (the
    same hard cases, the same lucky draws) cancels in the difference; every group (the whole holdout,
    each slice) is read from the same resamples. Returns {name: array of `resamples` differences}; a
    resample that drew no fraud (or no legitimate row) in a group gives NaN there.
    """
    from scipy.stats import bootstrap

    y = np.asarray(y).astype(np.int8)
    n = len(y)
    prepared = [
        (
            _WEIGHTED[metric],
            _Ranked.of(y, np.asarray(challenger), np.flatnonzero(mask)),
            _Ranked.of(y, np.asarray(champion), np.flatnonzero(mask)),
        )
        for mask, metric in groups.values()
    ]

    def statistic(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.atleast_2d(rows)
        # How often each holdout row was drawn, per resample: one bincount over offset indices.
        offsets = (rows + n * np.arange(len(rows))[:, None]).ravel()
        weights = np.bincount(offsets, minlength=n * len(rows)).reshape(len(rows), n).astype(np.int32)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack(
                [metric(weights, mine) - metric(weights, theirs) for metric, mine, theirs in prepared]
            )

    # scipy draws the resamples (row indices, shared by both models) and batches the calls; the intervals
    # are read from the distribution by `percentile_interval`, so that slices can use their own level.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN for a group without frauds in a resample: handled there
        result = bootstrap(
            (np.arange(n),),
            statistic,
            n_resamples=resamples,
            batch=batch,
            vectorized=True,
            paired=True,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    distribution = np.atleast_2d(result.bootstrap_distribution)
    return dict(zip(groups, distribution, strict=True))


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def describe(self) -> str:
        return f"{self.estimate:+.4f}, {self.confidence:.1%} CI [{self.low:+.4f}, {self.high:+.4f}]"


def percentile_interval(estimate: float, distribution: np.ndarray, confidence: float) -> Interval:
    """The two-sided percentile interval of a bootstrap distribution (NaN resamples left out)."""
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(distribution, [alpha, 1 - alpha])
    return Interval(float(estimate), float(low), float(high), float(confidence))


# --- money -------------------------------------------------------------------------------------------


def cost_curve(y: np.ndarray, scores: np.ndarray, amounts: np.ndarray, review_cost: float) -> dict:
    """Expected cost at every threshold: missed fraud amount + review cost x alerts.

    A row is alerted when its score is at least the threshold. Returns arrays `threshold`, `alerts`,
    `missed_fraud_amount` and `cost`, starting with the threshold that alerts nothing.
    """
    y, scores, amounts = np.asarray(y), np.asarray(scores, dtype=float), np.asarray(amounts, dtype=float)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    group_ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    fraud_amount = np.where(y[order] == 1, amounts[order], 0.0)
    caught = np.cumsum(fraud_amount)[group_ends]
    total = fraud_amount.sum()
    threshold = np.r_[np.nextafter(ranked[0], np.inf), ranked[group_ends]]
    alerts = np.r_[0, group_ends + 1]
    missed = total - np.r_[0.0, caught]
    return {
        "threshold": threshold,
        "alerts": alerts,
        "missed_fraud_amount": missed,
        "cost": missed + review_cost * alerts,
    }


def choose_threshold(y: np.ndarray, scores: np.ndarray, amounts: np.ndarray, review_cost: float) -> float:
    """The threshold that minimises the expected cost on these rows (use the validation split)."""
    curve = cost_curve(y, scores, amounts, review_cost)
    return float(curve["threshold"][int(np.argmin(curve["cost"]))])


def expected_cost(
    y: np.ndarray, scores: np.ndarray, amounts: np.ndarray, threshold: float, review_cost: float
) -> dict[str, float]:
    """Missed fraud amount, alerts and their cost when alerting every row scoring `threshold` or more."""
    y, scores, amounts = np.asarray(y), np.asarray(scores), np.asarray(amounts, dtype=float)
    alerted = scores >= threshold
    missed = float(amounts[(y == 1) & ~alerted].sum())
    alerts = int(alerted.sum())
    return {
        "threshold": float(threshold),
        "alerts": alerts,
        "missed_fraud_amount": round(missed, 2),
        "review_cost": round(review_cost * alerts, 2),
        "total": round(missed + review_cost * alerts, 2),
    }


def cost_curve_rows(
    y: np.ndarray, scores: dict[str, np.ndarray], amounts: np.ndarray, review_cost: float, points: int = 120
) -> list[dict]:
    """Each model's expected cost when alerting its top-k rows, on one grid of k (geometric, since the
    minimum sits among the first few hundred alerts): one column per model, for `dvc plots` and the report.
    """
    n = len(y)
    grid = np.unique(np.r_[0, np.geomspace(1, n, points).astype(int)])
    rows = [{"alerts": int(k)} for k in grid]
    for model, model_scores in scores.items():
        curve = cost_curve(y, model_scores, amounts, review_cost)
        # with ties, k alerts may fall inside a tie group: take the last threshold alerting at most k
        at = np.searchsorted(curve["alerts"], grid, side="right") - 1
        for row, i in zip(rows, at, strict=True):
            row[model] = round(float(curve["missed_fraud_amount"][i] + review_cost * row["alerts"]), 2)
    return rows


# --- gates -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """One check of the challenger: its value, the threshold it is held to and the verdict.

    `verdict` is passed, failed or "insufficient data" (a slice with too few frauds to judge: it neither
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

    def __init__(self, gates: list[Gate], report_uri: str | None = None) -> None:
        self.gates = gates
        self.report_uri = report_uri
        failed = [g for g in gates if not g.passed]
        lines = "\n".join(f"  - {g.describe()}" for g in failed)
        where = f" (report: {report_uri})" if report_uri else ""
        super().__init__(f"challenger rejected by {len(failed)} gate(s){where}:\n{lines}")

    @property
    def failed(self) -> list[str]:
        return [g.label for g in self.gates if not g.passed]


def _floor(name: str, value: float, threshold: float) -> Gate:
    return Gate(
        name, value, threshold, _verdict(value >= threshold), f"{value:.4f} (threshold >= {threshold:.4f})"
    )


def _beats(name: str, challenger: float, other: float, margin: float, what: str) -> Gate:
    delta = challenger - other
    return Gate(
        name,
        delta,
        margin,
        _verdict(delta > margin),
        f"PR-AUC {challenger:.4f} vs {what} {other:.4f}: margin {delta:+.4f} (must exceed {margin:+.4f})",
    )


def evaluate_gates(
    challenger: dict[str, float],
    baselines: dict[str, dict[str, float]],
    non_regression: Interval | None,
    slices: list[dict],
    gates: dict[str, Any],
) -> list[Gate]:
    """Every gate, passed or not, from metrics that all come from the same holdout.

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
        _floor("min_pr_auc", challenger["pr_auc"], gates["min_pr_auc"]),
        _floor("min_recall_at_fpr", challenger["recall_at_fpr"], gates["min_recall_at_fpr"]),
    ]
    margins = {BASELINE: "min_margin_over_baseline", RULE: "min_margin_over_rule"}
    for name, metrics in baselines.items():
        results.append(
            _beats(f"beats_{name}", challenger["pr_auc"], metrics["pr_auc"], gates[margins[name]], name)
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
                f"PR-AUC challenger - champion {non_regression.describe()}: "
                f"lower bound must be >= {-tolerance:+.4f}",
            )
        )
    results.extend(_slice_gates(slices, gates))
    return results


def _slice_gates(slices: list[dict], gates: dict[str, Any]) -> list[Gate]:
    floor, tolerance = gates["min_slice_roc_auc"], gates["slice_tolerance"]
    results = []
    for row in slices:
        name, value = row["slice"], row[f"{CHALLENGER}_{SLICE_METRIC}"]
        if not row["judged"]:
            why = f"{row['frauds']} frauds in {row['rows']} rows (fewer than {row['min_frauds']}): not judged"
            results.append(Gate("min_slice_roc_auc", value, floor, INSUFFICIENT, why, name))
            results.append(Gate("no_slice_regression", None, -tolerance, INSUFFICIENT, why, name))
            continue
        results.append(
            Gate(
                "min_slice_roc_auc",
                value,
                floor,
                _verdict(value >= floor),
                f"ROC-AUC {value:.4f} on {row['frauds']} frauds (threshold >= {floor:.4f})",
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
        champion = row[f"{CHAMPION}_{SLICE_METRIC}"]
        results.append(
            Gate(
                "no_slice_regression",
                interval.high,
                -tolerance,
                _verdict(interval.high >= -tolerance),
                f"ROC-AUC {value:.4f} vs champion {champion:.4f}: {interval.describe()} "
                f"(fails when the whole interval lies below {-tolerance:+.4f})",
                name,
            )
        )
    return results


# --- the whole assessment ----------------------------------------------------------------------------


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
    `masks`: `slice_masks` of the holdout; `params`: params.yaml (evaluate, slices, costs, gates).
    """
    y = np.asarray(y)
    fpr_target = params["evaluate"]["fpr_target"]
    boot = params["evaluate"]["bootstrap"]
    confidence = boot["confidence"]
    review_cost = params["costs"]["review_cost"]
    min_frauds = params["slices"]["min_frauds"]
    has_champion = CHAMPION in scores

    metrics = {model: classification_metrics(y, s, fpr_target) for model, s in scores.items()}
    judged = {name: m for name, m in masks.items() if y[m].sum() >= min_frauds and (y[m] == 0).any()}
    slice_confidence = 1 - (1 - confidence) / max(len(judged), 1)  # Bonferroni over the judged slices

    non_regression = None
    intervals: dict[str, Interval] = {}
    if has_champion:
        groups = {"all": (np.ones(len(y), dtype=bool), HEADLINE)}
        groups |= {name: (mask, SLICE_METRIC) for name, mask in judged.items()}
        distributions = paired_bootstrap(
            y, scores[CHALLENGER], scores[CHAMPION], groups, boot["resamples"], boot["seed"]
        )
        for name, distribution in distributions.items():
            mask, metric = groups[name]
            estimate = _METRICS[metric](y[mask], scores[CHALLENGER][mask]) - _METRICS[metric](
                y[mask], scores[CHAMPION][mask]
            )
            level = confidence if name == "all" else slice_confidence
            intervals[name] = percentile_interval(estimate, distribution, level)
        non_regression = intervals.pop("all")

    slices = slice_table(y, scores, masks, judged, intervals, min_frauds)
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
    )
    report = {
        "passed": all(g.passed for g in gates),
        "headline_metric": HEADLINE,
        "fpr_target": fpr_target,
        "metrics": metrics,
        "non_regression": None
        if non_regression is None
        else asdict(non_regression)
        | {
            "metric": HEADLINE,
            "difference": f"{CHALLENGER} - {CHAMPION}",
            "resamples": boot["resamples"],
            "seed": boot["seed"],
            "excludes_zero": non_regression.excludes_zero(),
        },
        "slices": {
            "metric": SLICE_METRIC,
            "min_frauds": min_frauds,
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
        "gates": [g.to_dict() for g in gates],
    }
    curves = {
        "pr": pr_curve_rows(y, scores),
        "cost": cost_curve_rows(y, scores, amounts, review_cost),
        "decision_alerts": {model: cost["alerts"] for model, cost in costs.items()},
    }
    return Assessment(report, gates, curves)


def slice_table(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    judged: dict[str, np.ndarray],
    intervals: dict[str, Interval],
    min_frauds: int,
) -> list[dict]:
    """One row per slice: size, frauds, each model's ROC-AUC and PR-AUC (`<model>_roc_auc`, ...), and for
    judged slices with a champion the ROC-AUC difference challenger - champion with its interval."""
    rows = []
    for name, mask in masks.items():
        row: dict[str, Any] = {
            "slice": name,
            "rows": int(mask.sum()),
            "frauds": int(y[mask].sum()),
            "min_frauds": min_frauds,
            "judged": name in judged,
        }
        for model, model_scores in scores.items():
            for metric, fn in _METRICS.items():
                row[f"{model}_{metric}"] = fn(y[mask], model_scores[mask])
        interval = intervals.get(name)
        row |= {
            "delta": interval and interval.estimate,
            "delta_low": interval and interval.low,
            "delta_high": interval and interval.high,
            "confidence": interval and interval.confidence,
        }
        rows.append(row)
    return rows
