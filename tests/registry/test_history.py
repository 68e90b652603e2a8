"""A model's history page: what `registry.history` reads is what is stored (versions' metrics and
intervals, the champion, scored days, monitor runs and the retrainings they started, estimates, moves);
the page escapes every value and says "no data yet" for what has none; the plugin serves it to a user
only, and the registry page links to it."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from retrainer.core import layout
from retrainer.core.svg import EMPTY, Mark, Series, TimeAxis, time_chart
from retrainer.deployment import actions
from retrainer.registry import history_html
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.history import model_history
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from tests.conftest import PROJECT_DIR
from tests.registry.test_page import as_user, plugin, two_models  # noqa: F401 (fixtures)

MODEL = "fraud-xgb"


@pytest.fixture
def store(tmp_path):
    return open_storage(tmp_path / "storage")


@pytest.fixture
def model_params():
    from retrainer.core.models import load_model

    return load_model(PROJECT_DIR, MODEL)


def _register(registry: Registry, n: int, pr_auc: float, interval=None, trigger=None, reason="") -> int:
    metrics = {"challenger": {"pr_auc": pr_auc}}
    if interval:
        metrics["champion"] = {"version": n - 1, "pr_auc": pr_auc - sum(interval) / 2}
    record, _ = registry.register(
        {"model.ubj": f"model {n} {reason}".encode()},
        {
            "as_of": f"2026-10-{n * 3:02d}T00:00:00+00:00",
            "params": {"evaluate": {"metric": "pr_auc"}},
            "metrics": metrics,
            "non_regression": interval and {"low": interval[0], "high": interval[1], "confidence": 0.95},
            "trigger": trigger or {"kind": "schedule", "asset_events": []},
        },
        f"run-{n}",
        actor="test",
    )
    return record["version"]


def _day_report(day: str, champion_rate: float, psi: dict[str, float], rows: int, seconds: float) -> dict:
    """A scored day's report in the shape `scoring.report.day_report` stores."""
    return {
        "day": day,
        "mode": "canary",
        "rows": rows,
        "champion": 1,
        "challenger": 2,
        "champion_alert_rate": champion_rate,
        "challenger_alert_rate": champion_rate * 1.5,
        "health": {
            "input": {
                "features": {name: {"missing_share": 0.0, "psi": value} for name, value in psi.items()}
            },
            "software": {"seconds": seconds},
        },
        "breaches": [],
    }


def _drift_report(run: str, as_of: str, psi: dict[str, float], confirmed: bool, retrain: bool) -> dict:
    """A monitor run's drift report in the shape `drift.check.drift_check` + the monitor store."""
    return {
        "run": run,
        "as_of": as_of,
        "verdict": "drift confirmed" if confirmed else "no drift",
        "confirmed": confirmed,
        "kinds": ["data"] if confirmed else [],
        "data": {"features": [{"feature": f, "psi": v} for f, v in psi.items()], "thresholds": {"psi": 0.2}},
        "prediction": {"psi": 0.05},
        "performance": {
            "pr_auc": 0.39,
            "pr_auc_interval": [0.33, 0.45],
            "holdout_pr_auc": 0.41,
            "positives": 60,
            "rows": {"matured": 4000},
            "verdict": "no drift",
        },  # fmt: skip
        "trigger": {"retrain": retrain, "suppressed": False},
        "summary": {"run": run},
    }


