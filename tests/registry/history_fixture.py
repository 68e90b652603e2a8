"""A model's stored history, made through the platform's own functions, for the history page's tests and
the version comparison's: `populate_history` registers five versions of small real XGBoost models
(`Registry.register`), moves the deployment (promote, canary steps, shadow, rollbacks: `deployment.actions`),
scores every day (`scoring.batch.score_day`, `scoring.report.day_report`), runs a drift check per day
(`drift.drift_check`, `monitoring.episodes.judge`) and the performance estimates (`monitoring.estimates`),
each at its simulated moment (the platform's clock is set to it while it runs).

    facts = populate_history(storage, source, params)      # ~35 scored days, 5 versions, ~10 moves

The source's data drifts from day 14 on, so monitor runs confirm drift and signal retrainings; v3 is
registered as the retraining one of them started.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pandas as pd

from retrainer.core import artifacts, clock, layout
from retrainer.core.clock import run_key
from retrainer.deployment import actions
from retrainer.deployment.state import read
from retrainer.drift import drift_check
from retrainer.monitoring import days as judged_days
from retrainer.monitoring import episodes, estimates
from retrainer.registry.store import Registry
from retrainer.scoring.batch import score_day
from retrainer.scoring.report import day_report
from retrainer.sources.partitions import partition_key
from retrainer.storage import sha256_bytes
from retrainer.synthetic.generator import GeneratorConfig, generate_day
from tests.deploy_helpers import train_model

FIRST = date(2026, 9, 1)
DAYS = 35
ROWS = 600
DRIFT_DAY = 14  # the source's inputs shift from this day on
# (day, version): when each version is registered; its headline figures and interval against the champion
REGISTERED = {0: 1, 5: 2, 17: 3, 24: 4, 30: 5}
PR_AUC = {1: 0.412, 2: 0.437, 3: 0.455, 4: 0.428, 5: 0.466}
INTERVAL = {2: (-0.004, 0.051), 3: (0.002, 0.034), 4: (-0.041, 0.012), 5: (-0.010, 0.068)}


def at(day: int, hour: int = 0) -> datetime:
    """The simulated moment `hour` o'clock of the fixture's day number `day` (UTC)."""
    return datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), UTC) + timedelta(hours=hour)


def write_source(source, days: int = DAYS + 1) -> None:
    """Generated transactions, one partition a day, drifting from DRIFT_DAY."""
    config = GeneratorConfig(
        rows_per_day=ROWS,
        customers=400,
        fraud_rate=0.03,
        data_drift=0.8,
        drift_start=FIRST + timedelta(days=DRIFT_DAY),
    )
    for n in range(days):
        day = FIRST + timedelta(days=n)
        source.put_bytes(partition_key(day), generate_day(day, 7, config).to_parquet(index=False))


def _publish_run(storage, model: str, version: int, day: int) -> str:
    """A published training run holding what monitoring reads of it (its valid and holdout splits, rows
    from before the fixture's days): the scoring health's and the drift's training reference."""
    run = run_key(at(day))
    files = {}
    for offset, split in enumerate(("valid", "holdout")):
        frame = generate_day(FIRST - timedelta(days=2 + offset), 100 + version,
                             GeneratorConfig(rows_per_day=ROWS, customers=400, fraud_rate=0.03))  # fmt: skip
        data = frame.to_parquet(index=False)
        uri = storage.put_bytes(layout.run_file_key(model, run, artifacts.prepared(split)), data)
        files[artifacts.prepared(split)] = {"uri": uri, "sha256": sha256_bytes(data)}
    manifest = {"run_key": run, "files": files}
    return storage.put_text(layout.run_file_key(model, run, layout.MANIFEST_FILE), json.dumps(manifest))


def _register(registry: Registry, params: dict, version: int, day: int, trigger: dict) -> dict:
    """Register version `version` (a small real model) with the lineage the registry page, the history
    and the comparison read."""
    champion = version - 1 if version > 1 else None
    low, high = INTERVAL.get(version, (None, None))
    metrics = {"challenger": {"pr_auc": PR_AUC[version], "recall_at_fpr": round(0.3 + version / 50, 3)}}
    if champion:
        metrics["champion"] = {"version": champion, "pr_auc": round(PR_AUC[version] - (low + high) / 2, 4)}
    interval = (
        {"estimate": (low + high) / 2, "low": low, "high": high, "confidence": 0.95, "metric": "pr_auc"}
        if champion
        else None
    )
    record, _ = registry.register(
        {"model.ubj": train_model(params, seed=version)},
        {
            "run_key": run_key(at(day)),
            "as_of": at(day).isoformat(),
            "params": params,
            "decision": {"threshold": 0.05},
            "data_hash": f"{version:02d}d4e5f6.dir",
            "metrics": metrics,
            "non_regression": interval,
            "gates": [{"name": "min_pr_auc", "verdict": "passed", "value": PR_AUC[version]}],
            "trigger": trigger,
            "run_manifest_uri": _publish_run(registry.storage, registry.model, version, day),
            "training_window": {
                "start": (at(day) - timedelta(days=56)).isoformat(),
                "end": at(day).isoformat(),
            },
        },
        f"history-fixture-v{version}",
        actor="fixture",
    )
    return record


def _scores(storage, model: str, day: date) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(storage.get_bytes(layout.scores_file_key(model, day.isoformat()))))


