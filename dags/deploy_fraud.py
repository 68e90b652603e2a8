"""
### Move the fraud model's deployment by hand

Trigger with Params (the Trigger form, or `POST /api/v2/dags/deploy_fraud/dagRuns` with `conf`), so every
manual move goes through Airflow's authentication and leaves a run behind:

- `action: rollback`: drop the running shadow or canary challenger, or, in champion mode, bring the
  previous champion back (blue-green's way back);
- `action: promote` + `version`: that version becomes champion at once (blue-green);
- `action: shadow` / `canary` + `version`: start a shadow run or a canary at the first ramp step;
- `action: ramp`: the canary's next step now, without waiting for its days (past the last: champion).

`reason` is required; it goes to the registry's audit log with the user who triggered the run. The move
is a compare-and-swap of the deployment record: a concurrent move makes this run fail, changing nothing.
The task is one call into `retrainer.tasks.deploy`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import ExceptionRetryPolicy, Param, RetryAction, RetryRule, dag, task


@dag(
    dag_id="deploy_fraud",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["fraud", "deployment"],
    default_args={
        "owner": "ml-platform",
        "retries": 1,
        # A refused move (stale state, nothing to roll back) is a verdict; retrying a move could repeat it.
        "retry_policy": ExceptionRetryPolicy(
            rules=[RetryRule(exception="retrainer.core.errors.Rejected", action=RetryAction.FAIL)]
        ),
    },
    params={
        "action": Param(
            "rollback", enum=["rollback", "promote", "shadow", "canary", "ramp"], description="What to do."
        ),
        "version": Param(None, type=["null", "integer"], minimum=1, description="For promote/shadow/canary."),
        "reason": Param("", type="string", minLength=3, description="Why, for the audit log."),
    },
)
def deploy_fraud():
    @task
    def deploy(params=None, dag_run=None) -> dict:
        from retrainer.tasks import deploy

        return deploy.deploy(dict(params), getattr(dag_run, "triggering_user_name", None))

    deploy()


deploy_fraud()