@pytest.fixture
def stored(store, model_params):
    """Three versions (v3 started by a monitor run's retraining), moves, two scored days, two monitor
    runs and the estimates, stored where the platform stores them."""
    registry = Registry(store, MODEL)
    _register(registry, 1, 0.41)
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    _register(registry, 2, 0.44, (-0.01, 0.05))
    actions.start_canary(registry, 2, "bob", "try v2", model_params)
    actions.ramp(registry, "monitor", "two good days", model_params)
    actions.rollback(registry, "monitor", "automatic rollback: alert rate")
    drift_run = "2026-10-08T000000Z"
    trigger = {
        "kind": "drift",
        "asset_events": [{"asset": "retrainer://drift/x", "extra": {"run": drift_run}}],
    }
    _register(registry, 3, 0.47, (0.002, 0.03), trigger)
    actions.promote(registry, 3, "carol", "blue-green v3")
    reports = {
        "2026-10-06": _day_report("2026-10-06", 0.012, {"amount": 0.03, "region": 0.11}, 600, 1.25),
        "2026-10-07": _day_report("2026-10-07", 0.019, {"amount": 0.31, "region": 0.02}, 650, 1.5),
    }
    for day, report in reports.items():
        store.put_text(layout.scores_file_key(MODEL, day, layout.SCORE_REPORT_FILE), json.dumps(report))
    drifts = {
        "2026-10-07T000000Z": _drift_report("2026-10-07T000000Z", "2026-10-07T00:00:00+00:00",
                                            {"amount": 0.05}, False, False),
        drift_run: _drift_report(drift_run, "2026-10-08T00:00:00+00:00", {"amount": 0.4, "region": 0.3},
                                 True, True),
    }  # fmt: skip
    for run, report in drifts.items():
        store.put_text(layout.monitoring_file_key(MODEL, run), json.dumps(report))
    estimates = {
        "model": MODEL,
        "days": {
            "2026-10-06": {"champion_version": 1, "realised": {"pr_auc": 0.36, "within": {"pr_auc": True}},
                           "estimate": {"pr_auc": {"estimate": 0.4, "low": 0.3, "high": 0.5}}},
            "2026-10-07": {"champion_version": 1, "realised": None,
                           "estimate": {"pr_auc": {"estimate": 0.42, "low": 0.31, "high": 0.52}}},
        },
    }  # fmt: skip
    store.put_text(layout.estimates_key(MODEL), json.dumps(estimates))
    return registry, reports, drifts, estimates


def test_history_reads_versions_champion_days_drift_estimates_and_moves_as_stored(stored):
    registry, reports, drifts, estimates = stored
    history = model_history(registry.storage, MODEL)

    records = {r["version"]: r for r in registry.versions()}
    assert [p["version"] for p in history["versions"]] == sorted(records)
    for point in history["versions"]:
        record = records[point["version"]]
        assert point["value"] == record["metrics"]["challenger"]["pr_auc"]
        assert point["at"] == record["as_of"]
        interval = record.get("non_regression")
        if interval:  # the paired interval of the difference, placed on the champion's figure
            champion = record["metrics"]["champion"]["pr_auc"]
            assert point["low"] == pytest.approx(champion + interval["low"])
            assert point["high"] == pytest.approx(champion + interval["high"])
            assert point["versus"] == record["metrics"]["champion"]["version"]
        else:
            assert point["low"] is None and point["high"] is None
    assert history["champion"] == registry.alias(CHAMPION)["version"]
    assert [p["version"] for p in history["versions"] if p["champion"]] == [history["champion"]]

    assert [d["day"] for d in history["days"]] == sorted(reports)
    for day in history["days"]:
        report = reports[day["day"]]
        psi = {f: e["psi"] for f, e in report["health"]["input"]["features"].items()}
        assert day["worst_feature"] == max(psi, key=psi.get) and day["worst_psi"] == max(psi.values())
        assert day["champion_alert_rate"] == report["champion_alert_rate"]
        assert day["challenger_alert_rate"] == report["challenger_alert_rate"]
        assert (day["rows"], day["seconds"]) == (report["rows"], report["health"]["software"]["seconds"])

    assert [r["run"] for r in history["drift"]] == sorted(drifts)
    for run in history["drift"]:
        stored_run = drifts[run["run"]]
        assert run["confirmed"] == stored_run["confirmed"]
        assert run["max_psi"] == max(f["psi"] for f in stored_run["data"]["features"])
    started = {r["run"]: r["started_version"] for r in history["drift"]}
    v3 = next(r for r in records.values() if r["trigger"]["kind"] == "drift")
    assert started == {"2026-10-07T000000Z": None, v3["trigger"]["asset_events"][0]["extra"]["run"]: 3}
    [week] = history["weeks"]  # both runs fall in one ISO week: its last run's matured performance
    assert week["run"] == max(drifts) and week["pr_auc"] == drifts[max(drifts)]["performance"]["pr_auc"]

    assert [e["day"] for e in history["estimates"]] == sorted(estimates["days"])
    for point in history["estimates"]:
        entry = estimates["days"][point["day"]]
        assert point["estimate"] == entry["estimate"]["pr_auc"]["estimate"]
        assert point["realised"] == (entry["realised"] or {}).get("pr_auc")

    moves = [e for e in registry.audit_log() if e.get("move_id")]
    assert [(m["event"], m["version"], m["at"]) for m in history["moves"]] == [
        (e["event"], e["version"], e["at"]) for e in moves
    ]
    assert {m["event"] for m in history["moves"]} >= {
        "canary_started",
        "canary_ramped",
        "deployment_rolled_back",
    }


