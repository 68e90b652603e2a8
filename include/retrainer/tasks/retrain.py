"""The task entry points of the retraining DAGs (`dags/retrain_models.py`: one DAG per model), one per task,
with no Airflow in them. Each takes the model's name, reads the settings and the model's params (checked
before any work), calls the one stage function that does the task's work, and returns a small JSON-able dict
for XCom: URIs and numbers, never data frames.

    task        stage function
    extract     retrainer.data.extract.extract_batch
    validate    retrainer.data.validate.validate_batch
    check_labels    retrainer.evaluation.label_signal.screen_matured_batches
    train       retrainer.training.train.train_run
    evaluate    retrainer.evaluation.evaluate.evaluate_run
    register    retrainer.registry.register.register_run
    route       retrainer.deployment.approval.needs_approval
    decide      retrainer.deployment.approval.decide
    (on failure) retrainer.monitoring.episodes.record_failed_retraining

Between `route` and `decide` the DAG waits on Airflow's approval form (a HITL operator, no entry point
here); its body is the `approval_body` that `register` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from retrainer.core import clock, layout
from retrainer.core.clock import Schedule, as_utc, data_interval, run_window
from retrainer.core.errors import NoDataInterval
from retrainer.core.resources import measure_step
from retrainer.core.run_dates import warn_if_displacing
from retrainer.data.contracts import Failure
from retrainer.data.extract import extract_batch
from retrainer.data.validate import validate_batch
from retrainer.deployment.approval import decide as decide_approval
from retrainer.deployment.approval import decided, needs_approval
from retrainer.deployment.approval_form import form_body
from retrainer.deployment.moves import moved_by
from retrainer.deployment.state import read_or_none
from retrainer.evaluation.evaluate import evaluate_run
from retrainer.evaluation.gates import GateFailed
from retrainer.evaluation.label_signal import screen_matured_batches
from retrainer.monitoring.episodes import evidence_runs, record_failed_retraining
from retrainer.registry import openlineage
from retrainer.registry.register import asset_event, is_follow_up_event, register_run, trigger_of
from retrainer.tasks import summaries
from retrainer.tasks.context import Context
from retrainer.training.adapt import DRIFT
from retrainer.training.train import train_run

Moment = datetime | str | None


@dataclass(frozen=True)
class Run:
    """What a task needs of its DAG run: the data interval, the run's id, when it was due, the asset events
    that started it (drift evidence) and its logical date. Airflow's DagRun has these attributes, so the DAG
    passes `dag_run` itself; the CLI and tests build a Run."""

    data_interval_start: Moment = None
    data_interval_end: Moment = None
    run_id: str | None = None
    run_after: Moment = None
    consumed_asset_events: tuple = ()
    logical_date: Moment = None


def _interval(run: Any, params: dict[str, Any]) -> tuple[datetime, datetime]:
    """The run's interval of the model's schedule (`schedule.cron` in `schedule.timezone`, `params` the
    model's checked params): its data interval when Airflow gave one (scheduled runs, and runs triggered
    by hand with a logical date, which Airflow snaps to the schedule's last complete interval). A run
    without one covers, in this order:
    - started by drift: one interval's length up to the newest evidence it consumed (the `as_of` its
      asset events carry), so it trains on the data that drifted (`Schedule.interval_up_to`);
    - with a logical date (`retrainer task --as-of`): the last complete interval at or before it, the same
      keys as that interval's scheduled run (`Schedule.last_interval`);
    - otherwise the last complete interval before it was due (`run_after`); without that, NoDataInterval."""
    if run.data_interval_start is not None or run.data_interval_end is not None:
        return data_interval(run.data_interval_start, run.data_interval_end, run.run_id)
    schedule = Schedule.of(params)
    if ends := evidence_ends(run):
        return schedule.interval_up_to(max(ends))
    anchor = getattr(run, "logical_date", None) or run.run_after
    if anchor is None:
        raise NoDataInterval(run.run_id)
    return schedule.last_interval(anchor)


def evidence_ends(run: Any) -> list[datetime]:
    """The `as_of` of each drift evidence in the run's consumed asset events (Airflow's DagRun, read by
    duck typing)."""
    events = getattr(run, "consumed_asset_events", None) or ()
    extras = [getattr(event, "extra", None) or {} for event in events]
    return [as_utc(extra["as_of"]) for extra in extras if extra.get("as_of")]


def drift_triggered(run: Any) -> bool:
    """Whether the drift monitor's Asset event started the run: it consumed a drift event and Airflow gave
    it no data interval (a scheduled or hand-triggered run keeps its interval whatever events it carries).
    A follow-up alone (the labels-matured event) is not drift: it trains on matured labels, unweighted."""
    no_interval = run.data_interval_start is None and run.data_interval_end is None
    events = getattr(run, "consumed_asset_events", None) or ()
    return no_interval and any(not _follow_up(event) for event in events)


def _follow_up(event: Any) -> bool:
    """A labels-matured event (`monitoring.follow_up`), known by its asset or by its `extra`."""
    uri = getattr(getattr(event, "asset", None), "uri", None) or ""
    return is_follow_up_event({"asset": uri}) or "follows_up" in (getattr(event, "extra", None) or {})


def late_files_landed(run: Any, dag_params: dict[str, Any] | None = None, model: str | None = None) -> bool:
    """True once `data.late_files_hours` have passed since the run's interval ended (its last files may
    land after it). A manual run covers an interval long ended; a drift-triggered run covers the days its
    evidence was judged on, files that had landed: true at once for both."""
    if run.data_interval_end is None and evidence_ends(run):
        return True
    ctx = Context.load(dag_params, model)
    _, end = _interval(run, ctx.params)
    return clock.now() >= end + timedelta(hours=ctx.params["data"]["late_files_hours"])


@measure_step("extract")
def extract(run: Any, dag_params: dict[str, Any] | None = None, model: str | None = None) -> dict:
    """Extract the run's data interval (or, with `extract_window_days`, that many days before its end) into
    a batch keyed by the interval's end; returns its manifest."""
    ctx = Context.load(dag_params, model)
    data = ctx.params["data"]
    warn_if_displacing(run)  # a run by hand on the next interval's scheduled logical date
    start, end = run_window(*_interval(run, ctx.params), data["extract_window_days"])
    return extract_batch(
        ctx.source,
        ctx.storage,
        ctx.model,
        start,
        end,
        missing_days=data["missing_days"],
        first_day=data["start_date"],
        event_time=ctx.params["model"]["event_time"],
        id_columns=[ctx.params["model"]["id_column"]],  # left out of each day's content (re-sent days)
    )


