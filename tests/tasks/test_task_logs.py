"""Each task's log says, in a few human lines, what it did and where its report is: the train task the
window, rows and trees kept; evaluate the whole gate table (passing or not); register the version's gate
report in the registry page; score, report_day, act, deploy and the drift check theirs. The stage
functions are replaced by stand-ins returning what they return, so only what the task logs is judged."""

from __future__ import annotations

import json
import logging

import pytest

from retrainer.deployment.verdicts import Verdict
from retrainer.evaluation.gates import FAILED, INSUFFICIENT, PASSED, Gate, GateFailed
from retrainer.tasks import deploy as deploy_tasks
from retrainer.tasks import monitor as monitor_tasks
from retrainer.tasks import retrain as tasks
from retrainer.tasks import score as score_tasks
from retrainer.tasks.context import Context
from tests.conftest import AS_OF, week

MODEL = "fraud-xgb"


@pytest.fixture
def logged(tmp_path, monkeypatch, caplog):
    """The lines the tasks log at INFO, with every setting under a fresh directory."""
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("RETRAINER_MODEL", raising=False)
    monkeypatch.delenv("RETRAINER_STORAGE_ROOT", raising=False)
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    caplog.set_level(logging.INFO, logger="retrainer")

    def lines() -> list[str]:
        found = [r.getMessage() for r in caplog.records if r.name.startswith("retrainer.tasks")]
        print("\n".join(found))
        return found

    return lines


def test_train_logs_the_window_the_trees_kept_and_why_and_the_manifest(logged, monkeypatch):
    why = "kept 18 of 100 trees: the best valid aucpr was at round 18; training stopped at round 58"
    manifest = {
        "model": MODEL,
        "manifest_uri": "file:///var/runs/fraud-xgb/2026-11-16T000000Z/run.json",
        "data_hash": "abc",
        "batches": [{"uri": "a"}, {"uri": "b"}],
        "window": {"start": "2026-09-21T00:00:00+00:00", "end": "2026-11-16T00:00:00+00:00", "rows": 81234},
        "metrics": {"challenger": {"pr_auc": 0.6123}, "baseline": {"pr_auc": 0.4}},
        "adaptation": {"weighted": False},
        "fit": {"weighted": False, "kept": "unweighted", "challenger_trees": {"trees": 18, "why": why}},
    }
    monkeypatch.setattr(tasks, "train_run", lambda *args: manifest)
    tasks.train(tasks.Run(*week(AS_OF)), model=MODEL)
    said = logged()
    assert said[0] == (
        "trained fraud-xgb on 2026-09-21T00:00:00+00:00 .. 2026-11-16T00:00:00+00:00: 81,234 rows from 2 "
        "validated batch(es)"
    )
    assert "holdout PR-AUC: challenger 0.612, baseline 0.400" in said
    assert f"challenger trees: {why}" in said
    assert said[-1] == f"run manifest: {manifest['manifest_uri']}"


GATES = [
    Gate("min_pr_auc", 0.61, 0.2, PASSED, "0.6100 (threshold >= 0.2000)"),
    Gate("non_regression", 0.01, -0.1, PASSED, "+0.0100, 95% interval [-0.02, +0.04]"),
    Gate("min_slice_roc_auc", None, 0.85, INSUFFICIENT, "4 positives (< 10)", slice="night"),
]


def test_a_passing_evaluate_logs_the_gate_table_and_the_report(logged, monkeypatch):
    storage = Context.load(model=MODEL).storage
    gates_uri = storage.put_text("runs/x/gates.json", json.dumps({"gates": [g.to_dict() for g in GATES]}))
    result = {
        "gates_uri": gates_uri,
        "report_url": "/registry/runs/fraud-xgb/2026-11-16T000000Z/report.html",
        "passed": True,
        "champion_version": 2,
    }
    monkeypatch.setattr(tasks, "evaluate_run", lambda *args: result)
    assert tasks.evaluate("file:///run.json", model=MODEL) == result
    said = logged()
    assert said[0].startswith("challenger passed the gates (2 passed, 1 without enough data to judge)")
    assert "compared with champion v2" in said[0]
    table = said[1:4]
    assert [row.split()[0] for row in table] == ["PASSED", "PASSED", "INSUFFICIENT"]
    assert "min_pr_auc" in table[0] and "0.6100 (threshold >= 0.2000)" in table[0]
    assert "min_slice_roc_auc [slice night]" in table[2]
    assert said[-1] == "gate report: /registry/runs/fraud-xgb/2026-11-16T000000Z/report.html"


def test_a_rejected_challenger_logs_the_whole_table_then_fails(logged, monkeypatch):
    gates = [*GATES, Gate("min_recall_at_fpr", 0.1, 0.3, FAILED, "0.1000 (threshold >= 0.3000)")]

    def rejected(*args):
        raise GateFailed(gates, "/registry/runs/fraud-xgb/2026-11-16T000000Z/report.html")

    monkeypatch.setattr(tasks, "evaluate_run", rejected)
    with pytest.raises(GateFailed):
        tasks.evaluate("file:///run.json", model=MODEL)
    said = logged()
    assert said[0].startswith("challenger REJECTED by 1 of 4 gates")
    assert [row.split()[0] for row in said[1:5]] == ["PASSED", "PASSED", "INSUFFICIENT", "FAILED"]
    assert said[-1] == "gate report: /registry/runs/fraud-xgb/2026-11-16T000000Z/report.html"


