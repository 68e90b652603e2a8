"""Every report is one click from the run that made it: the validate task's Data Docs, the run's gate report
(evaluate, passed or rejected), a version's gate report (register), the drift report (monitor) and the scored
day's report (score) open through the authenticated registry plugin, under Airflow's `[api] base_url`, on
local storage and on S3; tasks log the address and return it as `report_url` (the UI's "Report" button);
nothing a person reads carries a `file://` or `s3://` link to a report."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from retrainer.core import layout
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.store import Registry
from tests.registry import test_page
from tests.registry.test_page import _version

# The registry plugin's app, a logged-in user and the shipped two-model project, as the page's tests use them.
plugin, as_user, two_models = test_page.plugin, test_page.as_user, test_page.two_models

MODEL = "fraud-xgb"
RUN = "2026-11-16T000000Z"
DAY = "2026-11-15"


def _no_storage_links(text: str) -> None:
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert not [h for h in hrefs if h.startswith(("file:", "s3:"))], hrefs


# --- addresses -----------------------------------------------------------------------------------------


def test_report_addresses_are_under_the_ui_base_url_from_the_environment_or_airflow_cfg(tmp_path):
    env = {"AIRFLOW__API__BASE_URL": "https://airflow.example.com/ops/"}
    assert layout.run_report_url(MODEL, RUN, env) == (
        f"https://airflow.example.com/ops/registry/runs/{MODEL}/{RUN}/report.html"
    )
    assert layout.day_report_url(MODEL, DAY, env) == (
        f"https://airflow.example.com/ops/registry/scores/{MODEL}/{DAY}/report.html"
    )
    # a user who configured Airflow in airflow.cfg ([api] base_url) gets the same absolute links
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text("[core]\nexecutor = LocalExecutor\n\n[api]\nbase_url = http://airflow.internal:8080/\n")
    for from_cfg in ({"AIRFLOW_CONFIG": str(cfg)}, {"AIRFLOW_HOME": str(tmp_path)}):
        assert layout.ui_base_url(from_cfg) == "http://airflow.internal:8080"
        assert layout.gate_report_url(MODEL, 3, from_cfg) == (
            f"http://airflow.internal:8080/registry/versions/3/report.html?model={MODEL}"
        )
    # the environment wins over the file, as in Airflow; neither: relative to the UI's host
    assert layout.ui_base_url({**env, "AIRFLOW_CONFIG": str(cfg)}) == "https://airflow.example.com/ops"
    assert layout.day_report_url(MODEL, DAY, {"AIRFLOW_HOME": str(tmp_path / "none")}) == (
        f"/registry/scores/{MODEL}/{DAY}/report.html"
    )
    # a name stays one path segment: it never reaches another route
    assert layout.run_report_url("a/../b", "x?y", {}) == "/registry/runs/a%2F..%2Fb/x%3Fy/report.html"


# --- routes ----------------------------------------------------------------------------------------------


def _scored_day(storage, day: str = DAY, **extra) -> dict:
    report = {
        "day": day,
        "mode": "shadow",
        "rows": 2400,
        "champion": 1,
        "challenger": 2,
        "champion_alert_rate": 0.0123,
        "challenger_alert_rate": 0.0456,
        "alert_rate_ratio": 3.7073,
        "report_uri": f"file:///var/storage/scores/{MODEL}/date={day}/report.json",
        "health": {"output": {"rows": 2400, "alert_rate": 0.0123}},
        "breaches": [{"figure": "alert_rate", "value": 0.0456, "max": 0.03}],
        "alert": "fraud-xgb scoring: 1 figure(s) out of bounds",
        **extra,
    }
    storage.put_text(layout.scores_file_key(MODEL, day, layout.SCORE_REPORT_FILE), json.dumps(report))
    return report


def test_each_report_route_serves_its_page_checks_its_sha256_and_names_what_is_missing(
    storage, plugin, two_models, as_user
):
    write_sealed(storage, MODEL, RUN, {"gates": []}, {layout.REPORT_HTML: "<h1>gates of the run</h1>"})
    _scored_day(storage, feature_note="<script>alert(1)</script>")
    client = TestClient(plugin.app)
    run_route = f"/runs/{MODEL}/{RUN}/report.html"
    day_route = f"/scores/{MODEL}/{DAY}/report.html"
    assert client.get(run_route).status_code == 401 and client.get(day_route).status_code == 401

    as_user("ada", "viewer")
    run_page = client.get(run_route)
    assert (run_page.status_code, run_page.text) == (200, "<h1>gates of the run</h1>")
    day_page = client.get(day_route)
    assert day_page.status_code == 200
    assert "alert_rate 0.0456 &gt; max 0.03" in day_page.text  # the breach, as a person reads it
    assert "3.707" in day_page.text and "2400" in day_page.text
    assert "<script>" not in day_page.text and "&lt;script&gt;" in day_page.text  # stored data, escaped
    assert "file://" not in day_page.text  # the storage address is no link a person opens
    for page in (run_page, day_page):
        assert "script-src 'none'" in page.headers["content-security-policy"]

    # missing: 404 naming what is missing and why
    missing = client.get(f"/runs/{MODEL}/2026-11-09T000000Z/report.html")
    assert missing.status_code == 404 and "no gate report of run '2026-11-09T000000Z'" in missing.text
    missing = client.get(f"/scores/{MODEL}/2026-11-14/report.html")
    assert missing.status_code == 404 and "no scoring report of 'fraud-xgb' for 2026-11-14" in missing.text
    assert client.get(f"/scores/{MODEL}/yesterday/report.html").status_code == 404
    assert client.get(f"/runs/nope/{RUN}/report.html").status_code == 404
    assert client.get(f"/runs/{MODEL}/..%2F..%2Fregistry/report.html").status_code == 404

    # changed after evaluate sealed it: refused (409), never shown
    storage.put_text(layout.run_file_key(MODEL, RUN, layout.REPORT_HTML), "<h1>all gates passed</h1>")
    changed = client.get(run_route)
    assert changed.status_code == 409 and "changed after evaluate wrote it" in changed.text
    assert "all gates passed" not in changed.text

    # a version's gate report too: its bytes against the registry's record
    registry = Registry(storage, MODEL)
    version = _version(registry, 1)
    key = storage.key_of(registry.get(version)["files"][layout.REPORT_HTML]["key"])
    storage.put_text(key, "<h1>edited</h1>")
    edited = client.get(f"/versions/{version}/report.html?model={MODEL}")
    assert edited.status_code == 409 and "checksum mismatch" in edited.text


def test_the_registry_page_links_the_last_runs_reports_through_the_plugin(
    storage, plugin, two_models, as_user
):
    runs = [f"2026-11-{d:02d}T000000Z" for d in (2, 9, 16)]
    for run in runs:
        storage.put_text(f"{layout.data_docs_prefix(MODEL, run)}/index.html", "<h1>docs</h1>")
        write_sealed(storage, MODEL, run, {"gates": []}, {layout.REPORT_HTML: "<h1>gates</h1>"})
        storage.put_text(layout.monitoring_file_key(MODEL, run, layout.DRIFT_PAGE), "<h1>drift</h1>")
    days = [f"2026-11-{d:02d}" for d in range(8, 16)]
    for day in days:
        _scored_day(storage, day)
    _version(Registry(storage, MODEL), 1)
    client = TestClient(plugin.app)
    as_user("ada", "viewer")

    page = client.get("/").text
    section = page.split(f"<h2>{MODEL}</h2>", 1)[1].split("<section>", 1)[0]
    for run in runs:
        assert f'href="{layout.ui_url(f"{layout.data_docs_prefix(MODEL, run)}/index.html")}"' in section
        assert f'href="{layout.run_report_url(MODEL, run)}"' in section
        assert f'href="{layout.ui_url(layout.monitoring_file_key(MODEL, run, layout.DRIFT_PAGE))}"' in section
    linked = [day for day in days if f'href="{layout.day_report_url(MODEL, day)}"' in section]
    assert linked == days[-5:]  # the last runs, not every day ever scored
    assert 'href="versions/1/report.html?model=fraud-xgb"' in section  # every version's gate report
    # the shadow/canary section's report is the day's page, not its storage URI
    shadow = section.split("<h3>Shadow / canary monitoring</h3>", 1)[1]
    assert f'href="{layout.day_report_url(MODEL, days[-1])}"' in shadow and "report.json" not in shadow
    _no_storage_links(page)
    # every link opens
    for href in re.findall(r'href="(/registry/[^"]*)"', section):
        assert client.get(href.removeprefix("/registry").replace("&amp;", "&")).status_code == 200, href


def test_reports_open_through_the_plugin_on_s3_storage(
    s3_env, var_dir, plugin, two_models, as_user, monkeypatch
):
    from retrainer.storage import open_storage

    monkeypatch.setenv("RETRAINER_STORAGE_ROOT", f"s3://{s3_env}/root")
    storage = open_storage(f"s3://{s3_env}/root")
    write_sealed(storage, MODEL, RUN, {"gates": []}, {layout.REPORT_HTML: "<h1>gates on s3</h1>"})
    _scored_day(storage)
    storage.put_text(f"{layout.data_docs_prefix(MODEL, RUN)}/index.html", "<h1>docs on s3</h1>")
    storage.put_text(layout.monitoring_file_key(MODEL, RUN, layout.DRIFT_PAGE), "<h1>drift on s3</h1>")
    client = TestClient(plugin.app)
    as_user("ada", "viewer")

    page = client.get("/")
    assert page.status_code == 200 and "Last runs' reports" in page.text
    _no_storage_links(page.text)
    expected = {
        layout.run_report_url(MODEL, RUN): "gates on s3",
        layout.day_report_url(MODEL, DAY): "alert_rate 0.0456",
        layout.ui_url(f"{layout.data_docs_prefix(MODEL, RUN)}/index.html"): "docs on s3",
        layout.ui_url(layout.monitoring_file_key(MODEL, RUN, layout.DRIFT_PAGE)): "drift on s3",
    }
    for url, text in expected.items():
        assert f'href="{url}"' in page.text
        response = client.get(url.removeprefix("/registry"))
        assert response.status_code == 200 and text in response.text, url
    storage.put_text(layout.run_file_key(MODEL, RUN, layout.REPORT_HTML), "<h1>edited</h1>")
    assert client.get(layout.run_report_url(MODEL, RUN).removeprefix("/registry")).status_code == 409


# --- from the run: logs, XCom, the UI's Report button ------------------------------------------------------


@pytest.fixture
def task_env(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    for name in ("RETRAINER_MODEL", "RETRAINER_STORAGE_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example.com:8080")
    caplog.set_level(logging.INFO, logger="retrainer")
    return caplog


def test_each_reporting_task_logs_and_returns_its_reports_absolute_ui_address(task_env, monkeypatch):
    from retrainer.tasks import monitor as monitor_tasks
    from retrainer.tasks import retrain as retrain_tasks
    from retrainer.tasks import score as score_tasks

    base = "http://airflow.example.com:8080/registry"
    docs_url = f"{base}/data-docs/{MODEL}/{RUN}/index.html"
    validated = {
        "run_key": RUN,
        "validation_uri": "file:///v.json",
        "data_docs_uri": f"file:///var/storage/data-docs/{MODEL}/{RUN}/index.html",
        "data_docs_url": docs_url,
        "batch_uri": "file:///b.parquet",
        "rows": 10,
        "success": True,
        "warnings": [],
    }
    monkeypatch.setattr(retrain_tasks, "validate_batch", lambda *args: validated)
    returned = retrain_tasks.validate("file:///m.json", model=MODEL)
    assert returned["report_url"] == docs_url and "data_docs_uri" not in returned

    registered = {"model": MODEL, "version": 3, "created": True, "aliases": ["challenger"], "pr_auc": 0.6}
    registered["record_uri"] = f"file:///var/storage/registry/{MODEL}/versions/000003.json"
    monkeypatch.setattr(retrain_tasks, "register_run", lambda *args: registered)
    monkeypatch.setattr(retrain_tasks, "form_body", lambda *args: "body")
    monkeypatch.setattr(retrain_tasks, "read_or_none", lambda *args: None)
    returned = retrain_tasks.register("file:///run.json", "file:///gates.json", model=MODEL)
    assert returned["report_url"] == f"{base}/versions/3/report.html?model={MODEL}"

    checked = {
        "run": RUN,
        "verdict": "drift",
        "confirmed": True,
        "trigger": False,
        "report_uri": "file:///var/storage/monitoring/x/drift.json",
        "page_uri": "file:///var/storage/monitoring/x/drift.html",
        "page_url": f"{base}/monitoring/{MODEL}/{RUN}/drift.html",
        "evidence": {},
    }
    monkeypatch.setattr(monitor_tasks, "check", lambda *args: checked)
    returned = monitor_tasks.check_drift("2026-11-16T06:00:00+00:00", model=MODEL)
    assert returned["report_url"] == checked["page_url"]
    assert not [k for k, v in returned.items() if isinstance(v, str) and v.startswith("file:")]

    report = {"day": DAY, "mode": "shadow", "breaches": [], "report_uri": "file:///r.json"}
    monkeypatch.setattr(score_tasks, "read_scores", lambda *args: None)
    monkeypatch.setattr(score_tasks, "day_report", lambda *args: report)
    returned = score_tasks.report_day({"day": DAY}, "2026-11-16T04:00:00+00:00", model=MODEL)
    assert returned["report_url"] == f"{base}/scores/{MODEL}/{DAY}/report.html"
    assert "report_uri" not in returned

    logged = task_env.text
    # (validate's own stage logs its Data Docs address: tests/data/test_validate.py)
    for url in (f"{base}/versions/3/report.html?model={MODEL}", checked["page_url"]):
        assert url in logged, url
    assert f"day report: {base}/scores/{MODEL}/{DAY}/report.html" in logged
    assert "file:///var/storage" not in logged and "file:///r.json" not in logged


def test_evaluate_seals_its_gate_page_and_names_it_in_the_ui_passed_or_rejected(storage, monkeypatch):
    """The run's gate report page is sealed beside gates.json: the route checks it; a rejection's message
    (the task log and the failure alert) names the page in the UI, not its storage URI."""
    from retrainer.evaluation.gates import FAILED, Gate, GateFailed
    from retrainer.registry.gate_report import sealed_page_sha256
    from retrainer.storage.base import sha256_bytes

    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    write_sealed(storage, MODEL, RUN, {"gates": []}, {layout.REPORT_HTML: "<p>page</p>"})
    assert sealed_page_sha256(storage, MODEL, RUN, layout.REPORT_HTML) == sha256_bytes(b"<p>page</p>")
    assert sealed_page_sha256(storage, MODEL, "2026-01-05T000000Z", layout.REPORT_HTML) is None

    failed = GateFailed(
        [Gate("min_pr_auc", 0.1, 0.3, FAILED, "0.1 < 0.3")], layout.run_report_url(MODEL, RUN)
    )
    assert f"(report: /registry/runs/{MODEL}/{RUN}/report.html)" in str(failed)


def test_the_report_button_opens_what_the_task_returned_and_nothing_else(plugin):
    from airflow.sdk import BaseOperatorLink

    [link] = plugin.RegistryPlugin.global_operator_extra_links
    assert isinstance(link, BaseOperatorLink) and link.name == "Report"
    url = f"/registry/runs/{MODEL}/{RUN}/report.html"
    assert plugin.report_link({"report_url": url, "passed": True}) == url
    assert plugin.report_link(json.dumps({"report_url": "https://ui/x"})) == "https://ui/x"
    # a task that made no report, or a value that is no address of ours: no button
    for value in (None, "text", {"rows": 3}, {"report_url": "javascript:alert(1)"},
                  {"report_url": "file:///var/x.html"}, {"report_url": "//evil.example/x"}, [1]):  # fmt: skip
        assert plugin.report_link(value) is None, value
