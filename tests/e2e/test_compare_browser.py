"""Two versions side by side in the Airflow UI (issue 22 item 2), against a real `airflow api-server` on
127.0.0.1 (SimpleAuthManager, a viewer) and headless Chromium: no comparison without a login; from the
registry page, the version row's "compare with champion" link opens the comparison, whose figures are the
registry's; an unknown version is a named 404. The screenshot is kept (test-artifacts/compare-page.png).

A minimal two-version registry of its own: v1 the champion, v2 judged against it and put in a canary by a
person's answer (`tests.registered_versions`)."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.servers import viewer_token
from tests.e2e.test_data_docs import distinct_colours
from tests.e2e.test_registry_page_browser import (  # noqa: F401 (api_server: a fixture used by name)
    ARTIFACTS,
    Browser,
    _status,
    api_server,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def registry_with_a_canary(airflow, params):
    """What `api_server` serves (this module's fixture of that name replaces the registry page test's):
    two versions registered as train and evaluate leave them, v2 answered "Canary" by carol."""
    from retrainer.core.settings import Settings
    from retrainer.deployment.approval import CANARY, decide
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage
    from tests.registered_versions import MODEL, model_params, register_version

    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(airflow.var)})
    storage = open_storage(settings.storage_root)
    first = register_version((settings, storage), 1, model_params())
    changed = model_params(train__xgboost__max_depth=7)
    second = register_version((settings, storage), 2, changed, champion=first)
    registry = Registry(storage, MODEL)
    answer = {
        "chosen_options": [CANARY],
        "responded_by_user": {"name": "carol"},
        "responded_at": "2026-11-20T10:00:00+00:00",
        "params_input": {"comment": "slices hold up"},
    }
    decide(registry, {"version": second, "aliases": ["challenger"]}, answer, "required", params)
    return registry


def test_the_comparison_opens_from_the_registry_page_and_shows_the_registry_figures(
    api_server,  # noqa: F811 (the imported fixture, requested by name)
    registry_with_a_canary,
    tmp_path,
):
    base, registry = api_server, registry_with_a_canary
    compare = "/registry/compare?model=fraud-xgb&a=2"
    assert _status(base + compare) == 401  # no token, no cookie
    token = viewer_token(base)
    assert _status(base + "/registry/compare?model=fraud-xgb&a=9", token) == 404

    browser = Browser(tmp_path / "profile")
    try:
        browser.send("Network.setCookie", name="_token", value=token, url=base, httpOnly=True)
        browser.open(f"{base}/registry/", settle=0)
        link = browser.evaluate(
            "[...document.querySelectorAll('a')].filter(a => a.textContent === 'compare with champion')"
            ".map(a => a.href).join(' ')"
        )
        assert link == base + compare, link  # one link: v2's row (v1 is the champion)
        browser.open(link, settle=0)
        text = browser.evaluate("document.body.innerText")
        assert "fraud-xgb: v2 against v1 (champion)" in text
        for version in (1, 2):  # the headline metric of each version, as the registry holds it
            assert f"{registry.get(version)['metrics']['challenger']['pr_auc']:.4f}" in text
        assert "paired bootstrap difference v2 - v1 on v2's holdout" in text
        assert "params.train.xgboost.max_depth" in text and "carol" in text and "canary_started" in text
        assert browser.evaluate("document.scripts.length") == 0
        png = tmp_path / "compare-page.png"
        browser.screenshot(png)
    finally:
        browser.close()
    assert distinct_colours(png.read_bytes()) > 20  # a rendered page, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy2(png, ARTIFACTS / "compare-page.png")
