"""Time a model's history page (`retrainer.registry.history` + `history_html`, the registry plugin's
`/registry/history`) on a year of stored data, against reading the same files raw, in the same run.

    .venv/bin/python bench/bench_history.py --days 365 --versions 52

Generated into a temporary local storage: `--versions` versions registered through the registry (one a
week, the model's real params in their lineage, 25 gates each), the deployment moves of each (canary steps,
shadows, blue-green promotions, rollbacks, through `deployment.actions` at their simulated moments) and a
`deployment_held` audit event a day; `--days` scored days' monitoring reports (the shape
`scoring.report.day_report` stores: 30 features' input health); a monitor run's drift report a day (the
shape `drift.check.drift_check` stores: 30 features with their bins and tests, ten plots, prediction and
performance parts); the estimates history with every day realised. Timed, the fastest of `--repeat`: the
floor (every file the page reads, read as bytes one after the other), the page's data (`model_history`),
its HTML (`render`), and the page through the plugin's FastAPI app (`TestClient`, a logged-in user).
Prints one JSON object: seconds, the page's size, and the ratios to the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
MODEL = "fraud-xgb"
START = datetime(2025, 12, 1, tzinfo=UTC)
FEATURES = 30


def _timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _day_report(day: datetime, rng: np.random.Generator, champion: int, challenger: int | None) -> dict:
    """A scored day's report as `scoring.report.day_report` stores it (sizes as in a real one)."""
    features = {
        f"feature_{i:02d}": {
            "missing_share": float(rng.random() / 100),
            "out_of_range_share": float(rng.random() / 100),
            "range": [0.0, float(rng.random() * 1000)],
            "psi": float(rng.gamma(1.0, 0.03)),
            "drift": "no drift",
        }
        for i in range(FEATURES)
    }
    quantiles = {f"p{q}": float(rng.random()) for q in (10, 50, 90, 99)}
    rate = float(0.01 + rng.random() / 100)
    return {
        "day": day.date().isoformat(),
        "rows": int(rng.integers(90_000, 110_000)),
        "mode": "canary" if challenger else "champion",
        "champion": champion,
        "challenger": challenger,
        "champion_alert_rate": rate,
        "challenger_alert_rate": rate * float(0.8 + rng.random() / 2) if challenger else None,
        "champion_scores": {"rows": 100_000, "mean": 0.02, **quantiles},
        "health": {
            "input": {"rows": 100_000, "reference": True, "features": features},
            "output": {"rows": 100_000, "nan_scores": 0, "alert_rate": rate, "score_quantiles": quantiles},
            "software": {"seconds": float(20 + rng.random() * 10), "rows_per_second": 4000.0},
        },
        "breaches": [],
        "alert": None,
    }


def _drift_report(end: datetime, rng: np.random.Generator, confirmed: bool, retrain: bool) -> dict:
    """A monitor run's drift report as the monitor stores it (sizes as in a real one)."""
    run = end.strftime("%Y-%m-%dT%H%M%SZ")
    features = [
        {
            "feature": f"feature_{i:02d}",
            "psi": float(rng.gamma(1.0, 0.05) + (0.3 if confirmed and i < 3 else 0)),
            "distance": {"name": "wasserstein", "value": float(rng.random())},
            "test": {"name": "ks", "statistic": float(rng.random()), "p_value": float(rng.random())},
            "bins": {
                "labels": [f"[{k}, {k + 1})" for k in range(10)],
                "reference": rng.random(10).tolist(),
                "current": rng.random(10).tolist(),
            },  # fmt: skip
            "verdict": "drift" if confirmed and i < 3 else "no drift",
            "contribution": float(rng.random() / FEATURES),
            "rank": i + 1,
        }
        for i in range(FEATURES)
    ]
    plots = {f"feature_{i:02d}": {"kind": "histogram", "edges": rng.random(21).tolist(),
                                  "reference": rng.random(20).tolist(), "current": rng.random(20).tolist()}
             for i in range(10)}  # fmt: skip
    return {
        "run": run,
        "as_of": end.isoformat(),
        "verdict": "drift confirmed" if confirmed else "no drift",
        "drifted": confirmed,
        "confirmed": confirmed,
        "kinds": ["data"] if confirmed else [],
        "data": {"kind": "data", "features": features, "plots": plots, "thresholds": {"psi": 0.2}},
        "prediction": {"psi": float(rng.gamma(1.0, 0.03)), "verdict": "no drift"},
        "performance": {
            "pr_auc": float(0.4 + rng.random() / 10),
            "pr_auc_interval": [0.35, 0.5],
            "holdout_pr_auc": 0.45,
            "positives": 400,
            "rows": {"matured": 700_000},
            "verdict": "no drift",
        },  # fmt: skip
        "trigger": {"retrain": retrain, "suppressed": False},
        "summary": {"run": run, "drifted": confirmed},
    }


