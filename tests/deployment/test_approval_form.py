"""The approval form a person answers: what is deployed now, what each answer replaces, why the run
happened, the alert-rate change, who may answer, and the comment kept with the answer (issue 27)."""

import copy
import json
import re
from datetime import UTC, datetime

import pytest

from retrainer.deployment import actions
from retrainer.deployment.approval import APPROVE, CANARY, REJECT, SHADOW_FIRST, decide
from retrainer.deployment.approval_form import alert_rate_line, form_body, who_may_answer, why_line
from retrainer.deployment.state import read
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry
from tests.deploy_helpers import register

DRIFT = {
    "kind": "drift",
    "asset_events": [
        {
            "asset": "retrainer://drift/fraud-xgb",
            "extra": {
                "run": "2026-11-20T060000Z",
                "verdict": "drift",
                "features": [
                    {"feature": "hour_of_day", "psi": 1.238},
                    {"feature": "amount", "psi": 0.41},
                    {"feature": "<img src=x onerror=alert(1)>", "psi": 0.3},
                ],
                "thresholds": {"psi_threshold": 0.2},
                "prediction": {"verdict": "ok", "psi": 0.01},
                "performance": {"verdict": None},
            },
        }
    ],
}


@pytest.fixture
def registry(storage, params):
    """v1 the champion, v2 running as a canary at the first step, v3 the new challenger waiting."""
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"v1", alias=CHAMPION)
    register(registry, params, b"v2")
    actions.start_canary(registry, 2, "bob", "canary of v2", params)
    register(registry, params, b"v3", alias=CHALLENGER)
    return registry


def _body(registry, params, version=3, now=None):
    return form_body(registry, version, params, now or datetime.now(UTC))


def test_the_form_says_what_runs_now_and_what_each_answer_ends(registry, params):
    state = read(registry)[0]
    share = params["deployment"]["canary"]["steps"][0]
    canary = f"v2's {share} % canary"
    body = _body(registry, params)
    print(body)
    deployed = body.split("#### Deployed now")[1].split("####")[0]
    assert "champion **v1**" in deployed and canary in deployed and "(day 1)" in deployed
    assert f"revision {state['revision']}" in body
    answers = dict(
        line[4:].split("**: ", 1) for line in body.splitlines() if line.startswith("- **") and "**: " in line
    )
    # every answer that starts something else says it ends the running canary; Reject says it goes on
    for option in (APPROVE, SHADOW_FIRST, CANARY):
        assert f"ends {canary}" in answers[option], option
    assert f"{canary} goes on" in answers[REJECT] and "ends" not in answers[REJECT]
    assert "replacing v1" in answers[APPROVE]


def test_the_canary_day_counts_from_its_start(registry, params):
    since = datetime.fromisoformat(read(registry)[0]["since"])
    later = since.replace(tzinfo=since.tzinfo or UTC) + (datetime(2026, 1, 3) - datetime(2026, 1, 1))
    assert "(day 3)" in _body(registry, params, now=later)


def test_with_only_a_champion_no_answer_claims_to_end_anything(storage, params):
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"v1", alias=CHAMPION)
    register(registry, params, b"v2", alias=CHALLENGER)
    body = form_body(registry, 2, params)
    assert "champion **v1**" in body and "ends " not in body and "goes on" not in body


def test_the_form_says_why_the_run_happened_in_one_line():
    drift = why_line(DRIFT, "2026-11-20T06:00:00+00:00")
    print(drift)
    assert "**drift**" in drift and "hour_of_day PSI 1.238" in drift
    assert "threshold 0.2" in drift and "\n" not in drift
    assert re.search(r"(?<!\\)<", drift) is None and "\\<img" in drift  # a name from data stays text
    assert why_line({"kind": "schedule"}).startswith("**schedule**")
    assert why_line({"kind": "manual"}).startswith("**manual**")
    follow = why_line({"kind": "follow-up", "reason": "follow-up of v3"})
    assert "follow-up of v3" in follow


def test_the_form_carries_the_drift_evidence_of_the_version(storage, params):
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"v1", alias=CHAMPION)
    gates = {
        "headline_metric": "pr_auc",
        "metrics": {"challenger": {"pr_auc": 0.6}, "champion": {"pr_auc": 0.58}},
        "champion_version": 1,
        "costs": {},
        "slices": {"rows": []},
        "alert_rates": {
            "rows": 20000,
            "rates": {"challenger": 0.012, "champion": 0.010},
            "bounds": [0.5, 2.0],
        },
    }
    record, _ = registry.register(
        {"model.ubj": b"v2", "gates.json": json.dumps(gates).encode()},
        {
            "params": params,
            "metrics": gates["metrics"],
            "data_hash": "h",
            "trigger": DRIFT,
            "as_of": "2026-11-20",
        },
        "drift-run",
        actor="test",
    )
    body = form_body(registry, record["version"], params)
    print(body)
    assert "1.238" in body.split("#### Why this run")[1]
    assert "1.20% of the 20,000 holdout rows vs champion v1's 1.00% (1.20x" in body
    assert "0.5x-2x" in body  # the bounds that would roll a canary back
    # beside the other figures, above the full report's link and the sections that follow
    assert body.index("**alert rate**") < body.index("full report") < body.index("#### Why this run")


