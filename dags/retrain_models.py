"""
### Retrain the model (one DAG per folder of `models/`)

This file generates one retraining DAG per model, `retrain_<name>`, from the folders `models/<name>/`
(each a `params.yaml` over `models/defaults.yaml`, and its suite in `expectations/`): adding a model is
adding a folder, no Python. Each model's params are checked when this file is parsed (a broken model gets
no DAG here: its file and key are the import error of `dags/model_config_errors.py`, and every other model
keeps its DAGs) and again when a run starts, before any work. To give one
model different wiring, copy this file to `dags/retrain_<name>.py`, change what differs, replace the loop at
its end by `retrain_dag("<name>", load_model(Settings.from_env().project_dir, "<name>"))` (`load_model`
from `retrainer.core.models`), and set `schedule.generated: false` in the model's params so that this
loop skips it.

On the model's timetable (`schedule.cron` in `schedule.timezone`, `CronDataIntervalTimetable`), by
default the calendar week (Monday 00:00 UTC to the next Monday): the run of an interval starts when it
ends, waits `data.late_files_hours` for late files, and is keyed by the interval's end in UTC
(`2026-11-16T000000Z`). A run triggered by hand covers the last complete interval of that timetable that
ended at or before its logical date (weekly: a Wednesday snaps to the Monday before it), so it writes the
same keys as that interval's scheduled run. Give it a moment after the interval's end (its Tuesday, or
now), not the end itself: Monday 00:00 is the logical date of the next week's scheduled run, which Airflow
then skips (one run per logical date) or refuses with 409 Conflict; extract's log names such a run.
When the drift monitor (`monitor_<name>`) confirms drift, its
Asset event starts a run on one interval's length up to the evidence (weekly: the seven days up to the
evidence's day; daily: the day that ended last); so does its labels-matured event (the follow-up retraining
of a drift-triggered version once the drifted days' labels have matured, up to that monitor run's date);
the lineage of every version says why its run happened (schedule, manual, drift with the evidence, or
"follow-up of vN").

1. **extract** the week's transactions into one batch (+ manifest, sha256); a day missing from the
   source stops the run by name (`MissingSourcePartition`), a window before `data.start_date` is refused;
2. **validate** the batch against the model's suite `expectations/<data.suite>.json` (Great Expectations)
   and against recent batches (volume, re-sent data, time zones); the run's Data Docs page is logged. A
   batch that breaks a critical expectation is moved to `quarantine/` with a `reason.json`, and the run
   stops here; a batch that passes with warnings is posted, with each warning, to `alerts.connection`;
3. **check_labels**: each batch of the training window whose labels have matured is scored by the
   champion; a batch whose ROC-AUC lies far below the other batches' is quarantined before training;
4. **train** through the DVC pipeline (`dvc.yaml`) on the rows of the validated batches whose event time
   is in the training window, each transaction once, read from bytes checked against their validation;
   a drift-triggered run weights its matured rows toward the rows younger than the label horizon (the
   drifted days) and monitors the new version against those rows (`adaptation` in the model's params);
5. **evaluate** the challenger against the gates on the same holdout: PR-AUC and recall floors, beat
   the scikit-learn baseline and a rule, no regression against the champion (paired bootstrap interval),
   every slice (region, channel, amount band, ...) above its floor and not worse than the champion, and
   the expected cost at each model's threshold. The gate report (JSON, Markdown, HTML) is written next to
   the run; a failed gate stops the run with an error naming the gate and slice; the champion stays;
6. **register** the model with its lineage (data hash from `dvc.lock`, git revision, params, metrics,
   gates, this run's id), only if the gate report judged these model bytes. The first model becomes
   `champion`; later ones become `challenger`;
7. **approve** (Browse > Required Actions): a new challenger waits for *Approve* (blue-green promotion),
   *Shadow first*, *Canary* or *Reject*. The form shows the gate report's summary and the alert-rate change
   against the champion, why the run happened (schedule, manual, drift with its evidence, follow-up), what
   is deployed now and what each answer would end (e.g. a running canary), and who may answer; its
   `comment` is recorded with the answer in the audit log. No answer within the time-out counts as Reject.
   Param `approval: auto` skips it (`deployment.auto_choice`). The waiting form
   is posted to the model's alert connection (`alerts.connection`), and only the users in
   `deployment.approvers` may answer it (Airflow refuses anyone else; empty: any user allowed to);
8. **decide** writes the answer (who, when, which option) or the time-out to the registry's audit log
   and moves the deployment record, which `score_<name>` follows from its next run; the move is posted
   to `alerts.connection`; **announce_move** emits it as an Asset event on `retrainer://deployment/<name>`
   (no move, e.g. a rejection: no event).

With an OpenLineage transport configured (`[openlineage] transport`), `register`'s lineage names the
validated batches trained on (their sha256 as dataset version) and the registered version.

A task that fails for good (a verdict at once: quarantined batch, failed gate, missing day; anything else
after its retries) posts what failed, the named error and the run's link to `alerts.connection`; in a run
started by drift it also records that the retraining failed, so the drift monitor's cool-down does not
count it (the next confirmed drift can start another); a failed gate is a verdict, not a failure: the
cool-down holds.

Every task is one call into `retrainer.tasks.retrain`, whose docstring names the stage function doing
its work; XCom carries URIs and small dicts only. Empty Params fall back to the model's params (each
field of the trigger form says which value that is; its bounds are the params schema's). Rerunning a
week overwrites the same keys and registers no new version and asks nothing.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, dag, task

from retrainer.core import timeouts  # stdlib only: each task's time limit
from retrainer.core.models import load_models  # yaml + pydantic only: light at parse time
from retrainer.core.settings import Settings
from retrainer_airflow import events  # airflow.sdk + stdlib: parse-time light
from retrainer_airflow.defaults import default_args
from retrainer_airflow.forms import approval_params, retrain_params
from retrainer_airflow.lineage import lineage_task
from retrainer_airflow.notifiers import (
    ApprovalWaiting,
    DataWarnings,
    DeploymentMoved,
    DriftRetrainingFailed,
    assigned_users,
)

# The approval form's options (retrainer.deployment.approval.OPTIONS); nobody answering in time = Reject.
OPTIONS = ["Approve", "Reject", "Shadow first", "Canary"]
APPROVAL_TIMEOUT = timedelta(seconds=int(os.environ.get("RETRAINER_APPROVAL_TIMEOUT_SECONDS", 3 * 86400)))


def tasks():
    """The task entry points (`retrainer.tasks.retrain`), imported when a task runs, never at parse time."""
    from retrainer.tasks import retrain

    return retrain


def retrain_dag(model: str, config: dict):
    """The retraining DAG of one model, `retrain_<model>`, from its checked params (`config`)."""
    registered_model = Asset(f"retrainer://registry/{model}", group="model")
    drift = Asset(f"retrainer://drift/{model}", group="drift")  # monitor_<model>'s, on confirmed drift
    # monitor_<model>'s too, when a drift-triggered version's drifted days' labels have matured
    labels_matured = Asset(f"retrainer://labels-matured/{model}", group="drift")
    deployment = events.deployment_asset(model)  # retrainer://deployment/<model>: one event per move
    schedule = config["schedule"]
    args = default_args(model, config)
    args["on_failure_callback"].append(DriftRetrainingFailed(model))  # frees the drift monitor's cool-down
    warned = [DataWarnings(model, config)]  # validate's: a batch that passed with warnings is posted

    @dag(
        dag_id=f"retrain_{model}",
        # The data interval (the calendar week by default); or the drift monitor's evidence (it holds a
        # cool-down). No start_date: Airflow would create no task for a run before it and call the run a
        # success; extract refuses a window before data.start_date (the model's params) instead.
        schedule=AssetOrTimeSchedule(
            timetable=CronDataIntervalTimetable(schedule["cron"], timezone=schedule["timezone"]),
            assets=drift | labels_matured,  # either event starts a run
        ),
        catchup=False,
        max_active_runs=1,
        doc_md=f"## `{model}`\n\n{config['model']['description']}\n\n{__doc__}",
        tags=[model, "retraining", *config["model"]["tags"]],
        default_args=args,
        params=retrain_params(config),  # each field shows the model's value; bounds from its schema
    )
    def retrain():
        @task.sensor(poke_interval=600, timeout=12 * 3600, mode="reschedule")
        def wait_for_late_files(params=None, dag_run=None) -> bool:
            return tasks().late_files_landed(dag_run, params, model)

        # Each task reads its interval from the run's data interval (a drift-triggered run has none: then
        # the model's schedule up to its evidence), and checks the model's params before any work.
        @task(execution_timeout=timeouts.task_timeout(config, "extract"))
        def extract(params=None, dag_run=None) -> dict:
            return tasks().extract(dag_run, params, model)

        @task(execution_timeout=timeouts.task_timeout(config, "validate"), on_success_callback=warned)
        def validate(batch: dict, params=None) -> dict:
            return tasks().validate(batch["manifest_uri"], params, model)

        @task(execution_timeout=timeouts.task_timeout(config, "check_labels"))
        def check_labels(validated: dict, params=None, dag_run=None) -> dict:
            return tasks().check_labels(dag_run, params, model)

        @task(execution_timeout=timeouts.task_timeout(config, "train"))
        def train(checked: dict, params=None, dag_run=None) -> dict:
            return tasks().train(dag_run, params, model)

        @task(execution_timeout=timeouts.task_timeout(config, "evaluate"))
        def evaluate(trained: dict, params=None) -> dict:
            return tasks().evaluate(trained["run_manifest_uri"], params, model)

        @lineage_task(outlets=[registered_model])  # OpenLineage: batches -> version, with a transport
        def register(trained: dict, evaluated: dict, params=None, dag_run=None, **context) -> dict:
            registered = tasks().register(
                trained["run_manifest_uri"],
                evaluated["gates_uri"],
                dag_run.run_id,
                params,
                run_type=dag_run.run_type,  # scheduled, manual or asset-triggered (drift), for the lineage
                asset_events=context["triggering_asset_events"],
                model=model,
                gates_sha256=evaluated.get("gates_sha256"),  # the bytes evaluate judged
            )
            context["outlet_events"][registered_model].extra = registered["asset_event"]  # names the version
            return registered

        @task.branch
        def route(registered: dict, params=None) -> list[str]:
            return ["approve", "decide"] if tasks().route(registered, params, model) else ["decide"]

        approve = HITLOperator(
            task_id="approve",
            subject="Deploy {{ ti.xcom_pull(task_ids='register')['model'] }} "
            "v{{ ti.xcom_pull(task_ids='register')['version'] }}?",
            body="{{ ti.xcom_pull(task_ids='register')['approval_body'] }}",
            options=OPTIONS,
            defaults=["Reject"],
            params=approval_params(),  # a comment, recorded with the answer (approval.decide)
            response_timeout=APPROVAL_TIMEOUT,
            notifiers=[ApprovalWaiting(model, config)],  # to the model's alert connection
            assigned_users=assigned_users(config),  # deployment.approvers: Airflow refuses others (403)
            execution_timeout=APPROVAL_TIMEOUT + timeouts.task_timeout(config),  # never cuts the wait short
        )

        @task(
            trigger_rule="none_failed_min_one_success",  # after any answer, a time-out (Reject), or no form
            on_success_callback=[DeploymentMoved(model, config)],  # a promotion, canary or shadow start
        )
        def decide(params=None, ti=None) -> dict:
            answer = ti.xcom_pull(task_ids="approve")
            return tasks().decide(ti.xcom_pull(task_ids="register"), answer, params, model)

        @task(outlets=[deployment])  # skipped, so no event, when nothing moved
        def announce_move(decided: dict, outlet_events=None) -> dict:
            return events.announce_move(model, decided, outlet_events)

        batch = extract()
        wait_for_late_files() >> batch
        trained = train(check_labels(validate(batch)))
        routed, decision = route(register(trained, evaluate(trained))), decide()
        announce_move(decision)
        routed >> [approve, decision]
        approve >> decision

    return retrain()


# One DAG per healthy model folder (load_models leaves a broken one out): its problems are the import error
# of dags/model_config_errors.py, and every other model keeps its DAGs.
for _name, _config in load_models(Settings.from_env().project_dir).items():
    if _config["schedule"]["generated"]:  # false: the model's retraining DAG is written by hand
        globals()[f"retrain_{_name}"] = retrain_dag(_name, _config)