def _estimates(days: int, rng: np.random.Generator) -> dict:
    entries = {}
    for n in range(days):
        day = (START + timedelta(days=n)).date().isoformat()
        figure = {k: {"estimate": float(rng.random()), "low": 0.1, "high": 0.9} for k in ("pr_auc", "recall")}
        entries[day] = {
            "day": day, "champion_version": 1, "threshold": 0.2, "estimate": figure,
            "realised": {"pr_auc": float(rng.random()), "within": {"pr_auc": True}},
        }  # fmt: skip
    return {"model": MODEL, "days": entries}


def generate(root: Path, days: int, versions: int, seed: int = 7) -> dict:
    """A model's year under `root`'s storage; returns what was written (counts)."""
    from retrainer.core import clock, layout
    from retrainer.core.models import load_model
    from retrainer.deployment import actions, state
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage

    rng = np.random.default_rng(seed)
    storage = open_storage(root)
    params = load_model(PROJECT, MODEL)
    registry = Registry(storage, MODEL)
    gates = [{"name": f"gate_{i}", "verdict": "passed", "value": 0.5, "bound": 0.2} for i in range(25)]
    every = max(days // versions, 1)
    now = {"at": START}
    retrain_runs: list[str] = []
    with mock.patch.object(clock, "now", lambda: now["at"]):
        for n in range(days):
            day = START + timedelta(days=n)
            now["at"] = day + timedelta(hours=1)
            version = n // every + 1
            if n % every == 0 and version <= versions:
                value = float(0.4 + rng.random() / 10)
                low, high = sorted(rng.normal(0.01, 0.02, 2).tolist())
                trigger = {"kind": "schedule", "asset_events": []}
                if retrain_runs and version % 5 == 0:  # a retraining a confirmed drift started
                    trigger = {"kind": "drift", "asset_events": [{"extra": {"run": retrain_runs[-1]}}]}
                registry.register(
                    {"model.ubj": f"bench model {version}".encode()},
                    {"as_of": day.isoformat(), "params": params, "gates": gates, "trigger": trigger,
                     "metrics": {"challenger": {"pr_auc": value},
                                 "champion": {"version": version - 1, "pr_auc": value - 0.01}},
                     "non_regression": {"low": low, "high": high, "confidence": 0.95},
                     "decision": {"threshold": 0.2}, "data_hash": f"{version}.dir"},
                    f"bench-{version}", actor="bench",
                )  # fmt: skip
                now["at"] = day + timedelta(hours=8)
                if version == 1:
                    registry.set_alias("champion", 1, "bench", "first", expected=None)
                elif version % 4 == 0:
                    actions.start_canary(registry, version, "bench", "canary", params)
                elif version % 4 == 1:
                    actions.start_shadow(registry, version, "bench", "shadow")
                else:
                    actions.promote(registry, version, "bench", "blue-green")
            now["at"] = day + timedelta(hours=9)
            deployed, _ = state.read(registry)
            week_day = n % every
            if deployed["mode"] == "canary" and week_day in (2, 4, 6):
                actions.ramp(registry, "monitor", "good days", params)
            elif deployed["mode"] == "shadow" and week_day == 3:
                actions.rollback(registry, "monitor", "automatic rollback")
            elif (n // every + 1) % 4 == 3 and week_day == 2 and deployed.get("previous_champion"):
                actions.rollback(registry, "bench", "previous champion back")
            else:
                state.audit(storage, MODEL, "deployment_held", actor="monitor", reason="held", version=None)
            deployed, _ = state.read(registry)
            report = _day_report(day, rng, deployed["champion"], deployed.get("challenger"))
            storage.put_text(layout.scores_file_key(MODEL, report["day"], layout.SCORE_REPORT_FILE),
                             json.dumps(report, indent=2))  # fmt: skip
            end = day + timedelta(days=1)
            confirmed = n % 30 in (10, 11, 12)
            drift = _drift_report(end, rng, confirmed, retrain=n % 30 == 12)
            if drift["trigger"]["retrain"]:
                retrain_runs.append(drift["run"])
            storage.put_text(layout.monitoring_file_key(MODEL, drift["run"]), json.dumps(drift, indent=2))
    storage.put_text(layout.estimates_key(MODEL), json.dumps(_estimates(days, rng), indent=2, sort_keys=True))
    return {"days": days, "versions": len(registry.versions()), "audit_events": len(registry.audit_log())}


def _floor(root: Path) -> int:
    """Read as bytes, one after the other, every file the page reads; returns the bytes read."""
    from retrainer.storage import open_storage

    storage = open_storage(root)
    keys = [k for k in storage.list(f"registry/{MODEL}") if "/objects/" not in k and "/runs/" not in k]
    keys += storage.list(f"scores/{MODEL}") + storage.list(f"monitoring/{MODEL}")
    return sum(len(storage.get_bytes(k)) for k in keys)


def _through_the_plugin(root: Path):
    """A call of `/registry/history?model=...` through the plugin's app as a logged-in viewer."""
    os.environ["RETRAINER_STORAGE_ROOT"] = root.as_uri()  # where the plugin's routes read (Settings)
    if str(PROJECT / "plugins") not in sys.path:
        sys.path.insert(0, str(PROJECT / "plugins"))
    import registry_plugin
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    create_auth_manager()
    registry_plugin.app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(
        username="bench", role="viewer"
    )
    client = TestClient(registry_plugin.app)

    def call() -> int:
        response = client.get(f"/history?model={MODEL}")
        assert response.status_code == 200, response.text[:300]
        return len(response.content)

    return call


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--versions", type=int, default=52)
    parser.add_argument("--repeat", type=int, default=3, help="timings repeated (the fastest counts)")
    args = parser.parse_args(argv)
    from retrainer.registry import history_html
    from retrainer.registry.history import model_history
    from retrainer.storage import open_storage

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "storage"
        started = time.perf_counter()
        written = generate(root, args.days, args.versions)
        generate_seconds = time.perf_counter() - started
        storage = open_storage(root)
        floor_seconds, read_bytes = _timed(lambda: _floor(root), args.repeat)
        data_seconds, history = _timed(lambda: model_history(storage, MODEL), args.repeat)
        html_seconds, page = _timed(lambda: history_html.render(history), args.repeat)
        page_seconds, _ = _timed(lambda: history_html.render(model_history(storage, MODEL)), args.repeat)
        before = os.environ.get("RETRAINER_STORAGE_ROOT")
        try:
            call = _through_the_plugin(root)
            call()  # the first request pays the plugin's imports
            route_seconds, served = _timed(call, args.repeat)
        finally:  # the caller's environment as it was (a test runs this bench in its own process)
            if before is None:
                os.environ.pop("RETRAINER_STORAGE_ROOT", None)
            else:
                os.environ["RETRAINER_STORAGE_ROOT"] = before
    report = {
        **written,
        "generate_seconds": round(generate_seconds, 2),
        "read_mib": round(read_bytes / 2**20, 2),
        "floor_seconds": round(floor_seconds, 3),
        "data_seconds": round(data_seconds, 3),
        "html_seconds": round(html_seconds, 3),
        "page_seconds": round(page_seconds, 3),
        "route_seconds": round(route_seconds, 3),
        "page_kib": round(len(page) / 1024, 1),
        "served_kib": round(served / 1024, 1),
        "plotted": {k: len(history[k]) for k in ("versions", "days", "drift", "weeks", "estimates", "moves")},
        "ratio": round(page_seconds / floor_seconds, 2),
        "route_ratio": round(route_seconds / floor_seconds, 2),
        "under_2s": route_seconds < 2.0,
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
