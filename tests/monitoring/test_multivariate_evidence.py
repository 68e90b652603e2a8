"""The drift evidence (the Asset event's extra) and the alert carry the joint test: its AUC against its
threshold and floor, and the features it relied on, when it drifted; nothing when it did not."""

from __future__ import annotations

from retrainer.drift import drift_check
from retrainer.monitoring.monitor import alert_text, evidence
from tests.drift.generator import make_frame


def _report(current):
    report = drift_check(make_frame(20_000, seed=31), current, run="2026-11-20T000000Z")
    report["champion_version"] = "3"
    return report


def test_a_joint_drift_is_in_the_evidence_and_the_alert():
    current = make_frame(3_000, seed=32)
    current["num_03"] = current["num_03"].mean() + 1.6 * (current["num_03"] - current["num_03"].mean())
    report = _report(current)
    found = evidence(report, "s3://b/report.json", "s3://b/page.html", "http://ui/page")
    joint = found["multivariate"]
    assert joint["verdict"] == "drift" and joint["features"][0] == "num_03"
    assert joint["auc"] == report["multivariate"]["auc"] and joint["threshold"] > 0.5
    text = alert_text("fraud-xgb", found)
    print("\n" + text)
    assert "joint/shape drift" in text and f"AUC {joint['auc']:.3f}" in text and "num_03" in text
    assert f"floor {joint['min_auc']}" in text


def test_no_joint_drift_says_nothing_of_it():
    found = evidence(_report(make_frame(3_000, seed=33)), "s3://b/r.json", "s3://b/p.html")
    assert found["multivariate"]["verdict"] == "no drift" and found["multivariate"]["features"] == []
    assert "joint/shape" not in alert_text("fraud-xgb", found)
