"""The health of a scoring run: each kind of bad input, output or software figure is a breach naming the
figure, the feature, the value and the bound; a clean day breaches nothing."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from retrainer.core import layout
from retrainer.deployment.state import read
from retrainer.registry.store import Registry
from retrainer.scoring.batch import score_day
from retrainer.scoring.health import (
    alert_text,
    breaches,
    describe,
    input_health,
    output_health,
    software_health,
)
from retrainer.scoring.report import day_report
from retrainer.synthetic.generator import GeneratorConfig, generate_day
from tests.deploy_helpers import champion_and_challenger, write_days


def _day(day: date, seed: int, rows: int = 3000) -> pd.DataFrame:
    return generate_day(day, seed, GeneratorConfig(rows_per_day=rows, customers=800))


@pytest.fixture
def reference() -> pd.DataFrame:
    return pd.concat([_day(date(2026, 10, d), d) for d in range(1, 8)], ignore_index=True)


def _health(reference, current, params, scores=None, software=None) -> dict:
    if scores is None:  # 2 alerts in 100 rows
        scores = pd.DataFrame({"score": np.linspace(0, 1, 100), "decision": [False] * 98 + [True] * 2})
    return {
        "input": input_health(reference, current, params["features"], params["monitoring"]["drift"]),
        "output": output_health(scores),
        "software": software or software_health(1.0, 50_000, 500, 0.1),
    }


def _found(health, params) -> set[tuple]:
    return {(b["figure"], b["feature"]) for b in breaches(health, params["scoring"]["health"])}


def test_a_clean_day_breaches_nothing(reference, params):
    health = _health(reference, _day(date(2026, 11, 2), 99), params)
    assert breaches(health, params["scoring"]["health"]) == []
    amount = health["input"]["features"]["amount"]
    assert amount["missing_share"] == 0 and amount["psi"] < 0.05 and amount["out_of_range_share"] < 0.01


def test_missing_out_of_range_unseen_and_drifted_inputs_are_named(reference, params):
    current = _day(date(2026, 11, 2), 99)
    current.loc[current.sample(frac=0.2, random_state=1).index, "device_risk_score"] = np.nan
    current["amount"] = current["amount"] * 1000  # cents read as units: out of range and drifted
    current.loc[current.index[:300], "channel"] = "crypto_kiosk"  # a channel training never saw
    health = _health(reference, current, params)
    found = _found(health, params)
    assert ("missing_share", "device_risk_score") in found
    assert {("out_of_range_share", "amount"), ("psi", "amount")} <= found
    assert ("unseen_category_share", "channel") in found
    assert health["input"]["features"]["channel"]["unseen_categories"] == ["crypto_kiosk"]
    assert not {f for f in found if f[1] not in ("device_risk_score", "amount", "channel")}


def test_nan_scores_alert_rate_and_software_figures_breach_their_bounds(reference, params):
    scores = pd.DataFrame({"score": [0.9, np.nan, 0.8, 0.95], "decision": [True, False, True, True]})
    slow = software_health(seconds=10.0, rows=4, peak_rss_mib=20_000, model_load_seconds=0.2)
    health = _health(reference, _day(date(2026, 11, 2), 99), params, scores=scores, software=slow)
    found = breaches(health, params["scoring"]["health"])
    assert {b["figure"] for b in found} == {"nan_scores", "alert_rate", "rows_per_second", "peak_rss_mib"}
    assert health["output"]["nan_scores"] == 1 and health["output"]["alert_rate"] == 0.75
    text = alert_text("fraud-xgb", "2026-11-02", found, "file:///s/report.json")
    assert "4 figure(s) out of bounds" in text and "report: file:///s/report.json" in text
    assert "- alert_rate 0.75 > max 0.2" in text and "- rows_per_second 0.4 < min 1000" in text


def test_a_breach_reads_as_feature_figure_value_and_bound():
    breach = {"figure": "missing_share", "feature": "amount", "value": 0.1234, "max": 0.05}
    assert describe(breach) == "amount: missing_share 0.1234 > max 0.05"


def test_without_a_training_reference_only_missing_values_are_judged(params):
    current = _day(date(2026, 11, 2), 99).drop(columns=["ip_risk_score"])
    health = input_health(None, current, params["features"])
    assert health["reference"] is False
    assert health["features"]["ip_risk_score"]["missing_share"] == 1.0
    assert "psi" not in health["features"]["amount"]


def test_every_scoring_run_reports_its_health(storage, source, params):
    registry = Registry(storage, "fraud-xgb")
    champion_and_challenger(registry, params)
    [day] = write_days(source, 1)
    state, _ = read(registry)
    scores, summary = score_day(source, storage, registry, state, day, params)
    software = summary["software"]
    assert software["seconds"] > 0 and software["rows_per_second"] > 0 and software["peak_rss_mib"] > 50
    assert software["model_load_seconds"] >= 0
    report = day_report(source, storage, registry, scores, summary, "2026-12-31T00:00:00+00:00", params)
    assert report["health"]["output"]["rows"] == len(scores) == 600
    assert report["health"]["input"]["features"]["amount"]["missing_share"] == 0
    params["scoring"]["health"]["min_rows_per_second"] = 10**9  # no machine scores this fast
    report = day_report(source, storage, registry, scores, summary, "2026-12-31T00:00:00+00:00", params)
    assert [b["figure"] for b in report["breaches"]] == ["rows_per_second"]
    assert report["alert"].startswith(f"fraud-xgb scoring of {day}: 1 figure(s) out of bounds")
    # the alert links the day's report page in the Airflow UI, never its storage URI
    assert report["alert"].endswith(f"report: {layout.day_report_url('fraud-xgb', str(day))}")
