"""
### Monitor a model for drift (one DAG per folder of `models/`)

`monitor_<name>` for each model. Every day at 06:00 UTC (after the day's scoring), for the whole calendar
days before the logical date in the model's zone (`schedule.timezone`; `monitoring.window_days` of them, the
last ending at the last midnight at or before the logical date, so 06:00 judges yesterday 00:00 .. 24:00):

0. **wait_for_days** waits (a sensor in reschedule mode) until each judged day has fully landed: its source
   partitions there and its last event at most `monitoring.days.max_gap_hours` before its end; past
   `monitoring.days.wait_hours` after the days' end it fails with `DayNotLanded`, naming each day and why.
   A partial day is never judged as a day (its missing hours read as drift); `days.json` beside the report;
1. **check_drift** holds the transactions against the champion's training reference (its validation and
   holdout rows; for a drift-adapted version, the recent inputs it was adapted to): per feature PSI and a
   distance (Wasserstein for numbers, Jensen-Shannon for categories), ranked by contribution; jointly, a
   classifier two-sample test (its AUC against a permutation-calibrated threshold and a floor, the
   features it relied on); its scores against its own holdout scores (PSI, alert rate); and its PR-AUC on
   matured labels (events older than `data.label_maturity_days`, the horizon training uses, of the last
   `monitoring.drift.performance_window_days` days; never the frauds that arrived first) against its holdout
   figure beyond the sample's noise, and each slice's ROC-AUC on them against its holdout slice. Decided
   on effect size; KS / chi-square p-values (Benjamini-Hochberg) only guard small samples. The drift
   report (HTML and JSON) is stored under `monitoring/<model>/<run>/` and logged. It also estimates the
   champion's PR-AUC, recall at its threshold and expected cost on each scored day from its scores alone
   (`monitoring.estimation`, each score taken as P(y=1)), with an interval: an estimated PR-AUC below the
   bound is a drift kind like the others; once a day's labels mature the realised figures are recorded
   beside its estimate (`monitoring/<model>/estimates.json`) and the report shows the track record;
2. **drift_confirmed**: drift counts only once it persisted `monitoring.drift.consecutive_runs` runs;
3. **alert_due** / **alert** posts what moved, by how much, against which threshold and the report's link
   to the model's alert connection (`alerts.connection`, by default `retrainer_alerts`; Airflow's HTTP
   hook, in the task: an alert that cannot be delivered fails it, named) once per drift episode (the
   confirmed streak against one champion): when it starts, when a retraining is signalled in it, then as
   a reminder every `monitoring.reminder_days`, not daily;
   a drift suppressed by the cool-down says so and until when. A task that fails for good posts what
   failed, the named error and the run's link;
4. **retraining_due**: not within `monitoring.cooldown_days` of the last retraining (then the drift is
   recorded in the report as suppressed, with until when, and nothing starts); a drift-triggered
   retraining that failed does not count, one still running does;
5. **signal_retraining** emits the `retrainer://drift/<name>` Asset event, its `extra` the evidence:
   `retrain_<name>` is scheduled on it as well as on its weekly timetable.
6. **follow_up_due** / **signal_follow_up**: once a drift-triggered version's drifted days have matured
   labels (its evidence's `as_of` + `data.label_maturity_days`), the first run at or after that date emits
   the `retrainer://labels-matured/<name>` Asset event once (its `extra`: the version it follows up, the
   evidence run, the due date), which starts a follow-up `retrain_<name>` run (lineage: "follow-up of vN");
   not held by the drift cool-down, since it is not drift.

Every task is one call into `retrainer.tasks.monitor`; thresholds live in the model's params (`monitoring`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Asset, CronTriggerTimetable, dag, task

from retrainer.core import timeouts  # stdlib only: each task's time limit
from retrainer.core.models import load_models  # yaml + pydantic only: parse-time light
from retrainer.core.settings import Settings
from retrainer_airflow.defaults import default_args


def monitor_dag(model: str, config: dict):
    """The drift monitor of one model, `monitor_<model>`, emitting `retrainer://drift/<model>`."""
    drift = Asset(f"retrainer://drift/{model}", group="drift")
    labels_matured = Asset(f"retrainer://labels-matured/{model}", group="drift")  # follow-up retraining
    wait_seconds = (config["monitoring"]["days"]["wait_hours"] + 1) * 3600

    @dag(
        dag_id=f"monitor_{model}",
        schedule=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
        start_date=datetime(2026, 1, 5, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        doc_md=f"## `{model}`\n\n{__doc__}",
        tags=[model, "monitoring", "drift", *config["model"]["tags"]],
        default_args=default_args(model, config),
    )
    def monitor_drift():
        # Whole days only: waits (freeing its worker) until the judged days have landed, then DayNotLanded;
        # the sensor's own time-out is a backstop an hour after that.
        @task.sensor(poke_interval=900, timeout=wait_seconds, mode="reschedule")
        def wait_for_days(params=None, logical_date=None, dag_run=None) -> bool:
            from retrainer.tasks import monitor

            return monitor.wait_for_days(logical_date or dag_run.run_after, params, model)

        @task(execution_timeout=timeouts.task_timeout(config, "check_drift"))
        def check_drift(params=None, logical_date=None, dag_run=None) -> dict:
            from retrainer.tasks import monitor

            return monitor.check_drift(logical_date or dag_run.run_after, params, model)

        @task.short_circuit
        def drift_confirmed(checked: dict) -> bool:
            return checked["confirmed"]

        @task  # posted in the task, not by a callback: an alert that cannot be delivered fails it
        def alert(checked: dict) -> str:
            from retrainer_airflow.connections import post_alert

            return post_alert(model, config, {"text": checked["alert"], "evidence": checked})

        @task.short_circuit
        def retraining_due(checked: dict) -> bool:
            return checked["trigger"]

        @task(outlets=[drift])
        def signal_retraining(checked: dict, outlet_events=None) -> dict:
            outlet_events[drift].extra = checked["evidence"]
            return checked["evidence"]

        @task.short_circuit
        def follow_up_due(params=None, logical_date=None, dag_run=None) -> dict | None:
            from retrainer.tasks import monitor

            return monitor.follow_up_due(logical_date or dag_run.run_after, params, model)

        @task(outlets=[labels_matured])
        def signal_follow_up(request: dict, params=None, outlet_events=None) -> dict:
            from retrainer.tasks import monitor

            outlet_events[labels_matured].extra = monitor.signal_follow_up(request, params, model)
            return request

        @task.short_circuit
        def alert_due(checked: dict) -> bool:  # once per episode, then a reminder every reminder_days
            return checked.get("post_alert", True)

        checked = check_drift()
        wait_for_days() >> checked
        confirmed = drift_confirmed(checked)
        confirmed >> alert_due(checked) >> alert(checked)
        confirmed >> retraining_due(checked) >> signal_retraining(checked)
        signal_follow_up(follow_up_due())

    return monitor_drift()


# The healthy models only (load_models leaves a broken one out): its problems are the import error of
# dags/model_config_errors.py, and every other model keeps its DAGs.
for _name, _config in load_models(Settings.from_env().project_dir).items():
    globals()[f"monitor_{_name}"] = monitor_dag(_name, _config)