def test_the_page_plots_each_part_with_exact_values_and_marks_every_move(stored):
    registry, reports, _, _ = stored
    history = model_history(registry.storage, MODEL)
    page = history_html.render(history)
    assert page.count("<svg") == 8  # versions, alert rates, PSI, rows, seconds, drift, weeks, estimates
    assert EMPTY not in page  # every part has data
    # each move is a mark (a tooltip naming it) on every chart; the table lists it once
    for move in history["moves"]:
        assert page.count(f"{move['at']}: {move['what']} v{move['version']}") == 8
    assert page.count("<tr><td>") >= len(history["moves"]) + len(reports)
    assert "<script" not in page
    for day, report in reports.items():
        assert f"{day}: champion alert rate {report['champion_alert_rate']:.4f}" in page


def test_a_model_with_nothing_stored_says_no_data_yet_for_every_part(store):
    page = history_html.render(model_history(store, MODEL))
    assert page.count(f": {EMPTY}") == 9  # eight charts and the moves
    assert "<svg" not in page


def test_every_stored_text_on_the_page_is_escaped(store, model_params):
    registry = Registry(store, MODEL)
    _register(registry, 1, 0.4)
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    _register(registry, 2, 0.45, (0.0, 0.02))
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    actions.promote(registry, 2, evil, evil)
    report = _day_report("2026-10-06", 0.01, {evil: 0.5}, 10, 1.0)
    store.put_text(layout.scores_file_key(MODEL, "2026-10-06", layout.SCORE_REPORT_FILE), json.dumps(report))
    page = history_html.render(model_history(store, MODEL))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_chart_has_a_title_date_axis_tooltips_and_marks():
    axis = TimeAxis.spanning(["2026-01-01", "2026-03-31"])
    chart = time_chart(
        "alerts <b>", "rate", axis, [Series("s", [("2026-02-01", 0.5, "feb: 0.5 <x>")])],
        [Mark("2026-03-01", "promoted v2 & more")],
    )  # fmt: skip
    assert "<title>alerts &lt;b&gt;</title>" in chart and "<title>feb: 0.5 &lt;x&gt;</title>" in chart
    assert "<title>promoted v2 &amp; more</title>" in chart
    assert re.findall(r">(\d{4}-\d{2}-\d{2})</text>", chart)[:1] == ["2026-01-05"]  # Mondays over 3 months
    assert "date (UTC)" in chart
    empty = time_chart("nothing", "rate", axis, [Series("s", [("2026-02-01", None, "none")])])
    assert EMPTY in empty and "<svg" not in empty


def test_the_history_route_needs_a_login_and_the_registry_page_links_to_it(request, storage):
    app, login = request.getfixturevalue("plugin"), request.getfixturevalue("as_user")
    request.getfixturevalue("two_models")  # the shipped project, no RETRAINER_MODEL
    registry = Registry(storage, MODEL)
    _register(registry, 1, 0.4)
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    client = TestClient(app.app)
    assert client.get(f"/history?model={MODEL}").status_code == 401  # no token, no cookie
    login("viewer", "viewer")
    page = client.get(f"/history?model={MODEL}")
    assert page.status_code == 200 and f"History of {MODEL}" in page.text
    assert page.headers["content-security-policy"] == app.NO_SCRIPT["Content-Security-Policy"]
    assert client.get("/history?model=no-such-model").status_code == 404
    index = client.get("/").text
    assert f'href="history?model={MODEL}"' in index  # relative to the registry page, as its other links


def test_a_stored_report_holding_nan_is_read_and_one_that_is_not_json_is_left_out(store):
    """Python's json writes NaN for a float that is not a number (a day without a challenger figure): the
    day is still plotted; a file that is not JSON at all does not stop the page."""
    report = _day_report("2026-10-06", 0.01, {"amount": 0.1}, 10, 1.0)
    text = json.dumps(report | {"challenger_alert_rate": float("nan")})
    assert "NaN" in text
    store.put_text(layout.scores_file_key(MODEL, "2026-10-06", layout.SCORE_REPORT_FILE), text)
    store.put_text(layout.scores_file_key(MODEL, "2026-10-07", layout.SCORE_REPORT_FILE), "{not json")
    [day] = model_history(store, MODEL)["days"]
    assert day["day"] == "2026-10-06" and day["champion_alert_rate"] == 0.01
    assert "2026-10-06: champion alert rate 0.0100" in history_html.render(model_history(store, MODEL))
