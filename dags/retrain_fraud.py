"""
### Retrain the card-fraud model

Weekly, on the calendar week (Monday 00:00 UTC to the next Monday, `CronDataIntervalTimetable`): the run of
a week starts when it ends, waits 3 hours for late files, and is keyed by the week's end
(`2026-11-16T000000Z`). A run triggered by hand covers the last complete week before its logical date (a
Wednesday snaps to the Monday before it), so it writes the same keys as that week's scheduled run. When the
drift monitor (`monitor_fraud`) confirms drift, its Asset event starts a run on the seven days up to the
evidence; the lineage of every version says why its run happened (schedule, manual, or drift with the
evidence).

1. **extract** the week's transactions into one batch (+ manifest, sha256); a day missing from the
   source stops the run by name (`MissingSourcePartition`), a window before `data.start_date` is refused;
2. **validate** the batch against `expectations/transactions.json` (Great Expectations) and against
   recent batches (volume, re-sent data, time zones); the run's Data Docs page is logged. A batch that
   breaks a critical expectation is moved to `quarantine/` with a `reason.json`, and the run stops here;
3. **check_labels**: each batch of the training window whose labels have matured is scored by the
   champion; a batch whose ROC-AUC lies far below the other batches' is quarantined before training;
4. **train** through the DVC pipeline (`dvc.yaml`) on the rows of the validated batches whose event time
   is in the training window, each transaction once, read from bytes checked against their validation;
5. **evaluate** the challenger against the gates on the same holdout: PR-AUC and recall floors, beat
   the scikit-learn baseline and a rule, no regression against the champion (paired bootstrap interval),
   every slice (region, channel, amount band, ...) above its floor and not worse than the champion, and
   the expected cost at each model's threshold. The gate report (JSON, Markdown, HTML) is written next to
   the run; a failed gate stops the run with an error naming the gate and slice; the champion stays;
6. **register** the model with its lineage (data hash from `dvc.lock`, git revision, params, metrics,
   gates, this run's id), only if the gate report judged these model bytes. The first model becomes
   `champion`; later ones become `challenger`;
7. **approve** (Browse > Required Actions): a new challenger waits for *Approve* (blue-green promotion),
   *Shadow first*, *Canary* or *Reject*, the gate report's summary in the form; no answer within the
   time-out counts as Reject. Param `approval: auto` skips it (`deployment.auto_choice` in params.yaml);
8. **decide** writes the answer (who, when, which option) or the time-out to the registry's audit log
   and moves the deployment record, which `score_transactions` follows from its next run.

Every task is one call into `retrainer.tasks.retrain`, whose docstring names the stage function doing
its work; XCom carries URIs and small dicts only. Empty Params fall back to `params.yaml`. Rerunning a
week overwrites the same keys and registers no new version and asks nothing.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    dag,
    task,
)

REGISTERED_MODEL = Asset("retrainer://registry/fraud-xgb", group="model")
DRIFT = Asset("retrainer://drift/fraud-xgb", group="drift")  # emitted by monitor_fraud on confirmed drift
# The approval form's options (retrainer.deployment.approval.OPTIONS); nobody answering in time = Reject.
OPTIONS = ["Approve", "Reject", "Shadow first", "Canary"]
APPROVAL_TIMEOUT = timedelta(seconds=int(os.environ.get("RETRAINER_APPROVAL_TIMEOUT_SECONDS", 3 * 86400)))


def _override(kind: str, description: str, **bounds) -> Param:
    """An optional form field: left empty, the value in params.yaml applies."""
    return Param(None, type=["null", kind], description=description, **bounds)


@dag(
    dag_id="retrain_fraud",
    # The data interval is the calendar week; or the drift monitor's evidence (it holds a cool-down). No
    # start_date: Airflow would create no task for a run before it and call the run a success; extract
    # refuses a window before data.start_date (params.yaml) instead.
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 0 * * 1", timezone="UTC"), assets=[DRIFT]
    ),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["fraud", "retraining", "xgboost"],
    default_args={
        "owner": "ml-platform",
        "retries": 2,  # after [core] default_task_retry_delay (300 s unless configured)
        # A rejected batch, a failed gate or a bad checksum is a verdict: retrying cannot change it.
        "retry_policy": ExceptionRetryPolicy(
            rules=[RetryRule(exception="retrainer.core.errors.Rejected", action=RetryAction.FAIL)]
        ),
    },
    params={
        "extract_window_days": _override("integer", "First run: days before the week's end.", minimum=1),
        "training_window_days": _override("integer", "Days of validated batches to train on.", minimum=14),
        "min_pr_auc": _override("number", "Gate: PR-AUC floor on the holdout.", minimum=0, maximum=1),
        "min_recall_at_fpr": _override("number", "Gate: recall at the FPR budget.", minimum=0, maximum=1),
        "champion_tolerance": _override(
            "number", "Gate: how far the CI's lower bound of PR-AUC minus the champion's may fall.", minimum=0
        ),
        "approval": Param(
            "required", enum=["required", "auto"], description="Ask a person before a challenger deploys."
        ),
    },
)
def retrain_fraud():
    @task.sensor(poke_interval=600, timeout=12 * 3600, mode="reschedule")
    def wait_for_late_files(params=None, dag_run=None) -> bool:
        from retrainer.tasks import retrain

        return retrain.late_files_landed(dag_run, params)

    # Each task reads its week from the run's data interval (a drift-triggered run has none: then the last
    # complete week before it was due).
    @task
    def extract(params=None, dag_run=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.extract(dag_run, params)

    @task
    def validate(batch: dict, params=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.validate(batch["manifest_uri"], params)

    @task
    def check_labels(validated: dict, params=None, dag_run=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.check_labels(dag_run, params)

    @task
    def train(checked: dict, params=None, dag_run=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.train(dag_run, params)

    @task
    def evaluate(trained: dict, params=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.evaluate(trained["run_manifest_uri"], params)

    @task(outlets=[REGISTERED_MODEL])
    def register(trained: dict, evaluated: dict, params=None, dag_run=None, **context) -> dict:
        from retrainer.tasks import retrain

        registered = retrain.register(
            trained["run_manifest_uri"],
            evaluated["gates_uri"],
            dag_run.run_id,
            params,
            run_type=dag_run.run_type,  # scheduled, manual or asset-triggered (drift), for the lineage
            asset_events=context["triggering_asset_events"],
        )
        outlet_events = context["outlet_events"]
        outlet_events[REGISTERED_MODEL].extra = registered["asset_event"]  # the Assets page names the version
        return registered

    @task.branch
    def route(registered: dict, params=None) -> list[str]:
        from retrainer.tasks import retrain

        return ["approve", "decide"] if retrain.route(registered, params) else ["decide"]

    approve = HITLOperator(
        task_id="approve",
        subject="Deploy {{ ti.xcom_pull(task_ids='register')['model'] }} "
        "v{{ ti.xcom_pull(task_ids='register')['version'] }}?",
        body="{{ ti.xcom_pull(task_ids='register')['approval_body'] }}",
        options=OPTIONS,
        defaults=["Reject"],
        response_timeout=APPROVAL_TIMEOUT,
    )

    @task(trigger_rule="none_failed_min_one_success")  # after any answer, a time-out (Reject), or no form
    def decide(params=None, ti=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.decide(ti.xcom_pull(task_ids="register"), ti.xcom_pull(task_ids="approve"), params)

    batch = extract()
    wait_for_late_files() >> batch
    trained = train(check_labels(validate(batch)))
    routed, decision = route(register(trained, evaluate(trained))), decide()
    routed >> [approve, decision]
    approve >> decision


retrain_fraud()