def _monitor(storage, source, registry, params, n: int, earlier: list[dict]) -> dict:
    """One monitor run judging day `n` (as `monitoring.monitor.check_drift` does, on the raw columns):
    its drift report stored where the monitor stores it; the estimates of the day; returns the report."""
    model, cols, settings = registry.model, params["model"], params["monitoring"]
    end = at(n + 1)
    state, _ = read(registry)
    record = registry.get(state["champion"])
    features = [c for c in params["features"]["numeric"] if c != "card_present"]
    categorical = list(params["features"]["categorical"])
    days = [FIRST + timedelta(days=k) for k in range(n + 1)]
    raw = {d: pd.read_parquet(io.BytesIO(source.get_bytes(partition_key(d)))) for d in days[-35:]}
    reference = pd.concat([raw[d] for d in days[:7] if d in raw] or [raw[days[0]]], ignore_index=True)
    scored = {d: _scores(storage, model, d) for d in days[-35:]}
    labelled = pd.concat(
        [
            scored[d][[cols["id_column"], "champion_score"]].merge(raw[d], on=cols["id_column"])
            for d in scored
        ],  # fmt: skip
        ignore_index=True,
    ).rename(columns={"champion_score": "score"})
    cfg = dict(settings["drift"], multivariate_enabled=False)
    report = drift_check(
        reference[features + categorical],
        raw[days[-1]][features + categorical],
        cfg,
        features=features + categorical,
        categorical=categorical,
        holdout_scores=pd.concat([scored[d]["champion_score"] for d in days[:7] if d in scored]).to_numpy(),
        current_scores=scored[days[-1]]["champion_score"].to_numpy(),
        decision_threshold=record["decision"]["threshold"],
        labelled=labelled,
        holdout_pr_auc=record["metrics"]["challenger"]["pr_auc"],
        as_of=end,
        label_columns=("score", cols["label"], cols["label_time"], cols["event_time"]),
        label_maturity_days=params["data"]["label_maturity_days"],
        history=[r["summary"] for r in earlier],
        run=run_key(end),
    )
    report["trigger"], report["alert"] = episodes.judge(
        earlier, registry.versions(), set(), report["verdict"], record["version"], end,
        settings["cooldown_days"], settings["reminder_days"],
    )  # fmt: skip
    report["champion_version"] = record["version"]
    storage.put_text(layout.monitoring_file_key(model, run_key(end)), json.dumps(report))
    estimates.estimate_days(storage, source, registry, params, judged_days.judged_days(end, 1, "UTC"))
    return report


def populate_history(storage, source, params: dict, days: int = DAYS) -> dict:
    """Store `days` days of a model's life (from FIRST): five versions, the deployment moves, the scored
    days, a monitor run per day and the estimates. Returns the facts a test checks the page against:
    `model`, `versions` {n: record}, `champion`, `scored_days`, `moves` (event names in order),
    `retrain_runs` (monitor runs that signalled a retraining) and `drift_version` (v3's triggering run)."""
    model = params["model"]["name"]
    registry = Registry(storage, model)
    write_source(source, days + 1)
    now = {"moment": at(0)}
    facts: dict = {"model": model, "versions": {}, "scored_days": [], "retrain_runs": []}
    earlier: list[dict] = []
    with mock.patch.object(clock, "now", lambda: now["moment"]):
        for n in range(days):
            now["moment"] = at(n, 1)
            if (version := REGISTERED.get(n)) is not None:
                runs = [r["run"] for r in earlier if (r.get("trigger") or {}).get("retrain")]
                trigger = (
                    {"kind": "drift", "asset_events": [{"asset": f"retrainer://drift/{model}",
                                                        "extra": {"run": runs[-1]}}]}
                    if version == 3 and runs
                    else {"kind": "schedule", "asset_events": []}
                )  # fmt: skip
                facts["versions"][version] = _register(registry, params, version, n, trigger)
                if version == 3:
                    facts["drift_version"] = runs[-1] if runs else None
            now["moment"] = at(n, 8)
            if n == 0:
                registry.set_alias("champion", 1, "alice", "first champion", expected=None)
            elif n == 5:
                actions.start_canary(registry, 2, "alice", "try v2 on a few customers", params)
            elif n in (7, 9, 11) and read(registry)[0]["mode"] == "canary":
                actions.ramp(registry, "monitor", "two good days at this step", params)
            elif n == 17:
                actions.start_shadow(registry, 3, "bob", "drift retraining: watch it in shadow")
            elif n == 20:
                actions.rollback(registry, "monitor", "automatic rollback: alert rate ratio 2.4 > 2.0")
            elif n == 24:
                actions.promote(registry, 4, "bob", "blue-green: v4 at once")
            elif n == 27:
                actions.rollback(registry, "carol", "v4 alerts too often: previous champion back")
            elif n == 31:
                actions.start_canary(registry, 5, "alice", "try v5", params)
            day = FIRST + timedelta(days=n)
            now["moment"] = at(n + 1, 2)  # the score DAG of day n runs the next morning
            state, _ = read(registry)
            scores, summary = score_day(source, storage, registry, state, day, params)
            day_report(source, storage, registry, scores, summary, at(n + 1), params)
            facts["scored_days"].append(day.isoformat())
            now["moment"] = at(n + 1, 6)
            earlier.append(_monitor(storage, source, registry, params, n, earlier))
            if earlier[-1]["trigger"]["retrain"]:
                facts["retrain_runs"].append(earlier[-1]["run"])
    facts["champion"] = registry.alias("champion")["version"]
    facts["moves"] = [e["event"] for e in registry.audit_log() if e.get("move_id")]
    return facts
