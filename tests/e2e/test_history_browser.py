"""A model's history page inside the Airflow UI, against a real `airflow api-server` on 127.0.0.1
(SimpleAuthManager with a real viewer) and headless Chromium: a model with five versions and 35 scored
days (`tests.registry.history_fixture`), the page reached from the registry page's link, its charts and
values checked against the registry; then each version side by side with the champion, reached from the
registry page's "compare with champion" links; screenshots kept (test-artifacts/history-*.png)."""

from __future__ import annotations

import base64
import json
import shutil

import pytest

from tests.conftest import PROJECT_DIR
from tests.e2e import servers
from tests.e2e.test_data_docs import distinct_colours
from tests.e2e.test_registry_page_browser import Browser, _status

pytestmark = pytest.mark.e2e
ARTIFACTS = PROJECT_DIR / "test-artifacts"
MODEL = "fraud-xgb"


@pytest.fixture
def history(airflow, params):
    """The stored history of the fraud model in the api-server's storage; returns the registry and facts."""
    from retrainer.core.settings import Settings
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage
    from tests.registry.history_fixture import populate_history

    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(airflow.var)})
    storage, source = open_storage(settings.storage_root), open_storage(settings.source_root)
    facts = populate_history(storage, source, params)
    return Registry(storage, MODEL), facts


@pytest.fixture
def api_server(airflow, history):
    with servers.api_server(airflow) as base:
        yield base


def _full_page(browser: Browser, path) -> None:
    """A screenshot of the whole page, not only the window."""
    size = browser.send("Page.getLayoutMetrics")["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 12000), "scale": 1}
    shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
    path.write_bytes(base64.b64decode(shot["data"]))


def test_the_history_page_and_each_comparison_show_the_registry_s_versions_days_and_moves(
    api_server, history, tmp_path
):
    base, (registry, facts) = api_server, history
    route = f"/registry/history?model={MODEL}"
    assert _status(base + route) == 401  # no token, no cookie
    token = servers.viewer_token(base)
    assert _status(base + route, token) == 200
    assert _status(f"{base}/registry/history?model=no-such-model", token) == 404
    assert len(registry.versions()) >= 5 and len(facts["scored_days"]) >= 30

    browser = Browser(tmp_path / "profile")
    try:
        browser.send("Network.setCookie", name="_token", value=token, url=base, httpOnly=True)
        browser.open(f"{base}/registry/", settle=0)  # the registry page links to the history
        links = browser.evaluate("[...document.querySelectorAll('a.history')].map(a => a.href)")
        assert f"{base}{route}" in links, links  # one per configured model
        link = f"{base}{route}"
        browser.open(link, settle=1)
        captions = browser.evaluate("[...document.querySelectorAll('figcaption')].map(c => c.textContent)")
        charts = browser.evaluate("document.querySelectorAll('figure.chart svg').length")
        empty = browser.evaluate("[...document.querySelectorAll('p.empty')].map(p => p.textContent)")
        tips = browser.evaluate("[...document.querySelectorAll('svg title')].map(t => t.textContent)")
        moves = browser.evaluate("document.querySelectorAll('#moves tr').length - 1")
        legend = browser.evaluate("document.querySelector('.legend').innerText")
        scripts = browser.evaluate("document.scripts.length")
        png = tmp_path / "history-page.png"
        browser.screenshot(png)
        full = tmp_path / "history-page-full.png"
        _full_page(browser, full)
        # the same five versions side by side: each row's "compare with champion" on the registry page
        browser.open(f"{base}/registry/", settle=0)
        compares = browser.evaluate(
            "[...document.querySelectorAll('a')].filter(a => a.textContent === 'compare with champion')"
            f".map(a => a.href).filter(h => h.includes('model={MODEL}&'))"
        )
        compared = {}
        for href in compares:
            browser.open(href, settle=0)
            compared[href] = browser.evaluate("document.body.innerText")
            assert browser.evaluate("document.scripts.length") == 0
        compare_png = tmp_path / "compare-page.png"
        browser.screenshot(compare_png)
    finally:
        browser.close()

    assert charts == len(captions) == 8 and empty == [], (captions, empty)
    assert scripts == 0
    # every version's headline metric as the registry holds it, the champion as its alias names it
    champion = registry.alias("champion")["version"]
    assert f"champion (v{champion})" in legend
    for record in registry.versions():
        value = record["metrics"]["challenger"]["pr_auc"]
        assert any(t.startswith(f"v{record['version']}") and f"PR-AUC {value:.4f}" in t for t in tips), record
    # every scored day is a point of the alert-rate chart, with the rate its report stores
    for day in facts["scored_days"]:
        stored = json.loads(registry.storage.get_text(f"scores/{MODEL}/date={day}/report.json"))
        assert f"{day}: champion alert rate {stored['champion_alert_rate']:.4f}" in tips, day
    # every deployment move of the audit log is in the table and marked on each chart
    audited = [e for e in registry.audit_log() if e.get("move_id")]
    assert moves == len(audited) == len(facts["moves"])
    for event in audited:
        assert sum(t.startswith(f"{event['at']}: ") for t in tips) == charts, event
    # the retraining the confirmed drift started is on the drift chart
    assert any("retraining registered v3" in t for t in tips if t.startswith(facts["drift_version"]))

    # each version but the champion side by side with it, both figures as the registry holds them
    others = [r["version"] for r in registry.versions() if r["version"] != champion]
    assert sorted(int(h.split("&a=")[1].split("&")[0]) for h in compared) == sorted(others), list(compared)
    champion_pr_auc = registry.get(champion)["metrics"]["challenger"]["pr_auc"]
    for href, text in compared.items():
        version = int(href.split("&a=")[1].split("&")[0])
        assert f"{MODEL}: v{version} against v{champion} (champion)" in text, text[:300]
        assert f"{registry.get(version)['metrics']['challenger']['pr_auc']:.4f}" in text
        assert f"{champion_pr_auc:.4f}" in text

    assert distinct_colours(png.read_bytes()) > 20 and distinct_colours(full.read_bytes()) > 20
    assert distinct_colours(compare_png.read_bytes()) > 20
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy2(png, ARTIFACTS / "history-page.png")
    shutil.copy2(full, ARTIFACTS / "history-page-full.png")
    shutil.copy2(compare_png, ARTIFACTS / "history-compare-page.png")