def test_the_alert_rate_line_needs_a_champion_to_compare_with():
    assert alert_rate_line({"alert_rates": {"rates": {"challenger": 0.01}}}) is None
    assert alert_rate_line({}) is None


def test_the_form_names_who_may_answer(registry, params):
    assert "any user allowed" in _body(registry, params)
    named = copy.deepcopy(params)
    named["deployment"]["approvers"] = ["alice", "carol"]
    body = _body(registry, named)
    assert "only `alice`, `carol`" in body and "403" in body
    assert who_may_answer(["alice"]) != who_may_answer([])


def test_the_comment_goes_with_the_answer_to_the_audit_log_and_the_move(storage, params):
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"v1", alias=CHAMPION)
    register(registry, params, b"v2", alias=CHALLENGER)
    answer = {
        "chosen_options": [SHADOW_FIRST],
        "params_input": {"comment": "watch latam for a week first"},
        "responded_by_user": {"id": "alice", "name": "alice"},
        "responded_at": "2026-11-23T10:00:00+00:00",
    }
    registered = {"version": 2, "aliases": [CHALLENGER], "created": True}
    decide(registry, registered, answer, "required", params)
    log = registry.audit_log()
    answered = [e for e in log if e["event"] == "approval_answered"]
    assert [e["comment"] for e in answered] == ["watch latam for a week first"]
    started = [e for e in log if e["event"] == "shadow_started"]
    assert "watch latam for a week first" in started[0]["reason"]
    assert "watch latam for a week first" in read(registry)[0]["reason"]  # the registry page shows it


def test_an_answer_given_after_the_deployment_moved_says_so(storage, params):
    """The form showed champion v1 alone; a canary of v2 started while it waited: the answer's reason in
    the audit log names both revisions."""
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"v1", alias=CHAMPION)
    register(registry, params, b"v2")
    register(registry, params, b"v3", alias=CHALLENGER)
    shown = read(registry)[0]["revision"]
    actions.start_canary(registry, 2, "bob", "canary of v2", params)
    registered = {"version": 3, "aliases": [CHALLENGER], "created": True, "form_revision": shown}
    answer = {
        "chosen_options": [SHADOW_FIRST],
        "responded_by_user": {"id": "alice", "name": "alice"},
        "responded_at": "2026-11-23T10:00:00+00:00",
    }
    decide(registry, registered, answer, "required", params)
    answered = [e for e in registry.audit_log() if e["event"] == "approval_answered"][-1]
    print(answered["reason"])
    assert f"showed deployment revision {shown}" in answered["reason"]
    assert f"at revision {shown + 1} when answered" in answered["reason"]


def test_values_from_data_and_config_show_as_text_in_the_whole_form(storage, params):
    """Drift evidence (feature names, the monitor run, the report's address), the actor of the running
    canary and the approvers reach the form's Markdown as text: no tag, image or link of theirs renders."""
    from tests.test_html_escaping import IMAGE, IMG, JS_LINK, SCRIPT, _markdown_to_html, assert_inert

    hostile = copy.deepcopy(DRIFT)
    extra = hostile["asset_events"][0]["extra"]
    extra["run"], extra["page_url"] = f"run {SCRIPT}", f"javascript:alert(1) {IMAGE}"
    extra["features"][0]["feature"] = JS_LINK
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"v1", alias=CHAMPION)
    register(registry, params, b"v2")
    actions.start_canary(registry, 2, IMG, "canary", params)  # who started it: shown as "set by"
    gates = json.loads(registry.read_file(1, "gates.json"))
    record, _ = registry.register(
        {"model.ubj": b"v3", "gates.json": json.dumps(gates).encode()},
        {"params": params, "metrics": gates["metrics"], "data_hash": "h", "trigger": hostile},
        "hostile-drift",
        actor="test",
    )
    named = copy.deepcopy(params)
    named["deployment"]["approvers"] = [SCRIPT.replace(" ", "")]
    body = form_body(registry, record["version"], named)
    ours = ("/registry/versions/", "/registry/compare?")  # the gate report and the comparison
    parsed = assert_inert(_markdown_to_html(body), lambda href: href.startswith(ours))
    for value in (JS_LINK, f"run {SCRIPT}", IMG, SCRIPT.replace(" ", "")):
        assert value in parsed.text, value


def test_the_form_links_the_comparison_with_the_champion(registry, params, monkeypatch):
    """A person approving v3 opens it side by side with the champion (v1) in one click, through the
    registry plugin under the UI's address."""
    from retrainer.core import layout

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    body = _body(registry, params)
    link = "https://airflow.example.com/registry/compare?model=fraud-xgb&a=3&b=1"  # the champion shown
    assert link == layout.compare_url("fraud-xgb", 3, 1)
    assert f"[compare with the champion v1]({link})" in body
    # the champion's own form (none is shown, but the body is built the same way) links no comparison
    assert "compare with the champion" not in _body(registry, params, version=1)
