"""The monitoring report of a scored day (`scores/<model>/date=<day>/report.json`): how champion and
challenger compare on the same rows (agreement, alert rates, score distributions), how far the challenger's
scores moved from its own holdout scores (PSI), its error rate, and, once labels have matured, both
models' PR-AUC on the rows of the last weeks whose labels are complete (older than the label maturity
horizon, label arrived).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core import artifacts, layout
from retrainer.core.clock import as_utc
from retrainer.core.maturity import matured_mask, maturity_horizon, one_class
from retrainer.data.published import read_run, read_run_frame
from retrainer.evaluation.metrics import pr_auc
from retrainer.features.matrix import build_matrix, label_arrival
from retrainer.registry.store import Registry
from retrainer.scoring.batch import read_day, read_scored_inputs, read_scores
from retrainer.scoring.health import (
    alert_text,
    breaches,
    input_health,
    output_health,
    training_reference,
)
from retrainer.scoring.models import load_scorer
from retrainer.storage import KeyNotFound, Storage

QUANTILES = (0.1, 0.5, 0.9, 0.99)
PSI_BINS = 10
PSI_FLOOR = 1e-4  # an empty bin counts as this share, so the index stays finite


def summarise(scores: np.ndarray) -> dict:
    """Decile edges and quantiles of a score distribution: what later scores are compared with."""
    scores = np.asarray(scores, dtype=float)
    edges = np.unique(np.quantile(scores, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    expected = np.histogram(scores, bins=[-np.inf, *edges, np.inf])[0] / len(scores)
    return {
        "rows": int(len(scores)),
        "edges": edges.tolist(),
        "shares": expected.tolist(),
        "quantiles": {str(q): float(np.quantile(scores, q)) for q in QUANTILES},
        "mean": float(scores.mean()),
    }


def psi(reference: dict, scores: np.ndarray) -> float:
    """Population stability index of `scores` against a `summarise`d reference (0: the same shape;
    above ~0.25 the distribution has moved a lot)."""
    actual = np.histogram(np.asarray(scores, dtype=float), bins=[-np.inf, *reference["edges"], np.inf])[0]
    actual = np.maximum(actual / max(len(scores), 1), PSI_FLOOR)
    expected = np.maximum(np.asarray(reference["shares"]), PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def reference_scores(storage: Storage, registry: Registry, version: int) -> dict | None:
    """A version's scores on the holdout of the run that trained it, summarised and cached; None when the
    version names no published run to take its holdout from."""
    key = layout.reference_scores_key(registry.model, version)
    try:
        return json.loads(storage.get_text(key))
    except KeyNotFound:
        pass
    record = registry.get(version)
    if not record.get("run_manifest_uri"):
        return None
    try:
        run = read_run(storage, record["run_manifest_uri"])
        holdout = read_run_frame(storage, run, artifacts.prepared("holdout"))
    except (KeyNotFound, KeyError):
        return None
    scorer = load_scorer(registry, version)
    summary = summarise(scorer.score(build_matrix(holdout, scorer.feature_params))) | {"version": version}
    storage.put_text(key, json.dumps(summary, indent=2))
    return summary


def _distribution(scores: pd.Series) -> dict:
    values = scores.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"rows": 0}
    return {"rows": int(len(values)), "mean": float(values.mean())} | {
        f"p{round(q * 100)}": float(np.quantile(values, q)) for q in QUANTILES
    }


def matured_performance(
    source: Storage, storage: Storage, model: str, challenger: int, day: date, as_of: datetime, params: dict
) -> dict:
    """Champion and challenger PR-AUC on the scored rows of the lookback window (both models scored them)
    whose labels are complete at `as_of` (`core.maturity`: event older than `data.label_maturity_days`,
    label arrived), the rule training uses; not judged below `min_positives` positives or on one class."""
    cols, bounds = params["model"], params["deployment"]["rollback"]
    days = params["data"]["label_maturity_days"]
    parts = []
    for back in range(bounds["lookback_days"]):
        scored_day = day - timedelta(days=back)
        scores = read_scores(storage, model, scored_day)
        if scores is None or "challenger_version" not in scores:
            continue
        scores = scores[(scores["challenger_version"] == challenger) & ~scores["challenger_error"]]
        if scores.empty:
            continue
        labels = read_day(source, scored_day)
        matured = matured_mask(labels[cols["event_time"]], label_arrival(labels, cols), as_of, days)
        labels = labels.loc[matured, [cols["id_column"], cols["label"]]]
        parts.append(scores.merge(labels, on=cols["id_column"], how="inner"))
    rows = pd.concat(parts) if parts else pd.DataFrame()
    positives = int(rows[cols["label"]].sum()) if len(rows) else 0
    result: dict[str, Any] = {
        "rows": int(len(rows)),
        "positives": positives,
        "maturity_horizon": maturity_horizon(as_of, days).isoformat(),
        # A set of one class has no PR-AUC worth the name (all frauds: 1.0 for any model).
        "judged": positives >= bounds["min_positives"] and not one_class(rows[cols["label"]]),
    }
    if result["judged"]:
        y = rows[cols["label"]].to_numpy()
        result["champion_pr_auc"] = pr_auc(y, rows["champion_score"].to_numpy())
        result["challenger_pr_auc"] = pr_auc(y, rows["challenger_score"].to_numpy())
    return result


def day_report(
    source: Storage,
    storage: Storage,
    registry: Registry,
    scores: pd.DataFrame,
    summary: dict,
    as_of: datetime | str,
    params: dict,
) -> dict:
    """The monitoring report of a scored day (`summary` from `score_day`); written next to its scores."""
    day = date.fromisoformat(summary["day"])
    report: dict[str, Any] = {**summary, "as_of": as_utc(as_of).isoformat(), "champion_alert_rate": None}
    report["champion_alert_rate"] = float(scores["champion_decision"].mean())
    report["champion_scores"] = _distribution(scores["champion_score"])
    challenger = summary.get("challenger")
    if challenger is not None:
        ok = ~scores["challenger_error"]
        champion_rate = report["champion_alert_rate"]
        challenger_rate = float(scores.loc[ok, "challenger_decision"].mean()) if ok.any() else None
        reference = reference_scores(storage, registry, challenger)
        live = scores.loc[ok, "challenger_score"].to_numpy()
        report |= {
            "challenger_alert_rate": challenger_rate,
            "alert_rate_ratio": (challenger_rate / champion_rate)
            if challenger_rate is not None and champion_rate > 0
            else None,
            "agreement": float(
                (scores.loc[ok, "challenger_decision"] == scores.loc[ok, "champion_decision"]).mean()
            )
            if ok.any()
            else None,
            "challenger_scores": _distribution(scores["challenger_score"]),
            "challenger_error_rate": float((~ok).mean()),
            "challenger_psi": psi(reference, live) if reference and len(live) else None,
            "challenger_reference": reference and {k: reference[k] for k in ("rows", "quantiles", "mean")},
            "decided_by_challenger": float((scores["decided_by"] == challenger).mean()),
            "performance": matured_performance(
                source, storage, registry.model, challenger, day, as_utc(as_of), params
            ),
        }
    key = layout.scores_file_key(registry.model, summary["day"], layout.SCORE_REPORT_FILE)
    report["report_uri"] = storage.uri(key)
    report["report_url"] = layout.day_report_url(registry.model, summary["day"])  # opened in the UI
    report |= run_health(source, storage, registry, scores, summary, params, report["report_url"])
    storage.put_text(key, json.dumps(report, indent=2, default=str))
    return report


def run_health(
    source: Storage,
    storage: Storage,
    registry: Registry,
    scores: pd.DataFrame,
    summary: dict,
    params: dict,
    report_url: str,
) -> dict:
    """The scoring run's health (`scoring.health`): its inputs against the champion's training
    reference, its outputs, its software figures; the breaches of `scoring.health` and their alert
    (naming `report_url`, the day's report in the Airflow UI)."""
    champion = registry.get(summary["champion"])
    health = {
        "input": input_health(
            training_reference(registry, champion["version"]),
            read_scored_inputs(source, storage, summary, params["model"]["id_column"]),
            champion["params"]["features"],
            params["monitoring"]["drift"],
        ),
        "output": output_health(scores),
        "software": summary["software"],
    }
    found = breaches(health, params["scoring"]["health"])
    text = alert_text(registry.model, summary["day"], found, report_url) if found else None
    return {"health": health, "breaches": found, "alert": text}


def read_reports(storage: Storage, model: str, last_day: date, days: int) -> list[dict]:
    """The monitoring reports of the `days` days up to `last_day`, oldest first (days not scored left out)."""
    found = []
    for back in reversed(range(days)):
        key = layout.scores_file_key(
            model, (last_day - timedelta(days=back)).isoformat(), layout.SCORE_REPORT_FILE
        )
        try:
            found.append(json.loads(storage.get_text(key)))
        except KeyNotFound:
            continue
    return found
