"""
### Score the day's rows with a model's deployed version(s) (one DAG per folder of `models/`)

`score_<name>` for each model. Every day at 04:00 UTC (or triggered for a logical date D), for the model's
source rows of day D-1:

1. **score** them with the models the registry's deployment record names (never a DAG constant):
   the champion alone; in *shadow* mode the challenger too, its scores stored beside, deciding nothing;
   in *canary* mode the challenger decides the customers in its share (a stable hash of the customer
   id, so a customer meets one model every day). One file per day:
   `scores/<model>/date=<D-1>/scores.parquet` (transaction id, score, decision, the version that decided,
   and the second model's score);
2. **report_day**: the day's report: agreement and alert rates of the two models, the challenger's score
   distribution against its own holdout scores (PSI), its error rate and, once labels have matured (scored
   rows older than `data.label_maturity_days`; a set of one class is not judged), both PR-AUCs:
   `report.json` next to the scores (the registry page shows it). The run's health goes in the same
   report: its inputs against the champion's training reference (missing, out-of-range and unseen
   values, drift per feature), its outputs (NaN scores, alert rate) and its software figures (seconds,
   rows per second, peak memory, model load time), each held against the model's `scoring.health`;
3. **act**: a challenger whose figures leave the bounds of the model's `deployment.rollback` is rolled
   back at once (the champion decides every row from the next run on; the reason is in the audit log);
   a canary within bounds for `deployment.canary.min_days_per_step` days ramps to its next step, and
   past the last step it becomes champion; every such move is posted to the model's alert connection
   (model, versions, from -> to mode and share, the breaches of a rollback, who moved it, the run's link),
   and **announce_move** emits it as an Asset event on `retrainer://deployment/<name>` (no move: no event);
4. **out_of_bounds** / **alert**: a day with figures past their bounds posts them (what, how much,
   which bound, the report's link) to the model's alert connection (`alerts.connection`, by default
   `retrainer_alerts`; Airflow's HTTP hook, in the task: an alert that cannot be delivered fails it). A
   task that fails for good posts what failed, the named error and the run's link to the same connection.

Each task is one call into `retrainer.tasks.score`. A move made by hand meanwhile (the `deploy_<name>` DAG
or `retrainer deploy`) wins: the automatic move is made only on the revision the day was scored under.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import CronTriggerTimetable, dag, task

from retrainer.core import timeouts  # stdlib only: each task's time limit
from retrainer.core.models import load_models  # yaml + pydantic only: parse-time light
from retrainer.core.settings import Settings
from retrainer_airflow import events  # airflow.sdk + stdlib: parse-time light
from retrainer_airflow.defaults import default_args
from retrainer_airflow.forms import override_params
from retrainer_airflow.lineage import lineage_task
from retrainer_airflow.notifiers import DeploymentMoved


def score_dag(model: str, config: dict):
    """The daily scoring DAG of one model, `score_<model>`."""
    deployment = events.deployment_asset(model)  # retrainer://deployment/<model>: one event per move

    @dag(
        dag_id=f"score_{model}",
        schedule=CronTriggerTimetable("0 4 * * *", timezone="UTC"),
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,  # days in order: each day's verdict reads the days before it
        doc_md=f"## `{model}`\n\n{__doc__}",
        tags=[model, "scoring", "deployment", *config["model"]["tags"]],
        default_args=default_args(model, config),
        params=override_params(config, ("min_days_per_step",)),  # shows the model's value; schema's bounds
    )
    def score_day():
        # its lineage (source day and versions -> scores) goes to OpenLineage when a transport is configured
        @lineage_task(execution_timeout=timeouts.task_timeout(config, "score"))
        def score(params=None, logical_date=None, dag_run=None) -> dict:
            from retrainer.tasks import score

            return score.score(logical_date or dag_run.run_after, params, model)

        @task(execution_timeout=timeouts.task_timeout(config, "report_day"))
        def report_day(scored: dict, params=None, logical_date=None, dag_run=None) -> dict:
            from retrainer.tasks import score

            return score.report_day(scored, logical_date or dag_run.run_after, params, model)

        @task(on_success_callback=[DeploymentMoved(model, config)])  # a rollback or ramp is posted
        def act(report: dict, params=None) -> dict:
            from retrainer.tasks import score

            return score.act(report, params, model)

        @task(outlets=[deployment])  # skipped, so no event, when nothing moved
        def announce_move(acted: dict, outlet_events=None) -> dict:
            return events.announce_move(model, acted, outlet_events)

        @task.short_circuit
        def out_of_bounds(report: dict) -> bool:
            return bool(report["breaches"])

        @task  # posted in the task, not by a callback: an alert that cannot be delivered fails it
        def alert(report: dict) -> str:
            from retrainer_airflow.connections import post_alert

            return post_alert(model, config, {"text": report["alert"], "breaches": report["breaches"]})

        report = report_day(score())
        announce_move(act(report))
        out_of_bounds(report) >> alert(report)

    return score_day()


# The healthy models only (load_models leaves a broken one out): its problems are the import error of
# dags/model_config_errors.py, and every other model keeps its DAGs.
for _name, _config in load_models(Settings.from_env().project_dir).items():
    globals()[f"score_{_name}"] = score_dag(_name, _config)
