"""The monitor's estimated performance (retrainer.monitoring.estimates) on generated scored days whose
scores are the true fraud probabilities (calibrated), judged as the monitor judges them: the estimate part
goes into the drift check beside the other kinds, persists, and posts through the drift alert.

- covariate shift that lowers the true PR-AUC: the estimate drops below the bound and the drift is
  confirmed and posted weeks before the shifted days' labels mature;
- no shift: once 30 days' labels matured, the realised PR-AUC is inside the estimate's interval on at
  least 90 % of them (the track record says so), and a rerun keeps the same estimates;
- pure concept drift (fraud no longer follows the scores): the estimate misses it, and once the labels
  mature the report flags the gap on the drifted days.

Figures are printed (`pytest -s`)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from retrainer.core import layout
from retrainer.core.models import load_model
from retrainer.drift import drift_check, render_html
from retrainer.drift.estimate_html import estimate_section
from retrainer.monitoring import days
from retrainer.monitoring.estimates import days_to_estimate, estimate_days
from retrainer.monitoring.estimation import realised
from retrainer.monitoring.monitor import alert_text, evidence
from retrainer.registry.store import Registry
from retrainer.sources.partitions import partition_key
from retrainer.storage import open_storage
from retrainer.tasks.summaries import drift_lines
from tests.conftest import PROJECT_DIR
from tests.deploy_helpers import register
from tests.test_html_escaping import IMG, SCRIPT, assert_inert

MODEL, ROWS, THRESHOLD = "fraud-xgb", 2000, 0.2
FIRST = date(2026, 11, 1)
CLEAN = {"centre": 0.0, "spread": 1.0}
SHIFTED = {"centre": 0.9, "spread": 0.35}  # inputs crowd where fraud is hard to tell apart


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def write_day(source, storage, day: date, version: int, centre=0.0, spread=1.0, concept=False) -> float:
    """One generated day: the source partition (amount, label, label arrival within 20 days) and its
    scores file, the scores being the true probabilities, unless `concept` (fraud then follows a pattern
    the scores do not see). Returns the day's realised PR-AUC."""
    rng = np.random.default_rng([5, day.toordinal()])
    x = rng.normal(centre, spread, ROWS)
    p = _sigmoid(2.5 * x - 6.0)
    truth = _sigmoid(2.5 * (0.25 * x + 0.95 * rng.normal(size=ROWS)) - 6.0) if concept else p
    fraud = rng.random(ROWS) < truth
    event = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 86_400, ROWS)), unit="s")
    delay = np.where(fraud, rng.uniform(1, 10, ROWS), rng.uniform(5, 20, ROWS))
    ids = [f"tx-{day:%Y%m%d}-{i:06d}" for i in range(ROWS)]
    rows = pd.DataFrame(
        {
            "transaction_id": ids,
            "event_ts": event,
            "amount": np.round(rng.lognormal(3.5, 0.8, ROWS), 2),
            "is_fraud": fraud.astype(np.int8),
            "label_available_at": event + pd.to_timedelta(delay, unit="D"),
        }
    )
    source.put_bytes(partition_key(day), rows.to_parquet(index=False))
    scores = pd.DataFrame(
        {
            "transaction_id": ids,
            "customer_id": [f"c{i % 300}" for i in range(ROWS)],
            "score": p,
            "decision": p >= THRESHOLD,
            "decided_by": np.int32(version),
            "champion_version": np.int32(version),
            "champion_score": p,
            "champion_decision": p >= THRESHOLD,
        }
    )
    storage.put_bytes(layout.scores_file_key(MODEL, day.isoformat()), scores.to_parquet(index=False))
    return realised(fraud, p, THRESHOLD)["pr_auc"]


class Monitor:
    """The monitor's estimation and drift decision, run by logical date (each run judges the day before),
    over a champion registered with its threshold; no data drift, so only the estimate can drift."""

    def __init__(self, tmp_path):
        self.params = load_model(PROJECT_DIR, MODEL)
        self.source, self.storage = open_storage(tmp_path / "source"), open_storage(tmp_path / "storage")
        self.registry = Registry(self.storage, MODEL)
        self.version = register(self.registry, self.params, b"a model", threshold=THRESHOLD)
        frame = pd.DataFrame({"amount": np.random.default_rng(0).normal(size=500)})
        self.reference, self.current = frame, frame.copy()
        self.drift = copy.deepcopy(self.params["monitoring"]["drift"]) | {"multivariate_enabled": False}
        self.history: list[dict] = []

    def day(self, day: date, **knobs) -> float:
        return write_day(self.source, self.storage, day, self.version, **knobs)

    def run(self, logical: date) -> dict:
        judged = days.judged_days(
            datetime.combine(logical, datetime.min.time(), UTC) + timedelta(hours=6), 1, "UTC"
        )
        part = estimate_days(self.storage, self.source, self.registry, self.params, judged)
        report = drift_check(
            self.reference, self.current, self.drift, features=["amount"], categorical=[],
            as_of=judged.end, history=self.history, run=judged.end.isoformat(), judged={"estimate": part},
        )  # fmt: skip
        self.history.append(report["summary"])
        report["champion_version"] = self.version
        return report


