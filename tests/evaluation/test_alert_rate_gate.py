"""The gate on the challenger's alert rate (issue 25, item 3): at its own decision threshold against the
champion's at the champion's threshold, on the same holdout rows, within the canary's bounds
(`deployment.rollback.alert_rate_ratio`): a challenger the canary would roll back is refused at registration.
"""

import numpy as np
import pandas as pd
import pytest

from retrainer.core.models import load_model
from retrainer.evaluation.gates import FAILED, PASSED, GateFailed, alert_rate_gate, assess
from retrainer.evaluation.report import render_html, render_markdown
from retrainer.evaluation.slices import slice_masks
from retrainer.registry.gate_report import NotGated, judge
from tests.conftest import PROJECT_DIR


def _params():
    params = load_model(PROJECT_DIR, "fraud-xgb")
    params["evaluate"]["bootstrap"]["resamples"] = 200
    return params


def _assess(challenger_rate: float, champion_rate: float | None, seed: int = 3):
    """A holdout (1 % positives) where challenger and champion rank alike; each model's threshold
    is the score quantile that makes it alert on the given share of the rows."""
    rng = np.random.default_rng(seed)
    n = 20_000
    frame = pd.DataFrame({"region": rng.choice(["na", "eu"], size=n), "amount": rng.lognormal(4, 1, n)})
    y = (rng.random(n) < 0.01).astype(int)
    scores = {"challenger": 3.0 * y + rng.normal(size=n)}
    thresholds = {"challenger": float(np.quantile(scores["challenger"], 1 - challenger_rate))}
    if champion_rate is not None:
        scores["champion"] = scores["challenger"] + 0.05 * rng.normal(size=n)
        thresholds["champion"] = float(np.quantile(scores["champion"], 1 - champion_rate))
    masks = slice_masks(frame, {"levels": ["region"]})
    return assess(y, frame["amount"].to_numpy(), scores, thresholds, masks, _params())


def _gate(assessment):
    return next(g for g in assessment.gates if g.name == "alert_rate_vs_champion")


def test_a_challenger_alerting_on_12_percent_against_a_champion_at_5_fails_naming_rates_ratio_and_bounds():
    assessment = _assess(0.123, 0.053)
    gate = _gate(assessment)
    print(f"\nalert-rate gate, 12.3 % vs 5.3 %: {gate.describe()}")
    assert gate.verdict == FAILED
    assert not assessment.passed and not assessment.report["passed"]
    assert gate.value == pytest.approx(0.123 / 0.053, rel=0.02)
    assert "12.30%" in gate.detail and "5.30%" in gate.detail  # both rates
    assert f"{gate.value:.2f}x" in gate.detail  # the ratio
    assert "0.5x-2x" in gate.detail  # the canary's bounds, from deployment.rollback.alert_rate_ratio
    with pytest.raises(GateFailed, match="alert_rate_vs_champion FAILED"):
        raise GateFailed(assessment.gates)
    # the same challenger passes every other gate: only the alert rate stops it
    assert [g.label for g in assessment.gates if not g.passed] == ["alert_rate_vs_champion"]


def test_a_challenger_within_the_canary_bounds_passes():
    gate = _gate(_assess(0.07, 0.053))
    print(f"\nalert-rate gate, 7 % vs 5.3 %: {gate.describe()}")
    assert gate.verdict == PASSED
    assert gate.value == pytest.approx(0.07 / 0.053, rel=0.02)


def test_the_bounds_are_the_canarys_own():
    params = _params()
    assert params["deployment"]["rollback"]["alert_rate_ratio"] == [0.5, 2.0]
    assert alert_rate_gate(300, 100, 10_000, [0.5, 4.0]).verdict == PASSED
    assert alert_rate_gate(300, 100, 10_000, [0.5, 2.0]).verdict == FAILED
    assert alert_rate_gate(40, 100, 10_000, [0.5, 2.0]).verdict == FAILED  # far fewer alerts: also out


def test_without_a_champion_the_alert_rate_gate_is_not_applicable_and_says_so():
    gate = _gate(_assess(0.123, None))
    assert gate.verdict == PASSED and gate.value is None
    assert "no champion yet" in gate.detail


def test_a_champion_that_alerts_on_nothing_gives_no_ratio():
    assert alert_rate_gate(0, 0, 1000, [0.5, 2.0]).verdict == PASSED
    failed = alert_rate_gate(5, 0, 1000, [0.5, 2.0])
    assert failed.verdict == FAILED and failed.value is None and "unbounded" in failed.detail


def test_the_gate_is_in_the_report_pages_and_the_sealed_gates_like_the_others():
    assessment = _assess(0.123, 0.053)
    report = {"model": "fraud-xgb", "run_key": "2026-11-23T000000Z", "champion_version": 3}
    report |= assessment.report
    assert report["alert_rates"]["bounds"] == [0.5, 2.0]
    assert report["alert_rates"]["rates"]["challenger"] == pytest.approx(0.123, abs=0.001)
    listed = [g for g in report["gates"] if g["name"] == "alert_rate_vs_champion"]
    assert len(listed) == 1 and listed[0]["verdict"] == FAILED and listed[0]["passed"] is False
    markdown = render_markdown(report)
    assert "alert_rate_vs_champion" in markdown and "12.30%" in markdown
    assert "alert_rate_vs_champion" in render_html(report, assessment.curves)
    # register judges each gate by its own verdict: this one refuses the version, named
    with pytest.raises(NotGated, match="alert_rate_vs_champion"):
        judge("file:///gates.json", report)
