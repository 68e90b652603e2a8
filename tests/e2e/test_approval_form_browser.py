"""The approval form in Airflow's UI, in headless Chromium, against `airflow standalone` (issue 27): with v2
running as a 5 % canary, the form of the new challenger says what is deployed now and that each answer but
Reject ends that canary, names who may answer, and the comment typed with the answer reaches the audit log.
A screenshot is kept (test-artifacts/approval-form.png)."""

from __future__ import annotations

import shutil
import urllib.parse

import pytest

from tests.conftest import PROJECT_DIR
from tests.e2e.test_deployment_e2e import (  # noqa: F401  (fixtures, used by name)
    LATER_RUN,
    _registry,
    airflow_server,
    alert_receiver,
)
from tests.e2e.test_registry_page_browser import Browser

pytestmark = pytest.mark.e2e
ARTIFACTS = PROJECT_DIR / "test-artifacts"


def test_the_approval_form_shows_what_runs_and_what_the_answer_ends(airflow_server, params, tmp_path):  # noqa: F811
    from retrainer.deployment import actions
    from retrainer.deployment.state import read
    from tests.deploy_helpers import register

    airflow, api, log = airflow_server
    storage, registry = _registry(airflow)
    champion = registry.alias("champion")["version"]
    canary = register(registry, params, b"a canary's model")  # its bytes are never scored here
    actions.start_canary(registry, canary, "bob", "try it on a few customers", params)
    share = params["deployment"]["canary"]["steps"][0]
    running = f"v{canary}'s {share} % canary"

    run = api.trigger("retrain_fraud-xgb", "2026-09-21T00:00:00Z", LATER_RUN)
    details = api.wait_for_approval(run)
    print(details["body"])
    assert f"ends {running}" in details["body"]
    quoted = urllib.parse.quote(run, safe="")
    page = f"{api.base}/dags/retrain_fraud-xgb/runs/{quoted}/tasks/approve/required_actions"
    browser = Browser(tmp_path / "profile")
    try:
        browser.send("Network.setCookie", name="_token", value=api.token, url=api.base, httpOnly=True)
        browser.open(page, settle=15)
        shown = browser.evaluate("document.body.innerText")
        png = tmp_path / "approval-form.png"
        browser.screenshot(png)
    finally:
        browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy2(png, ARTIFACTS / "approval-form.png")
    print(shown)
    # what a person reads before answering, rendered by the UI (not the raw Markdown)
    assert "Deployed now" in shown and f"champion v{champion}" in shown and running in shown
    assert f"ends {running}" in shown and f"{running} goes on" in shown
    assert "Why this run" in shown and "manual" in shown
    assert "Who may answer" in shown and "comment" in shown.lower()

    path = f"{api.run_path('retrain_fraud-xgb', run)}/taskInstances/approve/-1/hitlDetails"
    api("PATCH", path, {"chosen_options": ["Reject"], "params_input": {"comment": "the canary first"}})
    api.wait_run("retrain_fraud-xgb", run, log)
    answered = [e for e in registry.audit_log() if e["event"] == "approval_answered"][-1]
    assert answered["option"] == "Reject" and answered["comment"] == "the canary first"
    state = read(registry)[0]
    assert (state["mode"], state["challenger"]) == ("canary", canary)  # Reject: the canary goes on
