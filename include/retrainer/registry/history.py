"""A model's history over time, read from storage as plain data for the history page (`history_html`):

    versions   every registered version's headline metric on its holdout with its paired bootstrap
               interval (registry version records), its aliases, what triggered it
    days       each scored day's health (`scores/<model>/date=<day>/report.json`, written by the score DAG:
               alert rate of champion and challenger, worst feature PSI, rows scored, seconds)
    drift      each monitor run's verdict and drift scores (`monitoring/<model>/<run>/drift.json`), the
               confirmed drifts, and the version each signalled retraining registered (its lineage trigger)
    weeks      matured-label performance per ISO week (the last monitor run of the week: its PR-AUC on the
               matured rows, its interval, the holdout figure it is held against)
    estimates  each scored day's estimated performance and, once its labels matured, the realised one
               (`monitoring/<model>/estimates.json`)
    moves      deployment moves (promote, shadow, canary steps, rollbacks) from the audit chain

Read-only: each stored file is read once (the many small ones on a few threads: on S3 each is a request).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from retrainer.core import layout
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import KeyNotFound, Storage

try:  # 3-4x faster than json on a year of reports (seen: 0.33 s against 1.1 s); comes with dvc-data
    from orjson import JSONDecodeError as _FastError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover (not CPython)
    _FastError, _fast_loads = ValueError, json.loads

READERS = 8  # threads reading the small JSON files (S3 requests wait on the network, not the CPU)
HEADLINE = "pr_auc"
# The audit events that move the deployment (`deployment.actions`): the marks on the time axis.
MOVES = {
    "deployment_promoted": "promoted",
    "shadow_started": "shadow started",
    "canary_started": "canary started",
    "canary_ramped": "canary ramped",
    "canary_promoted": "canary promoted",
    "deployment_rolled_back": "rolled back",
}
CONFIRMED = "drift confirmed"


def _read_json(storage: Storage, keys: list[str]) -> list[Any]:
    """The JSON of each key (None for one that vanished or is not JSON), in the order of `keys`."""

    def one(key: str) -> Any:
        try:
            data = storage.get_bytes(key)
        except KeyNotFound:
            return None
        try:
            return _fast_loads(data)
        except _FastError:  # NaN or Infinity, which Python's json writes and reads and orjson refuses
            try:
                return json.loads(data)
            except ValueError:
                return None

    if len(keys) < 4:
        return [one(k) for k in keys]
    with ThreadPoolExecutor(READERS) as pool:
        return list(pool.map(one, keys))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def headline_metric(versions: list[dict]) -> str:
    """The gates' headline metric (`evaluate.metric`) as the newest version was trained with."""
    for record in reversed(versions):
        metric = ((record.get("params") or {}).get("evaluate") or {}).get("metric")
        if metric:
            return str(metric)
    return HEADLINE


def version_points(versions: list[dict], aliases: dict[int, list[str]], metric: str) -> list[dict]:
    """Per version: `at` (the end of its training window, else its registration), the headline metric of
    the challenger on its holdout, and the paired bootstrap interval of challenger - champion (when a
    champion was compared) placed on the champion's figure: [champion + low, champion + high]."""
    found = []
    for record in versions:
        metrics = record.get("metrics") or {}
        value = _number((metrics.get("challenger") or {}).get(metric))
        versus = metrics.get(CHAMPION) or {}
        champion_value = _number(versus.get(metric))
        interval = record.get("non_regression") or {}
        low, high = _number(interval.get("low")), _number(interval.get("high"))
        trigger = record.get("trigger") or {}
        found.append(
            {
                "version": record["version"],
                "at": record.get("as_of") or record.get("created_at"),
                "registered_at": record.get("created_at"),
                "value": value,
                "low": champion_value + low if None not in (champion_value, low, high) else None,
                "high": champion_value + high if None not in (champion_value, low, high) else None,
                "confidence": _number(interval.get("confidence")),
                "versus": versus.get("version"),
                "versus_value": champion_value,
                "aliases": aliases.get(record["version"], []),
                "champion": CHAMPION in aliases.get(record["version"], []),
                "trigger": trigger.get("kind"),
                "trigger_runs": sorted(
                    {
                        str((e.get("extra") or {}).get("run"))
                        for e in trigger.get("asset_events") or []
                        if (e.get("extra") or {}).get("run")
                    }
                ),
            }
        )
    return found


