"""The task entry points of the daily scoring DAG (`dags/score_models.py`: `score_<model>`), one per task,
with no Airflow in them. A run with logical date D scores the transactions of day D-1 under the deployment
state read from the registry, and judges labels as known at D.

    task        stage function
    score       retrainer.scoring.batch.score_day
    report_day  retrainer.scoring.report.day_report
    act         retrainer.deployment.actions.after_scored_day
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from retrainer.core import layout
from retrainer.core.clock import as_utc
from retrainer.deployment.actions import after_scored_day
from retrainer.deployment.moves import moved_by
from retrainer.deployment.state import read, read_or_none
from retrainer.deployment.verdicts import ROLLBACK
from retrainer.registry import openlineage
from retrainer.scoring.batch import read_scores, score_day
from retrainer.scoring.health import describe
from retrainer.scoring.report import day_report, read_reports
from retrainer.sources.partitions import partition_key
from retrainer.tasks import summaries
from retrainer.tasks.context import Context


def day_scored(as_of: datetime | str) -> date:
    """The day a run scores: the whole day before its logical date."""
    return (as_utc(as_of) - timedelta(days=1)).date()


def score(as_of: datetime | str, dag_params: dict[str, Any] | None = None, model: str | None = None) -> dict:
    """Score the day before `as_of` with the deployed model(s); returns the scores file's URI and counts, and
    its `lineage` (the source day and versions read, the scores written: `registry.openlineage.scoring`)."""
    ctx = Context.load(dag_params, model)
    state, _ = read(ctx.registry)
    day = day_scored(as_of)
    _, summary = score_day(ctx.source, ctx.storage, ctx.registry, state, day, ctx.params)
    summaries.log_summary(summaries.score_lines, summary)
    source_uri = ctx.source.uri(partition_key(day))
    return summary | {"lineage": openlineage.scoring(ctx.storage, source_uri, ctx.model, summary)}


def report_day(
    summary: dict, as_of: datetime | str, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> dict:
    """The day's report (champion vs challenger, drift, errors, matured performance); returns its
    headline, breaches and alert, and the report's address in the Airflow UI (`report_url`)."""
    ctx = Context.load(dag_params, model)
    scores = read_scores(ctx.storage, ctx.model, date.fromisoformat(summary["day"]))
    report = day_report(ctx.source, ctx.storage, ctx.registry, scores, summary, as_of, ctx.params)
    keep = ("day", "mode", "deployment_revision", "challenger", "share")
    keep += ("alert_rate_ratio", "agreement", "alert")
    kept = {k: report.get(k) for k in keep} | {
        "report_url": layout.day_report_url(ctx.model, summary["day"]),  # the day's report in the UI
        "challenger_psi": report.get("challenger_psi"),
        "breaches": [describe(b) for b in report["breaches"]],
    }
    summaries.log_summary(summaries.day_report_lines, kept)
    return kept


def act(report: dict, dag_params: dict[str, Any] | None = None, model: str | None = None) -> dict:
    """Roll the challenger back on a breach, ramp a canary after enough good days, or hold: judged on, and
    moved from, the deployment revision the day was scored under (DeploymentMoved if it moved since).
    `move`: what moved (`deployment.moves.move_of`, a rollback with its breaches), None when nothing did;
    the task's `DeploymentMoved` notifier posts it."""
    ctx = Context.load(dag_params, model)
    days = max(ctx.params["deployment"]["canary"]["min_days_per_step"], 1) + 7
    reports = read_reports(ctx.storage, ctx.model, date.fromisoformat(report["day"]), days)
    before = read_or_none(ctx.registry)
    found, state = after_scored_day(ctx.registry, reports, ctx.params, report.get("deployment_revision"))
    move = moved_by(ctx.registry, before, found.reasons if found.action == ROLLBACK else None)
    acted = {
        "action": found.action,
        "reason": found.reason,
        "mode": state["mode"],
        "share": state["share"],
        "move": move,
    }
    summaries.log_summary(summaries.act_lines, acted)
    return acted
