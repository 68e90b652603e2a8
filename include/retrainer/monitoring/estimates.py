"""The monitor's estimate of the champion's performance on each scored day before its labels arrive, and
the platform grading its own estimates once they do (`monitoring.estimation` in params.yaml).

Each monitor run:
- estimates every scored day (`scores/<model>/date=<day>/scores.parquet`, UTC days) that ended within the
  run's judged window (and a day scored late, after its run), from the champion's scores alone
  (`monitoring.estimation`: each score is taken as P(y=1), so the estimate is as good as the scores are
  calibrated): PR-AUC, recall at the champion's threshold and expected cost, each with an interval. A
  day whose estimated PR-AUC is below the bound is a breach: the part's verdict is drift, persisted and
  posted like any other kind;
- records, for every estimated day whose labels have matured (`data.label_maturity_days`, core.maturity),
  the realised figures beside the estimate, in one history per model (`layout.estimates_key`);
- reports the track record over the last `track_record_weeks`: each figure's error and how often the
  realised value fell inside the interval; a realised PR-AUC outside it is a flagged gap (the scores no
  longer mean what they did: concept drift, which an estimate from the scores cannot see).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core import layout
from retrainer.core.clock import as_utc, run_key
from retrainer.core.maturity import matured_mask
from retrainer.drift.config import DRIFT, INSUFFICIENT, NO_DRIFT
from retrainer.features.matrix import label_arrival
from retrainer.monitoring.days import JudgedDays
from retrainer.monitoring.estimation import FIGURES, estimate, realised
from retrainer.registry.store import Registry
from retrainer.sources.partitions import days_overlapping, partition_key
from retrainer.storage import KeyNotFound, Storage

SCORE, VERSION = "champion_score", "champion_version"  # the scores file's champion columns (scoring.batch)
CATCH_UP_DAYS = 7  # a day scored after its monitor run (late or retried scoring): a later run estimates it


def bound(params: dict[str, Any]) -> float | None:
    """The PR-AUC an estimate must reach: `monitoring.estimation.min_pr_auc`, or the gates' `min_pr_auc`
    when the headline metric is PR-AUC (it floors the headline metric), else None (no breach)."""
    own = params["monitoring"]["estimation"].get("min_pr_auc")
    if own is not None:
        return float(own)
    return float(params["gates"]["min_pr_auc"]) if params["evaluate"]["metric"] == "pr_auc" else None


def days_to_estimate(storage: Storage, model: str, judged: JudgedDays, history: dict) -> list[date]:
    """The UTC days (scoring's days) a run estimates: those that end inside the judged window (start, end]
    (consecutive runs take each day once, whatever the model's zone), and any day scored late: ended within
    CATCH_UP_DAYS before the window and not estimated yet."""

    def end_of(day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)

    window = [d for d in days_overlapping(judged.start, judged.end + timedelta(days=1))
              if judged.start < end_of(d) <= judged.end]  # fmt: skip
    earliest = judged.start - timedelta(days=CATCH_UP_DAYS)
    late = [
        day
        for day in map(date.fromisoformat, layout.scored_days(storage.list(layout.scores_area(model))))
        if earliest < end_of(day) <= judged.start and day.isoformat() not in history["days"]
    ]
    return sorted({*window, *late})


def read_history(storage: Storage, model: str) -> dict[str, Any]:
    """The model's estimates history `{"model", "days": {day: entry}}` (empty before the first run)."""
    try:
        return json.loads(storage.get_text(layout.estimates_key(model)))
    except KeyNotFound:
        return {"model": model, "days": {}}


def _day_frame(storage: Storage, source: Storage, params: dict, day: date, labels: bool) -> pd.DataFrame:
    """The day's champion scores joined (by id) with its source rows' amount and, with `labels`, their
    label, event time and label arrival. KeyNotFound when the day was not scored or has no partition."""
    cols, amount, id_column = params["model"], params["costs"]["amount_column"], params["model"]["id_column"]
    key = layout.scores_file_key(cols["name"], day.isoformat())
    scores = pd.read_parquet(io.BytesIO(storage.get_bytes(key)), columns=[id_column, SCORE, VERSION])
    wanted = [amount] if amount else []
    if labels:
        arrival = [cols["label_time"]] if cols.get("label_time") else []  # else a fixed delay
        wanted += [cols["label"], cols["event_time"], *arrival]
    if not wanted:
        return scores
    raw = source.get_bytes(partition_key(day))
    rows = pd.read_parquet(io.BytesIO(raw), columns=[id_column, *dict.fromkeys(wanted)])
    if rows[id_column].reset_index(drop=True).equals(scores[id_column]):  # scoring keeps the rows' order
        return pd.concat([scores, rows.drop(columns=id_column).reset_index(drop=True)], axis=1)
    return scores.merge(rows.drop_duplicates(id_column), on=id_column, how="left")


def _amounts(frame: pd.DataFrame, params: dict) -> np.ndarray | None:
    column = params["costs"]["amount_column"]
    return None if column is None else frame[column].fillna(0.0).to_numpy(dtype=float)


def _estimate_day(storage, source, registry, params, day: date, run: str) -> dict | None:
    """One scored day's entry: the champion that scored it, its threshold, and the estimate (None for a
    scores file without a row)."""
    settings = params["monitoring"]["estimation"]
    frame = _day_frame(storage, source, params, day, labels=False)
    if frame.empty:
        return None
    version = int(frame[VERSION].iloc[0])
    threshold = float(registry.get(version)["decision"]["threshold"])
    found = estimate(
        frame[SCORE].to_numpy(dtype=float), threshold, _amounts(frame, params),
        params["costs"]["review_cost"], settings["samples"], settings["confidence"],
        seed=[settings["seed"], day.toordinal()],
    )  # fmt: skip
    return {"day": day.isoformat(), "champion_version": version, "threshold": threshold, "estimated_in": run,
            "estimate": found, "realised": None}  # fmt: skip


def _realise(storage, source, params, entry: dict, as_of: datetime) -> dict:
    """The realised figures of an estimated day on its matured rows at `as_of` (labels as the monitor's
    concept-drift check reads them), with, per figure, the error and whether it fell inside the interval."""
    cols, day = params["model"], date.fromisoformat(entry["day"])
    frame = _day_frame(storage, source, params, day, labels=True)
    matured = matured_mask(
        frame[cols["event_time"]], label_arrival(frame, cols), as_of, params["data"]["label_maturity_days"]
    )
    frame = frame.loc[matured]
    amounts = _amounts(frame, params)
    found = realised(frame[cols["label"]].to_numpy(), frame[SCORE].to_numpy(dtype=float), entry["threshold"],
                     amounts, params["costs"]["review_cost"])  # fmt: skip
    found |= {"judged_at": as_of.isoformat(), "error": {}, "within": {}}
    for name in FIGURES:
        est, value = entry["estimate"][name], found[name]
        if value is None or est["estimate"] is None or est["low"] is None:
            found["error"][name], found["within"][name] = None, None
            continue
        found["error"][name] = value - est["estimate"]
        found["within"][name] = bool(est["low"] <= value <= est["high"])
    return found


def track_record(history: dict, as_of: datetime, weeks: int) -> dict[str, Any]:
    """How good the estimates of the days of the last `weeks` weeks before `as_of` were, once realised:
    per figure the days judged, mean absolute error, mean error (bias) and the share inside the interval;
    the PR-AUC gaps (realised outside the interval), newest first; and the series the plot draws."""
    since = (as_of - timedelta(weeks=weeks)).date().isoformat()
    entries = [e for day, e in sorted(history["days"].items()) if day >= since]
    done = [e for e in entries if e["realised"]]
    figures = {}
    for name in FIGURES:
        errors = [e["realised"]["error"][name] for e in done if e["realised"]["error"][name] is not None]
        inside = [e["realised"]["within"][name] for e in done if e["realised"]["within"][name] is not None]
        figures[name] = {
            "days": len(errors),
            "mean_abs_error": float(np.mean(np.abs(errors))) if errors else None,
            "mean_error": float(np.mean(errors)) if errors else None,
            "coverage": float(np.mean(inside)) if inside else None,
        }
    gaps = [
        {
            "day": e["day"],
            "realised": e["realised"]["pr_auc"],
            **{k: e["estimate"]["pr_auc"][k] for k in ("estimate", "low", "high")},
        }  # fmt: skip
        for e in reversed(done)
        if e["realised"]["within"]["pr_auc"] is False
    ]
    series = [
        {
            "day": e["day"],
            **{k: e["estimate"]["pr_auc"][k] for k in ("estimate", "low", "high")},
            "realised": e["realised"]["pr_auc"] if e["realised"] else None,
        }  # fmt: skip
        for e in entries
    ]
    return {"weeks": weeks, "since": since, "figures": figures, "gaps": gaps, "series": series}


def estimate_days(
    storage: Storage, source: Storage, registry: Registry, params: dict[str, Any], judged: JudgedDays
) -> dict[str, Any] | None:
    """The estimation part of one monitor run (None when `monitoring.estimation.enabled` is false): this
    run's estimated days, the breaches (estimated PR-AUC below `bound`), the days realised now, the track
    record, and `verdict` (drift on a breach, no drift, or insufficient data when no day was judged:
    none scored, or each with fewer expected positives than `min_expected_positives`). Rewrites the
    model's estimates history."""
    settings = params["monitoring"]["estimation"]
    if not settings["enabled"]:
        return None
    model, end, run = params["model"]["name"], as_utc(judged.end), run_key(judged.end)
    history, floor = read_history(storage, model), bound(params)
    estimated, not_scored, breaches, judged_days = [], [], [], 0
    for day in days_to_estimate(storage, model, judged, history):
        try:
            entry = _estimate_day(storage, source, registry, params, day, run)
        except KeyNotFound:
            entry = None
        if entry is None:  # no scores file, or one without a row: nothing to estimate
            not_scored.append(day.isoformat())
            continue
        entry["realised"] = (history["days"].get(day.isoformat()) or {}).get("realised")  # a rerun keeps it
        history["days"][day.isoformat()] = entry
        estimated.append(entry)
        figure = entry["estimate"]
        if figure["expected_positives"] < settings["min_expected_positives"] or floor is None:
            continue
        judged_days += 1
        if figure["pr_auc"]["estimate"] is not None and figure["pr_auc"]["estimate"] < floor:
            breaches.append({"day": entry["day"], **figure["pr_auc"], "min_pr_auc": floor})
    maturity = timedelta(days=params["data"]["label_maturity_days"])
    realised_now, unreadable = [], []
    for day, entry in sorted(history["days"].items()):
        day_end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), UTC)
        if entry["realised"] or day_end + maturity > end:
            continue
        try:
            entry["realised"] = _realise(storage, source, params, entry, end)
        except KeyNotFound:  # the scores or the source day are gone: the estimate stays ungraded
            unreadable.append(day)
            continue
        realised_now.append(day)
    storage.put_text(layout.estimates_key(model), json.dumps(history, indent=2, sort_keys=True))
    verdict = DRIFT if breaches else NO_DRIFT if judged_days else INSUFFICIENT
    record = track_record(history, end, settings["track_record_weeks"])
    return {
        "verdict": verdict,
        "min_pr_auc": floor,
        "days": estimated,
        "not_scored": not_scored,
        "breaches": breaches,
        "realised_now": realised_now,
        "new_gaps": [g for g in record["gaps"] if g["day"] in realised_now],
        "unreadable": unreadable,
        "track_record": record,
        "settings": dict(settings),
        "history_uri": storage.uri(layout.estimates_key(model)),
    }