def day_point(report: dict) -> dict:
    """One scored day's health from its monitoring report (`scoring.report.day_report`)."""
    health = report.get("health") or {}
    features = ((health.get("input") or {}).get("features")) or {}
    psis = {name: _number(entry.get("psi")) for name, entry in features.items()}
    psis = {name: value for name, value in psis.items() if value is not None}
    worst = max(psis, key=psis.get) if psis else None
    software = health.get("software") or report.get("software") or {}
    return {
        "day": report.get("day"),
        "mode": report.get("mode"),
        "champion": report.get("champion"),
        "challenger": report.get("challenger"),
        "champion_alert_rate": _number(report.get("champion_alert_rate")),
        "challenger_alert_rate": _number(report.get("challenger_alert_rate")),
        "worst_feature": worst,
        "worst_psi": psis.get(worst) if worst else None,
        "rows": _number(report.get("rows")),
        "seconds": _number(software.get("seconds")),
        "breaches": len(report.get("breaches") or []),
    }


def drift_point(report: dict, started: dict[str, int]) -> dict:
    """One monitor run's drift scores from its drift report (`drift.check.drift_check`): the worst feature
    PSI, the scores' PSI, the multivariate AUC, the verdict, and the version its retraining registered."""
    data = report.get("data") or {}
    features = [f for f in data.get("features") or [] if _number(f.get("psi")) is not None]
    worst = max(features, key=lambda f: f["psi"]) if features else None
    trigger = report.get("trigger") or {}
    return {
        "run": report.get("run"),
        "at": report.get("as_of"),
        "verdict": report.get("verdict"),
        "confirmed": bool(report.get("confirmed")),
        "kinds": list(report.get("kinds") or []),
        "worst_feature": worst and worst.get("feature"),
        "max_psi": worst and _number(worst.get("psi")),
        "psi_threshold": _number((data.get("thresholds") or {}).get("psi")),
        "prediction_psi": _number((report.get("prediction") or {}).get("psi")),
        "multivariate_auc": _number((report.get("multivariate") or {}).get("auc")),
        "retrain": bool(trigger.get("retrain")),
        "suppressed": bool(trigger.get("suppressed")),
        "started_version": started.get(str(report.get("run"))),
    }


def week_points(drift: list[dict], reports: list[dict]) -> list[dict]:
    """Matured-label performance per ISO week: of each week's monitor runs, the last one that judged its
    matured labels (`performance`: PR-AUC on the matured rows, interval, holdout PR-AUC)."""
    weeks: dict[str, dict] = {}
    for point, report in zip(drift, reports, strict=True):
        performance = report.get("performance") or {}
        if not point["at"] or _number(performance.get("pr_auc")) is None:
            continue
        day = date.fromisoformat(str(point["at"])[:10])
        monday = date.fromordinal(day.toordinal() - day.weekday())
        interval = performance.get("pr_auc_interval") or [None, None]
        rows = performance.get("rows") or {}
        weeks[monday.isoformat()] = {
            "week": monday.isoformat(),
            "run": point["run"],
            "pr_auc": _number(performance["pr_auc"]),
            "low": _number(interval[0]),
            "high": _number(interval[1]),
            "holdout_pr_auc": _number(performance.get("holdout_pr_auc")),
            "positives": performance.get("positives"),
            "rows": rows.get("matured") if isinstance(rows, dict) else rows,
            "verdict": performance.get("verdict"),
        }
    return [weeks[k] for k in sorted(weeks)]


