"""A concept drift seen only per slice reaches the drift evidence and the alert text, slice by slice."""

from __future__ import annotations

from retrainer.monitoring.monitor import alert_text, evidence


def test_the_slices_whose_roc_auc_fell_are_named_in_the_evidence_and_the_alert():
    slices = [
        {"slice": "region=mea", "roc_auc": 0.71, "holdout_roc_auc": 0.97, "positives": 40, "drop": 0.26},
        {"slice": "region=eu", "roc_auc": 0.96, "holdout_roc_auc": 0.97, "positives": 30, "drop": 0.01},
        {"slice": "channel=wallet", "roc_auc": 0.80, "holdout_roc_auc": 0.95, "positives": 60, "drop": 0.15},
    ]
    report = {
        "run": "2026-04-27T000000Z",
        "as_of": "2026-04-27T00:00:00+00:00",
        "verdict": "drift confirmed",
        "kinds": ["slices"],
        "champion_version": 1,
        "data": {"features": []},
        "root_cause": [],
        "performance": {"verdict": "no drift", "pr_auc": 0.47, "holdout_pr_auc": 0.56},
        "slices": {"verdict": "drift", "drifted": ["region=mea", "channel=wallet"], "slices": slices},
        "config": {"psi_threshold": 0.2},
    }
    found = evidence(report, "file:///r.json", "file:///r.html")
    assert [e["slice"] for e in found["slices"]] == ["region=mea", "channel=wallet"]  # worst first
    text = alert_text("fraud-xgb", found)
    assert "region=mea 0.710 vs 0.970" in text and "channel=wallet 0.800 vs 0.950" in text
    assert "region=eu" not in text