def test_register_logs_the_version_and_links_its_gate_report_in_the_registry_page(logged, monkeypatch):
    registered = {
        "model": MODEL,
        "version": 3,
        "record_uri": "file:///reg/3.json",
        "created": True,
        "aliases": ["challenger"],
        "pr_auc": 0.61,
    }
    monkeypatch.setattr(tasks, "register_run", lambda *args: registered)
    monkeypatch.setattr(tasks, "form_body", lambda *args: "body")
    monkeypatch.setattr(tasks, "read_or_none", lambda *args: None)
    tasks.register("file:///run.json", "file:///gates.json", model=MODEL)
    said = logged()
    assert said[0] == "fraud-xgb v3 registered: challenger; PR-AUC 0.610"
    assert said[1] == "gate report: /registry/versions/3/report.html?model=fraud-xgb"


def test_score_report_day_and_act_each_say_what_they_did(logged, monkeypatch):
    summary = {
        "day": "2026-11-15",
        "scores_uri": "file:///scores/2026-11-15/scores.parquet",
        "rows": 2400,
        "mode": "canary",
        "deployment_revision": 7,
        "champion": 2,
        "challenger": 3,
        "share": 5,
        "decided_by": {"2": 2280, "3": 120},
        "challenger_problem": None,
    }
    monkeypatch.setattr(score_tasks, "read", lambda registry: ({}, None))
    monkeypatch.setattr(score_tasks, "score_day", lambda *args: (None, summary))
    score_tasks.score(AS_OF, model=MODEL)
    said = logged()
    assert said == [
        "scored 2026-11-15: 2,400 rows under canary (champion v2, challenger v3); rows decided by v2: 2,280, "
        "v3: 120",
        "scores: file:///scores/2026-11-15/scores.parquet",
    ]

    report = {
        "day": "2026-11-15",
        "mode": "canary",
        "alert_rate_ratio": 1.4,
        "breaches": [{"check": "max_feature_psi"}],
    }
    monkeypatch.setattr(score_tasks, "read_scores", lambda *args: None)
    monkeypatch.setattr(score_tasks, "day_report", lambda *args: report)
    monkeypatch.setattr(score_tasks, "describe", lambda breach: "amount PSI 0.31 above 0.25")
    score_tasks.report_day(summary, AS_OF, model=MODEL)
    said = logged()[2:]
    assert said == [
        "monitored 2026-11-15 under canary: 1 breach(es), alerted",
        "  - amount PSI 0.31 above 0.25",
        "challenger / champion alert rate: 1.400",
        "day report: /registry/scores/fraud-xgb/2026-11-15/report.html",
    ]

    move = {"what": "rollback", "revision": [7, 8]}
    monkeypatch.setattr(score_tasks, "read_reports", lambda *args: [])
    monkeypatch.setattr(score_tasks, "read_or_none", lambda registry: None)
    monkeypatch.setattr(
        score_tasks,
        "after_scored_day",
        lambda *args: (
            Verdict("rollback", ["alert rate ratio 2.6 outside [0.5, 2.0]"]),
            {"mode": "champion", "share": 0},
        ),
    )
    monkeypatch.setattr(score_tasks, "moved_by", lambda *args: move)
    score_tasks.act({"day": "2026-11-15", "deployment_revision": 7}, model=MODEL)
    assert logged()[6:] == [
        "rollback: alert rate ratio 2.6 outside [0.5, 2.0]",
        "deployment now: champion; moved (rollback, revision 7 -> 8)",
    ]


def test_deploy_says_what_moved_and_what_is_deployed_now(logged, monkeypatch):
    state = {"mode": "canary", "champion": 2, "challenger": 3, "share": 5, "revision": 9}
    monkeypatch.setattr(deploy_tasks, "read_or_none", lambda registry: None)
    monkeypatch.setattr(deploy_tasks, "run_action", lambda *args: state)
    monkeypatch.setattr(deploy_tasks, "moved_by", lambda *args: {"what": "canary start", "revision": [8, 9]})
    deploy_tasks.deploy({"action": "canary", "version": 3, "reason": "try it"}, model=MODEL)
    assert logged() == [
        "canary v3: done (canary start)",
        "deployment now: canary, champion v2, challenger v3 at 5% (revision 9)",
    ]


def test_the_drift_check_says_its_verdict_what_moved_and_links_its_page(logged, monkeypatch):
    result = {
        "run": "2026-11-16T060000Z",
        "verdict": "drift",
        "confirmed": True,
        "trigger": True,
        "report_uri": "file:///var/storage/monitoring/fraud-xgb/2026-11-16T060000Z/drift.json",
        "page_uri": "file:///var/storage/monitoring/fraud-xgb/2026-11-16T060000Z/drift.html",
        "page_url": "/registry/monitoring/fraud-xgb/2026-11-16T060000Z/drift.html",
        "evidence": {"kinds": ["data"], "features": [{"feature": "amount", "psi": 0.41}]},
    }
    monkeypatch.setattr(monitor_tasks, "check", lambda *args: result)
    monitor_tasks.check_drift(AS_OF, model=MODEL)
    assert logged() == [
        "drift check 2026-11-16T060000Z: drift (data); confirmed; a retraining is signalled",
        "moved most: amount PSI 0.410",
        "drift report: /registry/monitoring/fraud-xgb/2026-11-16T060000Z/drift.html",
    ]


def test_a_summary_that_cannot_be_made_is_a_warning_not_the_tasks_failure(logged, monkeypatch, caplog):
    """The work is done: a gate report the summary cannot read leaves the task's result as it was."""
    result = {"gates_uri": "file:///nowhere/gates.json", "report_url": "/registry/r.html", "passed": True}
    monkeypatch.setattr(tasks, "evaluate_run", lambda *args: result)
    assert tasks.evaluate("file:///run.json", model=MODEL) == result
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(message.startswith("no summary (stored_evaluate_lines:") for message in warned), warned
