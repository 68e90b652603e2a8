"""
### Retrain the card-fraud model

Every Monday at 03:00 UTC, or when triggered by hand:

1. **extract** the transactions of the week before the logical date into one batch (+ manifest, sha256);
2. **validate** the batch against `expectations/transactions.json` (Great Expectations) and against
   recent batches (volume, re-sent data, time zones); the run's Data Docs page is logged. A batch that
   breaks a critical expectation is moved to `quarantine/` with a `reason.json`, and the run stops here;
3. **train** through the DVC pipeline (`dvc.yaml`) on the validated batches of the training window, in a
   workspace of its own; data and models are pushed to the DVC remote;
4. **evaluate** the challenger against the gates on the same holdout: floors, the scikit-learn baseline
   and a rule, no regression against the champion (paired bootstrap interval), every slice, and the
   expected cost. The gate report is written next to the run; a failed gate stops the run naming the
   gate and slice; the champion stays;
5. **register** the model with its lineage (data hash from `dvc.lock`, git revision, params, metrics,
   gates, this run's id); the Asset event carries its version. The first model becomes `champion`;
   later ones become `challenger`;
6. **approve** (Browse > Required Actions): a new challenger waits for *Approve* (blue-green promotion),
   *Shadow first*, *Canary* or *Reject*, the gate report's summary in the form; no answer within the
   time-out counts as Reject. Param `approval: auto` skips it (`deployment.auto_choice` in params.yaml);
7. **decide** writes the answer (who, when, which option) or the time-out to the registry's audit log
   and moves the deployment record, which `score_transactions` follows from its next run.

Every task is one call into `retrainer.tasks.retrain` (its docstring names the stage function doing the
work); XCom carries URIs and small dicts. Empty Params fall back to `params.yaml`. Rerunning a logical
date overwrites the same keys, registers no new version and asks nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import (
    Asset,
    CronTriggerTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    dag,
    task,
)

REGISTERED_MODEL = Asset("retrainer://registry/fraud-xgb", group="model")
# The approval form's options (retrainer.deployment.approval.OPTIONS); nobody answering in time = Reject.
OPTIONS = ["Approve", "Reject", "Shadow first", "Canary"]
APPROVAL_TIMEOUT = timedelta(seconds=int(os.environ.get("RETRAINER_APPROVAL_TIMEOUT_SECONDS", 3 * 86400)))


def _override(kind: str, description: str, **bounds) -> Param:
    """An optional form field: left empty, the value in params.yaml applies."""
    return Param(None, type=["null", kind], description=description, **bounds)


@dag(
    dag_id="retrain_fraud",
    schedule=CronTriggerTimetable("0 3 * * 1", timezone="UTC"),
    start_date=datetime(2026, 1, 5, tzinfo=UTC),
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
        "extract_window_days": _override("integer", "Days before the logical date to extract.", minimum=1),
        "training_window_days": _override("integer", "Days of validated batches to train on.", minimum=14),
        "min_pr_auc": _override("number", "Gate: PR-AUC floor on the holdout.", minimum=0, maximum=1),
        "min_recall_at_fpr": _override(
            "number", "Gate: recall floor at the FPR budget.", minimum=0, maximum=1
        ),
        "champion_tolerance": _override(
            "number", "Gate: how far the CI's lower bound of PR-AUC minus the champion's may fall.", minimum=0
        ),
        "approval": Param(
            "required", enum=["required", "auto"], description="Ask a person before a challenger deploys."
        ),
    },
)
def retrain_fraud():
    @task
    def extract(params=None, logical_date=None, dag_run=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.extract(logical_date or dag_run.run_after, params)

    @task
    def validate(batch: dict, params=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.validate(batch["manifest_uri"], params)

    @task
    def train(validated: dict, params=None, logical_date=None, dag_run=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.train(logical_date or dag_run.run_after, params)

    @task
    def evaluate(trained: dict, params=None) -> dict:
        from retrainer.tasks import retrain

        return retrain.evaluate(trained["run_manifest_uri"], params)

    @task(outlets=[REGISTERED_MODEL])
    def register(trained: dict, evaluated: dict, params=None, run_id=None, outlet_events=None) -> dict:
        from retrainer.tasks import retrain

        registered = retrain.register(trained["run_manifest_uri"], evaluated["gates_uri"], run_id, params)
        outlet_events[REGISTERED_MODEL].extra = {k: registered[k] for k in ("model", "version", "record_uri")}
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

    trained = train(validate(extract()))
    routed, decision = route(register(trained, evaluate(trained))), decide()
    routed >> [approve, decision]
    approve >> decision


retrain_fraud()
