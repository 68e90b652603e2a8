"""
### Retrain the card-fraud model

Every Monday at 03:00 UTC, when the drift monitor (`monitor_fraud`) confirms drift, or when triggered by
hand (the run's lineage records which, with the drift evidence):

1. **extract** the transactions of the week before the logical date into one batch (+ manifest, sha256);
2. **validate** the batch against `expectations/transactions.json` (Great Expectations) and against
   recent batches (volume, re-sent data, time zones); the run's Data Docs page is logged. A batch that
   breaks a critical expectation is moved to `quarantine/` with a `reason.json`, and the run stops here;
3. **train** through the DVC pipeline (`dvc.yaml`) on the validated batches of the training window, in a
   workspace of its own; data and models are pushed to the DVC remote;
4. **evaluate** the challenger against the gates on the same holdout: PR-AUC and recall floors, beat
   the scikit-learn baseline and a rule, no regression against the champion (paired bootstrap interval),
   every slice (region, channel, amount band, ...) above its floor and not worse than the champion, and
   the expected cost at each model's threshold. The gate report (JSON, Markdown, HTML) is written next to
   the run; a failed gate stops the run with an error naming the gate and slice; the champion stays;
5. **register** the model with its lineage (data hash from `dvc.lock`, git revision, params, metrics,
   gates, this run's id). The first model becomes `champion`; later ones become `challenger`.

Every task is one call into `retrainer.tasks.retrain`, whose docstring names the stage function doing
its work; XCom carries URIs and small dicts only. Empty Params fall back to `params.yaml`. Rerunning a
logical date overwrites the same keys and registers no new version.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    dag,
    task,
)

REGISTERED_MODEL = Asset("retrainer://registry/fraud-xgb", group="model")
DRIFT = Asset("retrainer://drift/fraud-xgb", group="drift")  # emitted by monitor_fraud on confirmed drift


def _override(kind: str, description: str, **bounds) -> Param:
    """An optional form field: left empty, the value in params.yaml applies."""
    return Param(None, type=["null", kind], description=description, **bounds)


@dag(
    dag_id="retrain_fraud",
    # Weekly, or when the drift monitor's evidence says so (it holds a cool-down after each retraining).
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 3 * * 1", timezone="UTC"), assets=[DRIFT]),
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
    def register(
        trained: dict,
        evaluated: dict,
        params=None,
        run_id=None,
        dag_run=None,
        triggering_asset_events=None,
        outlet_events=None,
    ) -> dict:
        from retrainer.tasks import retrain

        registered = retrain.register(
            trained["run_manifest_uri"],
            evaluated["gates_uri"],
            run_id,
            params,
            run_type=dag_run.run_type,  # scheduled, manual or asset-triggered (drift), for the lineage
            asset_events=triggering_asset_events,
        )
        outlet_events[REGISTERED_MODEL].extra = registered["asset_event"]  # the Assets page names the version
        return registered

    trained = train(validate(extract()))
    register(trained, evaluate(trained))


retrain_fraud()
