"""The gate report for people: every gate with value, threshold and verdict, the slices, the interval."""

import numpy as np
import pandas as pd

from retrainer.core.models import load_model
from retrainer.evaluation.gates import assess
from retrainer.evaluation.report import render_html, render_markdown
from retrainer.evaluation.slices import slice_masks
from tests.conftest import PROJECT_DIR


def _assessment(champion: bool = True):
    params = load_model(PROJECT_DIR, "fraud-xgb")
    params["evaluate"]["bootstrap"]["resamples"] = 200
    rng = np.random.default_rng(0)
    n = 6000
    frame = pd.DataFrame(
        {
            "region": rng.choice(["na", "eu", "mea"], size=n, p=[0.6, 0.38, 0.02]),
            "amount": rng.lognormal(4, 1, n),
        }
    )
    y = (rng.random(n) < 0.03).astype(int)
    scores = {"challenger": 2.5 * y + rng.normal(size=n), "baseline": y + rng.normal(size=n)}
    thresholds = {"challenger": 1.0, "baseline": 1.0}
    if champion:
        scores["champion"], thresholds["champion"] = 2.2 * y + rng.normal(size=n), 1.2
    assessment = assess(
        y, frame["amount"].to_numpy(), scores, thresholds, slice_masks(frame, {"levels": ["region"]}), params
    )
    report = {
        "model": "fraud-xgb",
        "run_key": "2026-11-23T000000Z",
        "champion_version": 3,
        **assessment.report,
    }
    return report, assessment.curves


def test_markdown_shows_every_gate_the_slices_the_interval_and_the_money():
    report, _ = _assessment()
    markdown = render_markdown(report)
    for gate in report["gates"]:
        if gate["slice"] is None:
            assert f"| {gate['name']} | {gate['value']:.4f} | {gate['threshold']:.4f} |" in markdown
    interval = report["non_regression"]
    assert f"[{interval['low']:+.4f}, {interval['high']:+.4f}]" in markdown
    assert "| region=mea | " in markdown and "insufficient data" in markdown  # ~4 frauds: not judged
    assert "| region=na | " in markdown
    assert "champion version 3" in markdown
    saved = report["costs"]["saved_vs_champion"]
    assert f"{abs(saved):,.2f}" in markdown


def test_a_rejected_challenger_report_names_the_failed_gates_first():
    report, _ = _assessment()
    report["passed"] = False
    report["gates"][0] = report["gates"][0] | {"verdict": "failed", "passed": False}
    markdown = render_markdown(report)
    assert "**Challenger REJECTED** (1 failed gate(s): min_pr_auc)" in markdown


def test_html_is_one_self_contained_page_with_both_curves():
    report, curves = _assessment(champion=False)
    html = render_html(report, curves)
    assert html.startswith("<!doctype html>") and html.count("<svg") == 2
    assert "<script" not in html and 'src="http' not in html and 'href="http' not in html
    assert html == render_html(report, curves)  # the same assessment renders the same bytes
    assert "no champion yet" in html