def _pr_auc(report: dict) -> str:
    (entry,) = report["estimate"]["days"] or [None]
    if entry is None:
        return "not scored"
    figure = entry["estimate"]["pr_auc"]
    return f"{figure['estimate']:.3f} [{figure['low']:.3f}, {figure['high']:.3f}]"


def test_covariate_shift_that_lowers_performance_alerts_before_the_labels_mature(tmp_path):
    monitor = Monitor(tmp_path)
    shift_start, maturity = FIRST + timedelta(days=10), monitor.params["data"]["label_maturity_days"]
    truth, reports = {}, {}
    for k in range(16):
        day = FIRST + timedelta(days=k)
        truth[day] = monitor.day(day, **(SHIFTED if day >= shift_start else CLEAN))
        reports[day] = monitor.run(day + timedelta(days=1))
    confirmed = min(d for d, r in reports.items() if r["confirmed"])
    labels_mature = shift_start + timedelta(days=maturity + 1)
    bound = reports[confirmed]["estimate"]["min_pr_auc"]
    print(f"\nbound {bound}; drift from {shift_start}; confirmed on the run judging {confirmed}; the first "
          f"shifted day's labels mature on {labels_mature}")  # fmt: skip
    for day, report in reports.items():
        print(f"  {day}: estimated {_pr_auc(report)}, realised later {truth[day]:.3f}: {report['verdict']}")
    clean = [r for d, r in reports.items() if d < shift_start]
    assert all(r["estimate"]["verdict"] == "no drift" and not r["drifted"] for r in clean)
    shifted = [r for d, r in reports.items() if d >= shift_start]
    assert all(r["estimate"]["verdict"] == "drift" for r in shifted)  # every shifted day, from the first
    assert confirmed == shift_start + timedelta(days=monitor.drift["consecutive_runs"] - 1)
    assert confirmed < labels_mature - timedelta(days=14)  # weeks before a label could show it
    found = evidence(reports[confirmed], "report-uri", "page-uri")
    text = alert_text(MODEL, found)
    logged = drift_lines({"evidence": found, "verdict": reports[confirmed]["verdict"]})
    print("  alert:", text, "\n  task log:", logged)
    assert f"estimated PR-AUC below 0.200: {confirmed.isoformat()}" in "\n".join(logged)
    assert "estimated PR-AUC" in text and shift_start.isoformat() not in text  # this run's day, not old ones
    assert found["estimate"]["breaches"][0]["day"] == confirmed.isoformat()


def test_without_shift_the_realised_pr_auc_is_inside_the_interval_on_90_percent_of_30_days(tmp_path):
    monitor = Monitor(tmp_path)
    for k in range(30):
        monitor.day(FIRST + timedelta(days=k))
        assert monitor.run(FIRST + timedelta(days=k + 1))["estimate"]["verdict"] == "no drift"
    last = FIRST + timedelta(days=29)
    graded = monitor.run(last + timedelta(days=monitor.params["data"]["label_maturity_days"] + 1))
    record = graded["estimate"]["track_record"]
    pr_auc = record["figures"]["pr_auc"]
    print(f"\n30 days without shift, graded once their labels matured: {json.dumps(record['figures'])}")
    assert pr_auc["days"] == 30  # each day graded by the first run after its labels matured
    assert pr_auc["coverage"] >= 0.9 and pr_auc["mean_abs_error"] < 0.1
    # a rerun of an old date estimates its day again, the same, and keeps the realised figures
    history = json.loads(monitor.storage.get_text(layout.estimates_key(MODEL)))
    monitor.run(FIRST + timedelta(days=6))
    again = json.loads(monitor.storage.get_text(layout.estimates_key(MODEL)))
    assert again["days"]["2026-11-06"]["estimate"] == history["days"]["2026-11-06"]["estimate"]
    assert again["days"]["2026-11-06"]["realised"] == history["days"]["2026-11-06"]["realised"]