@measure_step("validate")
def validate(manifest_uri: str, dag_params: dict[str, Any] | None = None, model: str | None = None) -> dict:
    """Validate a batch against its suite; a failing batch is quarantined and BatchRejected raised.

    Returns the batch's run key, the validation URI, the address of the run's Data Docs page in the
    Airflow UI (`data_docs_url`, also as `report_url`: the task's "Report" button), and the warnings, each
    described (the `DataWarnings` notifier posts them)."""
    ctx = Context.load(dag_params, model)
    report = validate_batch(
        ctx.storage, manifest_uri, ctx.settings.suite_path(ctx.params), ctx.params["validation"]
    )
    shown = ("run_key", "validation_uri", "data_docs_url", "batch_uri", "rows", "success")
    return {k: report[k] for k in shown} | {
        "report_url": report["data_docs_url"],
        "warnings": [Failure(**w).describe() for w in report["warnings"]],
    }


@measure_step("check_labels")
def check_labels(run: Any, dag_params: dict[str, Any] | None = None, model: str | None = None) -> dict:
    """Judge the matured labels of the training window's batches with the champion; a batch whose labels
    carry no signal is quarantined before training. Returns what was judged and quarantined."""
    ctx = Context.load(dag_params, model)
    return screen_matured_batches(ctx.storage, ctx.params, _interval(run, ctx.params)[1])


@measure_step("train")
def train(run: Any, dag_params: dict[str, Any] | None = None, model: str | None = None) -> dict:
    """Run the DVC pipeline on the training window ending at the interval's end (a drift-triggered run with
    its rows weighted toward the drifted days: `training.adapt`); returns the run manifest's URI and
    headline numbers, whether the rows were weighted and whether the challenger kept is the weighted fit."""
    ctx = Context.load(dag_params, model)
    _, end = _interval(run, ctx.params)
    trigger = DRIFT if drift_triggered(run) else None  # a drift-triggered run adapts to the drifted days
    manifest = train_run(ctx.settings, ctx.storage, ctx.params, end, ctx.source, trigger)
    summaries.log_summary(summaries.train_lines, manifest)
    return {
        "run_manifest_uri": manifest["manifest_uri"],
        "data_hash": manifest["data_hash"],
        "adapted": manifest["adaptation"]["weighted"],  # the adapt stage weighed the rows (a drift run)
        # the kept challenger was fitted with the weights (training.selection; "fit" absent: as adapted)
        "weighted": (manifest.get("fit") or manifest["adaptation"])["weighted"],
        "challenger_pr_auc": manifest["metrics"]["challenger"]["pr_auc"],
        "baseline_pr_auc": manifest["metrics"]["baseline"]["pr_auc"],
    }