def estimate_points(history: dict | None) -> list[dict]:
    """Each estimated day (`monitoring.estimates`): the PR-AUC estimate and interval, the realised PR-AUC
    once the day's labels matured (None before), and whether it fell inside."""
    found = []
    for day, entry in sorted(((history or {}).get("days") or {}).items()):
        figure = ((entry.get("estimate") or {}).get("pr_auc")) or {}
        realised = entry.get("realised") or {}
        found.append(
            {
                "day": day,
                "champion_version": entry.get("champion_version"),
                "estimate": _number(figure.get("estimate")),
                "low": _number(figure.get("low")),
                "high": _number(figure.get("high")),
                "realised": _number(realised.get("pr_auc")),
                "within": (realised.get("within") or {}).get("pr_auc"),
            }
        )
    return found


def move_points(audit: list[dict]) -> list[dict]:
    """The deployment moves among `audit` (the audit chain's events, in its order: each move is written
    once, `deployment.state`), oldest first: when, what, which version, mode and share."""
    return [
        {
            "at": e.get("at"),
            "event": e["event"],
            "what": MOVES[e["event"]],
            "version": e.get("version"),
            "mode": e.get("mode"),
            "share": e.get("share"),
            "champion": e.get("champion"),
            "challenger": e.get("challenger"),
            "actor": e.get("actor"),
            "reason": e.get("reason"),
        }
        for e in audit
        if e.get("event") in MOVES
    ]


def _runs_of(storage: Storage, area: str, name: str) -> list[str]:
    """The keys `<area>/<run>/<name>` (one per run, sorted by run)."""
    return sorted(
        k for k in storage.list(area) if len(PurePosixPath(k).parts) == 4 and PurePosixPath(k).name == name
    )


def _split(values: list[Any], sizes: list[int]) -> list[list[Any]]:
    """`values` cut into consecutive parts of `sizes`."""
    parts, start = [], 0
    for size in sizes:
        parts.append(values[start : start + size])
        start += size
    return parts


def model_history(storage: Storage, model: str) -> dict[str, Any]:
    """Everything the history page plots for `model`, as plain data (see the module docstring); empty
    lists where nothing is stored yet. Every file is read once, all of them through one pool of readers:
    the version records, the audit events (the moves among them, in the chain's order), the scored days'
    reports, the monitor runs' drift reports and the estimates history."""
    registry = Registry(storage, model)
    keys = [
        sorted(k for k in storage.list(layout.registry_versions_area(model)) if k.endswith(".json")),
        sorted(storage.list(layout.registry_audit_area(model))),
        [
            k
            for k in storage.list(layout.scores_area(model))
            if PurePosixPath(k).name == layout.SCORE_REPORT_FILE
            and PurePosixPath(k).parent.name.startswith("date=")
        ],
        _runs_of(storage, layout.monitoring_area(model), layout.DRIFT_REPORT),
        [layout.estimates_key(model)],
    ]
    read = _read_json(storage, [k for part in keys for k in part])
    records, audit, scored, monitored, [estimates] = _split(read, [len(part) for part in keys])
    versions = [r for r in records if isinstance(r, dict) and "version" in r]
    metric = headline_metric(versions)
    points = version_points(versions, registry.aliases_by_version(), metric)
    started = {run: p["version"] for p in points if p["trigger"] == "drift" for run in p["trigger_runs"]}
    days = sorted((day_point(r) for r in scored if isinstance(r, dict)), key=lambda d: str(d["day"]))
    reports = [r for r in monitored if isinstance(r, dict)]
    drift = [drift_point(r, started) for r in reports]
    return {
        "model": model,
        "metric": metric,
        "versions": points,
        "champion": next((p["version"] for p in points if p["champion"]), None),
        "days": days,
        "drift": drift,
        "weeks": week_points(drift, reports),
        "estimates": estimate_points(estimates),
        "moves": move_points([e for e in audit if isinstance(e, dict)]),
    }
