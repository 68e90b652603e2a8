"""Monitor: hold the latest transactions against the champion's training reference (data drift), its
scores against its own holdout scores (prediction drift), and its matured labels against its holdout figure
(concept drift); store the drift report, and say whether the evidence should start a retraining."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from retrainer.core import artifacts, calibration, layout
from retrainer.core.clock import as_utc, run_key
from retrainer.data.published import read_run, read_run_frame
from retrainer.deployment.state import champion_version as deployed_champion
from retrainer.drift import drift_check, render_html
from retrainer.features import matrix
from retrainer.features.events import features_of_rows
from retrainer.monitoring import days, episodes, estimates
from retrainer.monitoring.slice_performance import slice_performance
from retrainer.registry.store import Registry
from retrainer.scoring.health import training_reference
from retrainer.sources.partitions import days_overlapping, partition_key, read_partition
from retrainer.storage import KeyNotFound, Storage
from retrainer.training.models import load_xgboost, score_xgboost

log = logging.getLogger(__name__)


def read_days(
    source: Storage, start: datetime, end: datetime, event_time: str
) -> tuple[pd.DataFrame, list[str]]:
    """The source's rows with event time in [start, end), from the daily partitions that overlap it, and
    the keys of the partitions that are missing (named by the caller, never skipped without a word)."""
    frames, missing = [], []
    for day in days_overlapping(start, end):
        try:
            frame = read_partition(source.get_bytes(partition_key(day)))
        except KeyNotFound:
            missing.append(partition_key(day))
            continue
        moment = pd.to_datetime(frame[event_time], utc=True)
        frames.append(frame.loc[(moment >= start) & (moment < end)])
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), missing


def _earlier_reports(storage: Storage, model: str, key: str) -> list[dict]:
    """The reports of earlier monitor runs, oldest first."""
    keys = [k for k in storage.list(layout.monitoring_area(model)) if k.endswith(f"/{layout.DRIFT_REPORT}")]
    reports = [json.loads(storage.get_text(k)) for k in keys]
    return sorted((r for r in reports if (r.get("run") or "") < key), key=lambda r: r["run"])


def _landing(source: Storage, params: dict[str, Any], judged: days.JudgedDays) -> list[days.DayLanding]:
    """Each judged day's landing, logged one line a day (the task's log says which day waits, and why)."""
    landed = days.landing(
        source, judged, params["model"]["event_time"], params["monitoring"]["days"]["max_gap_hours"]
    )
    for day in landed:
        if day.landed:
            log.info("day %s (%s): landed, %d events, the last at %s", day.day, judged.zone, day.rows,
                     day.last_event)  # fmt: skip
        else:
            log.warning("day %s (%s): NOT fully landed, not judged: %s", day.day, judged.zone, day.problem)
    return landed


def _store_landing(
    storage: Storage, model: str, key: str, judged: days.JudgedDays, landed: list[days.DayLanding]
) -> dict:
    """The judged days' landing as stored beside the run's report (`days.json`); returns it."""
    summary = days.days_report(judged, landed)
    path = layout.monitoring_file_key(model, key, layout.DAYS_REPORT)
    storage.put_text(path, json.dumps(summary, indent=2))
    return summary


def days_landed(
    storage: Storage, source: Storage, params: dict[str, Any], as_of: datetime | str, now: datetime
) -> bool:
    """The poke of the monitor DAG's `wait_for_days` sensor: True once every day a run at `as_of` judges
    has fully landed (or there is no champion, so nothing to judge), False while they may still land (until
    `monitoring.days.wait_hours` after the days' end), then DayNotLanded naming each day and why."""
    model, settings = params["model"]["name"], params["monitoring"]
    judged = days.judged_days(as_of, settings["window_days"], params["schedule"]["timezone"])
    if deployed_champion(Registry(storage, model)) is None:
        return True
    landed = _landing(source, params, judged)
    try:
        return days.wait_or_refuse(model, judged, landed, now, settings["days"]["wait_hours"])
    except days.DayNotLanded:
        _store_landing(storage, model, run_key(judged.end), judged, landed)
        raise


def check_drift(storage: Storage, source: Storage, params: dict[str, Any], as_of: datetime | str) -> dict:
    """One monitor run for the logical date `as_of`; returns where its report is and whether to retrain.

    It judges whole calendar days in the model's zone (`monitoring.days`): the `monitoring.window_days`
    days that end at the last local midnight at or before `as_of`; a day not fully landed (a partition
    missing, or events stopping more than `monitoring.days.max_gap_hours` before its end) is refused with
    DayNotLanded, naming it and why (`days.json` beside the report says the same).

    `trigger` is true only when drift is confirmed (it persisted for `drift.consecutive_runs` runs) and
    the last retraining is older than `monitoring.cooldown_days`; a confirmed drift inside the cool-down
    is recorded in the report as suppressed, with until when (a drift-triggered retraining that failed
    does not count: `monitoring.episodes`). `post_alert` is true once per drift episode and then every
    `monitoring.reminder_days` (the report's `alert` says why). Without a champion there is nothing to
    monitor.
    """
    model, cols, settings = params["model"]["name"], params["model"], params["monitoring"]
    # Whole calendar days in the model's zone, keyed by their end: a by-hand run at 00:00 and the scheduled
    # one at 06:00 of the same date judge the same days and write the same report.
    judged = days.judged_days(as_of, settings["window_days"], params["schedule"]["timezone"])
    key, end = run_key(judged.end), judged.end
    registry = Registry(storage, model)
    if (champion_version := deployed_champion(registry)) is None:  # the record: what scores
        return {
            "run": key,
            "verdict": "no champion",
            "confirmed": False,
            "trigger": False,
            "report_uri": None,
        }
    landed = _landing(source, params, judged)
    summary = _store_landing(storage, model, key, judged, landed)
    if not summary["landed"]:  # a partial day is never judged as a day: its missing hours read as drift
        raise days.DayNotLanded(model, judged, landed)
    record = registry.get(champion_version)
    booster = load_xgboost(registry.read_file(champion_version, artifacts.MODEL_FILE))
    mapping = calibration.of_version(registry, record)  # the scale its decision threshold is on
    champion_features = record["params"]["features"]
    names = matrix.input_columns(champion_features)  # derived features too: drift can name them

    def score(frame: pd.DataFrame):
        return mapping.apply(score_xgboost(booster, matrix.build_matrix(frame, champion_features)))

    reference = training_reference(registry, record["version"])  # the champion's validation + holdout rows
    run = read_run(storage, record["run_manifest_uri"])
    holdout = read_run_frame(storage, run, artifacts.prepared("holdout"))

    # The days judged for drift and the days whose labels are judged, read and featurized once over both
    # spans: the source rows with the champion's derived features, as it was trained.
    current_start = judged.start
    lookback_start = max(as_utc(record["as_of"]), end - timedelta(days=settings["labels_lookback_days"]))
    first = min(current_start, lookback_start)
    read, missing = read_days(source, first, end, cols["event_time"])
    if missing:  # only before the judged days (those landed): fewer matured labels, named in the report
        log.warning("labels lookback of %s: no source partition %s: judged without them", key, missing)
    rows = features_of_rows(read, source, params, first, [champion_features])

    def since(start: datetime) -> pd.DataFrame:
        if rows.empty:  # no source day at all: read_days gives a frame without columns
            return rows
        return rows.loc[pd.to_datetime(rows[cols["event_time"]], utc=True) >= start].reset_index(drop=True)

    current, lookback = since(current_start), since(lookback_start)
    labelled = (
        lookback.assign(score=score(lookback), label_arrived_at=matrix.label_arrival(lookback, cols))
        if len(lookback)
        else None
    )
    earlier = _earlier_reports(storage, model, key)
    holdout_scores = score(holdout)
    # the champion's performance estimated from the scored days' scores, before labels: a breach is a kind
    estimated = estimates.estimate_days(storage, source, registry, params, judged)
    judged = (
        {"slices": slice_performance(holdout, holdout_scores, labelled, labelled["score"], end, params)}
        if labelled is not None
        else {}
    )  # a concept drift in one region or channel barely moves the overall PR-AUC
    if estimated is not None:
        judged["estimate"] = estimated
    report = drift_check(
        reference[names],
        current[names],
        settings["drift"],
        features=names,
        categorical=list(champion_features["categorical"]),
        holdout_scores=holdout_scores,
        current_scores=score(current),
        decision_threshold=record["decision"]["threshold"],
        labelled=labelled,
        holdout_pr_auc=record["metrics"]["challenger"]["pr_auc"],
        as_of=end,
        label_columns=("score", cols["label"], "label_arrived_at", cols["event_time"]),
        label_maturity_days=params["data"]["label_maturity_days"],  # judged only where labels are complete
        history=[r["summary"] for r in earlier],
        run=key,
        judged=judged,
    )
    # The cool-down (a failed drift retraining left out) and whether this run posts: once per episode
    # (its start, a retraining signalled in it), then a reminder every monitoring.reminder_days.
    report["trigger"], report["alert"] = episodes.judge(
        earlier,
        registry.versions(),
        episodes.failed_runs(storage, model, earlier),
        report["verdict"],
        record["version"],
        end,
        settings["cooldown_days"],
        settings["reminder_days"],
    )
    trigger, last = report["trigger"]["retrain"], report["trigger"]["last_retraining"]
    report["champion_version"] = record["version"]
    report["days"] = summary | {"lookback_missing_partitions": missing}
    report["rows"] = {"reference": len(reference), "current": len(current), "labelled": len(lookback)}
    report_uri = storage.put_text(layout.monitoring_file_key(model, key), json.dumps(report, indent=2))
    page_uri = storage.put_text(
        layout.monitoring_file_key(model, key, layout.DRIFT_PAGE),
        render_html(report, f"Drift: {model} {key}" + episodes.title_note(report["trigger"])),
    )
    page_url = layout.ui_url(layout.monitoring_file_key(model, key, layout.DRIFT_PAGE))  # opened in the UI
    log.info("drift %s for %s (champion v%s): %s", report["verdict"], key, record["version"], page_url)
    if report["trigger"]["suppressed"]:
        log.info(
            "confirmed drift inside the %s-day cool-down after %s: no retraining",
            settings["cooldown_days"],
            last,
        )
    return {
        "run": key,
        "model": model,
        "verdict": report["verdict"],
        "confirmed": report["confirmed"],
        "trigger": trigger,
        "report_uri": report_uri,
        "page_uri": page_uri,
        "page_url": page_url,
        "evidence": (found := evidence(report, report_uri, page_uri, page_url)),
        "alert": alert_text(model, found) + episodes.alert_note(report["alert"], report["trigger"]),
        "post_alert": report["alert"]["posted"],  # the DAG's alert task posts only then
    }


def evidence(report: dict, report_uri: str, page_uri: str, page_url: str | None = None) -> dict:
    """What the drift Asset event and the alert carry: what moved, by how much, against which threshold."""
    data = report["data"]
    by_feature = {f["feature"]: f for f in data.get("features", [])}
    return {
        "run": report["run"],
        "as_of": report["as_of"],  # the evidence ends here: a retraining it starts trains up to this moment
        "verdict": report["verdict"],
        "kinds": report["kinds"],
        "champion_version": report.get("champion_version"),
        "features": [
            {
                "feature": name,
                "psi": by_feature[name]["psi"],
                "distance": by_feature[name]["distance"].get("value"),
                "distance_name": by_feature[name]["distance"].get("name"),
                "contribution": by_feature[name].get("contribution"),
            }
            for name in report["root_cause"][:5]
            if name in by_feature
        ],
        "prediction": {k: report.get("prediction", {}).get(k) for k in ("verdict", "psi", "alert_rate")},
        "estimate": {  # performance estimated from the scores: the days below the bound
            "verdict": report.get("estimate", {}).get("verdict"),
            "breaches": report.get("estimate", {}).get("breaches", []),
        },
        "performance": {
            k: report.get("performance", {}).get(k) for k in ("verdict", "pr_auc", "holdout_pr_auc")
        },
        "slices": [  # per-slice performance: the slices whose ROC-AUC fell, worst first
            {k: e[k] for k in ("slice", "roc_auc", "holdout_roc_auc", "positives")}
            for e in sorted(report.get("slices", {}).get("slices", []), key=lambda e: -(e["drop"] or 0))
            if e["slice"] in report.get("slices", {}).get("drifted", [])
        ][:5],
        "multivariate": {  # the joint test: AUC, its threshold and floor, the features it relied on
            **{k: report.get("multivariate", {}).get(k) for k in ("verdict", "auc", "threshold", "min_auc")},
            "features": report.get("multivariate", {}).get("root_cause", []),
        },
        "thresholds": {
            k: report["config"].get(k) for k in ("psi_threshold", "wasserstein_threshold", "js_threshold")
        },
        "report_uri": report_uri,
        "page_uri": page_uri,
        "page_url": page_url,  # the drift page through the Airflow UI (`layout.ui_url`)
    }


def alert_text(model: str, found: dict) -> str:
    """One paragraph for a person: what moved, by how much, against which threshold, and the report."""
    thresholds = found["thresholds"]
    moved = [
        f"{f['feature']} (PSI {f['psi']:.3f} vs {thresholds['psi_threshold']}, "
        f"{f['distance_name']} {f['distance']:.3f})"
        if isinstance(f.get("distance"), float)
        else f"{f['feature']} (PSI {f['psi']:.3f} vs {thresholds['psi_threshold']})"
        for f in found["features"]
    ]
    parts = [f"{model}: {found['verdict']} on {found['run']} (champion v{found['champion_version']})"]
    if moved:
        parts.append("inputs moved: " + "; ".join(moved))
    if found["prediction"].get("verdict") == "drift":
        parts.append(f"scores moved: PSI {found['prediction']['psi']:.3f}")
    if found["performance"].get("verdict") == "drift":
        performance = found["performance"]
        parts.append(
            f"PR-AUC {performance['pr_auc']:.3f} on matured labels vs {performance['holdout_pr_auc']:.3f}"
        )
    if (estimated := found.get("estimate", {})).get("verdict") == "drift":
        below = "; ".join(
            f"{b['day']} {b['estimate']:.3f} [{b['low']:.3f}, {b['high']:.3f}]" for b in estimated["breaches"]
        )
        parts.append(
            f"estimated PR-AUC from the scores (labels not in yet) below its bound "
            f"{estimated['breaches'][0]['min_pr_auc']}: {below}"
        )
    if found.get("slices"):
        fell = "; ".join(
            f"{e['slice']} {e['roc_auc']:.3f} vs {e['holdout_roc_auc']:.3f}" for e in found["slices"]
        )
        parts.append(f"ROC-AUC per slice on matured labels fell: {fell}")
    if (joint := found.get("multivariate", {})).get("verdict") == "drift":
        parts.append(
            f"joint/shape drift: a classifier tells the day's rows from the reference at AUC "
            f"{joint['auc']:.3f} (threshold {joint['threshold']:.3f}, floor {joint['min_auc']}), "
            f"relying on {', '.join(joint['features']) or 'no single feature'}"
        )
    parts.append(f"report: {found.get('page_url') or found['page_uri']}")
    return ". ".join(parts)