@measure_step("evaluate")
def evaluate(
    run_manifest_uri: str, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> dict:
    """Hold the run's challenger against the gates; writes the gate report, raises GateFailed on a failure."""
    ctx = Context.load(dag_params, model)
    try:
        result = evaluate_run(ctx.storage, run_manifest_uri, ctx.params)
    except GateFailed as failed:  # the whole table in the log, not only the failed gates
        summaries.log_summary(summaries.gate_failed_lines, failed)
        raise
    summaries.log_summary(summaries.stored_evaluate_lines, ctx.storage, result)
    return result


@measure_step("register")
def register(
    run_manifest_uri: str,
    gates_uri: str,
    airflow_run_id: str | None = None,
    dag_params: dict[str, Any] | None = None,
    run_type: Any = None,
    asset_events: Any = None,
    model: str | None = None,
    gates_sha256: str | None = None,
) -> dict:
    """Register the gated challenger with its lineage, including why the run happened (its run type and
    the drift evidence of the asset events that triggered it), from the gate report's bytes only if they
    hash to `gates_sha256` (evaluate's XCom; None: the sha256 evaluate recorded beside the run); returns
    the version, its aliases, the `extra` of the registered-model Asset event (`asset_event`: model,
    version, URI of the version record), the approval form's Markdown body and its `lineage` (the
    validated batches trained on -> the version: `registry.openlineage.retraining`)."""
    ctx = Context.load(dag_params, model)
    trigger = trigger_of(run_type, asset_events)
    registered = register_run(
        ctx.settings, ctx.storage, run_manifest_uri, gates_uri, airflow_run_id, trigger, gates_sha256
    )
    summaries.log_summary(summaries.register_lines, registered)
    return registered | {
        "report_url": layout.gate_report_url(registered["model"], registered["version"]),  # in the UI
        "asset_event": asset_event(registered),
        # the form: gates, alert rate, why, what is deployed now and what each answer replaces, who answers
        "approval_body": form_body(ctx.registry, registered["version"], ctx.params),
        "form_revision": (read_or_none(ctx.registry) or {}).get("revision"),  # decide says if it moved since
        "lineage": openlineage.retraining(
            ctx.storage, ctx.model, registered.get("batches", []), registered["version"]
        ),
    }


def route(
    registered: dict | None, dag_params: dict[str, Any] | None = None, model: str | None = None
) -> bool:
    """Whether the registered version waits for a person: it is the challenger, its approval is not yet
    settled (a rerun or a retried register asks again only if nobody decided), `approval: required`."""
    ctx = Context.load(dag_params, model)
    settled = bool(registered) and decided(ctx.registry, registered["version"])
    return needs_approval(registered, (dag_params or {}).get("approval") or "required", settled)


def decide(
    registered: dict | None,
    answer: dict | None,
    dag_params: dict[str, Any] | None = None,
    model: str | None = None,
) -> dict:
    """Write the approval's answer, or its time-out, to the audit log and move the deployment."""
    ctx = Context.load(dag_params, model)
    approval = (dag_params or {}).get("approval") or "required"
    before = read_or_none(ctx.registry)
    decided_now = decide_approval(ctx.registry, registered, answer, approval, ctx.params)
    return decided_now | {"move": moved_by(ctx.registry, before)}  # posted by the DeploymentMoved notifier


def retraining_failed(
    run: Any,
    dag_params: dict[str, Any] | None = None,
    model: str | None = None,
    error: str | None = None,
    exception: BaseException | None = None,
) -> list[str]:
    """A task of the retraining run `run` failed for good: if drift started the run (its consumed asset
    events carry the monitor runs' evidence), record that their signalled retraining failed, so the drift
    monitor's cool-down leaves the next confirmed drift free. A failed gate (`GateFailed`) is not a failed
    retraining: it trained and judged, and the cool-down holds (else a drift the gates keep refusing would
    retrain every day). Returns the keys written ([] for a run drift did not start, or a gate verdict)."""
    runs = evidence_runs(getattr(run, "consumed_asset_events", None) or ())
    if not runs or isinstance(exception, GateFailed):
        return []
    ctx = Context.load(dag_params, model)
    return record_failed_retraining(ctx.storage, ctx.model, runs, getattr(run, "run_id", None), error)