def test_pure_concept_drift_is_missed_by_the_estimate_and_flagged_once_labels_mature(tmp_path):
    monitor = Monitor(tmp_path)
    drift_start = FIRST + timedelta(days=10)
    for k in range(20):
        day = FIRST + timedelta(days=k)
        monitor.day(day, concept=day >= drift_start)
        report = monitor.run(day + timedelta(days=1))
        assert report["estimate"]["verdict"] == "no drift"  # the scores look as they always did
    graded = monitor.run(FIRST + timedelta(days=20 + monitor.params["data"]["label_maturity_days"] + 1))
    gaps = {g["day"] for g in graded["estimate"]["track_record"]["gaps"]}
    drifted = {(drift_start + timedelta(days=k)).isoformat() for k in range(10)}
    print(f"\nconcept drift from {drift_start}: gaps flagged on {sorted(gaps)}")
    for gap in graded["estimate"]["track_record"]["gaps"]:
        print(f"  {gap['day']}: realised {gap['realised']:.3f}, estimated {gap['estimate']:.3f} "
              f"[{gap['low']:.3f}, {gap['high']:.3f}]")  # fmt: skip
    assert len(gaps & drifted) >= 9 and len(gaps - drifted) <= 1
    assert {g["day"] for g in graded["estimate"]["new_gaps"]} == gaps
    page = render_html(graded, "Drift: fraud-xgb")
    assert_inert(page)  # no script, no link, nothing but text and the inline plots
    assert "Estimate missed: realised PR-AUC outside the interval" in page
    assert all(day in page for day in gaps) and "<svg" in page.split("Track record", 1)[1]
    assert "http" not in page.split("Estimated performance", 1)[1]  # no external script or link


def test_estimation_switched_off_writes_nothing(tmp_path):
    monitor = Monitor(tmp_path)
    monitor.params["monitoring"]["estimation"]["enabled"] = False
    monitor.day(FIRST)
    judged = days.judged_days(datetime(2026, 11, 2, 6, tzinfo=UTC), 1, "UTC")
    assert estimate_days(monitor.storage, monitor.source, monitor.registry, monitor.params, judged) is None
    assert not monitor.storage.exists(layout.estimates_key(MODEL))


def test_the_estimate_section_shows_what_it_is_given_as_text():
    figure = {"estimate": 0.1, "low": 0.05, "high": 0.2}
    entry = {"day": IMG, "champion_version": SCRIPT, "estimate": {"expected_positives": 20.0,
             "pr_auc": figure, "recall": figure, "cost": figure}}  # fmt: skip
    gap = {"day": SCRIPT, "realised": 0.01, **figure}
    part = {
        "verdict": "drift", "min_pr_auc": 0.2, "days": [entry], "not_scored": [SCRIPT],
        "settings": {"confidence": 0.95, "samples": 200},
        "track_record": {"since": IMG, "weeks": 8, "figures": {}, "gaps": [gap],
                         "series": [{"day": "2026-11-20", **figure, "realised": 0.01}]},
    }  # fmt: skip
    parsed = assert_inert(estimate_section(part))
    assert IMG in parsed.text and SCRIPT in parsed.text


def test_a_day_scored_after_its_monitor_run_is_estimated_by_the_next_run(tmp_path):
    monitor = Monitor(tmp_path)
    first, second = FIRST, FIRST + timedelta(days=1)
    assert monitor.run(second)["estimate"]["not_scored"] == [first.isoformat()]  # scoring had not run yet
    empty = pd.DataFrame({"transaction_id": [], "champion_score": [], "champion_version": []}, dtype=float)
    monitor.storage.put_bytes(layout.scores_file_key(MODEL, first.isoformat()), empty.to_parquet(index=False))
    assert monitor.run(second)["estimate"]["not_scored"] == [first.isoformat()]  # a file without a row
    monitor.day(first), monitor.day(second)  # the late scoring of the first day, then the second day's
    estimated = [entry["day"] for entry in monitor.run(second + timedelta(days=1))["estimate"]["days"]]
    assert estimated == [first.isoformat(), second.isoformat()]


def test_consecutive_runs_estimate_each_scored_day_once_whatever_the_zone(tmp_path):
    storage, history = open_storage(tmp_path / "storage"), {"days": {}}
    for zone in ("UTC", "Europe/Paris", "America/Los_Angeles"):
        taken = []
        for k in range(1, 40):  # across the end of daylight saving time (2026-10-25 and 2026-11-01)
            at = datetime(2026, 10, 10, 6, tzinfo=UTC) + timedelta(days=k)
            taken += days_to_estimate(storage, MODEL, days.judged_days(at, 1, zone), history)
        assert len(taken) == len(set(taken)) and taken == sorted(taken), zone
        assert [(b - a).days for a, b in zip(taken, taken[1:], strict=False)] == [1] * (len(taken) - 1), zone
