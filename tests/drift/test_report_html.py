"""The HTML drift report renders offline (no URL at all, so no script or style from a CDN) and names
the root cause."""

from __future__ import annotations

import re

from retrainer.drift import drift_check, render_html
from tests.drift.conftest import DECISION_THRESHOLD
from tests.drift.generator import make_frame, model_scores


def test_html_report_is_self_contained_and_names_the_top_feature(profile, holdout):
    current = make_frame(30_000, seed=11, shift={"num_04": 1.5, "region": 1.0})
    report = drift_check(
        profile,
        current,
        holdout_scores=holdout["scores"],
        current_scores=model_scores(current),
        decision_threshold=DECISION_THRESHOLD,
        run="2026-11-16T000000Z",
    )
    html = render_html(report)
    top = report["root_cause"][0]
    assert top == "num_04"
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<script|<link|@import|src=|url\((?!#)", html)  # url(#id): local clip paths
    root_cause = html[html.index("<h2>Root cause</h2>") : html.index("<h2>Features</h2>")]
    assert f"<b>{top}</b>" in root_cause and "region" in root_cause
    plotted = re.findall(r'<figure aria-label="([^"]+)"><svg', html)
    assert plotted == [f["feature"] for f in report["data"]["features"][:3]]
    assert "drift, not yet persistent" in html
    assert render_html(report) == html  # no timestamps or random ids: the same report, the same page


def test_html_report_renders_a_bare_data_drift_report(reference):
    from retrainer.drift import data_drift

    html = render_html(data_drift(reference, make_frame(5_000, seed=12)))
    assert "No feature drifted." in html and html.count("<svg") == 3


def test_html_report_shows_the_multivariate_test_escaped():
    """The joint test's AUC, threshold, floor and the features it relied on are on the page; a feature
    name is data, so it is escaped."""
    from html import escape

    name = '<img src=x onerror="alert(1)">&amount'
    reference = make_frame(20_000, seed=21).rename(columns={"num_00": name})
    current = make_frame(3_000, seed=22).rename(columns={"num_00": name})
    values = current[name]
    current[name] = values.mean() + 1.6 * (values - values.mean())  # a spread change only
    report = drift_check(reference, current, run="2026-11-16T000000Z")
    joint = report["multivariate"]
    assert joint["verdict"] == "drift" and joint["root_cause"][0] == name
    html = render_html(report)
    item = html[html.index("Joint and shape drift") :].split("</li>", 1)[0]
    assert f"AUC {joint['auc']:.3f}" in item and f"{joint['threshold']:.3f}" in item
    assert f"at least {joint['min_auc']:.3f}" in item
    assert escape(name) in item and name not in html


def test_html_root_cause_names_the_joint_tests_features_when_no_feature_drifted_alone():
    """A decoupled pair moves no marginal: the page's root cause must not read as if nothing moved."""
    from tests.drift import scenarios

    features, categorical = scenarios.FEATURES, scenarios.CATEGORICAL
    report = drift_check(
        scenarios.reference(1)[features],
        scenarios.decoupled(3)[features],
        features=features,
        categorical=categorical,
        run="2026-03-30T000000Z",
    )
    assert report["root_cause"] == [] and report["multivariate"]["verdict"] == "drift"
    cause = render_html(report).split("<h2>Root cause</h2>", 1)[1].split("<h2>", 1)[0]
    assert "No feature drifted alone; the joint test relied on: amount_sum_30d, amount_avg_30d" in cause
