"""
### Move a model's deployment by hand (one DAG per folder of `models/`, `deploy_<name>`)

Trigger with Params (the Trigger form, or `POST /api/v2/dags/deploy_<name>/dagRuns` with `conf`), so every
manual move goes through Airflow's authentication and leaves a run behind:

- `action: rollback`: drop the running shadow or canary challenger, or, in champion mode, bring the
  previous champion back (blue-green's way back);
- `action: promote` + `version`: that version becomes champion at once (blue-green);
- `action: shadow` / `canary` + `version`: start a shadow run or a canary at the first ramp step;
- `action: ramp`: the canary's next step now, without waiting for its days (past the last: champion).

promote, shadow and canary without a `version`, or with one the registry does not hold, fail at once
(`VersionRequired`, `UnknownVersion`: verdicts, not retried) naming the registered versions and what is
deployed now; nothing moves. `reason` is required; it goes to the registry's audit log with the user who
triggered the run. Give
`expected_revision` (the revision `retrainer deploy status` shows): if the deployment moved since, the run
fails with `DeploymentMoved` naming both revisions, changing nothing. The move is a compare-and-swap of the
deployment record: a concurrent move makes this run fail, changing nothing.
The task is one call into `retrainer.tasks.deploy`. The move made is posted to the model's alert connection
(who, from -> to, why, the run's link); a move that fails posts what failed, the named error
and the run's link to the model's alert connection (`alerts.connection`).
**announce_move** then emits the move as an Asset event on `retrainer://deployment/<name>` (its `extra`:
version, mode, share, reason, actor, the audit event's id; a run that moved nothing emits none).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Param, dag, task

from retrainer.core.models import load_models  # yaml + pydantic only: parse-time light
from retrainer.core.settings import Settings
from retrainer_airflow import events  # airflow.sdk + stdlib: parse-time light
from retrainer_airflow.defaults import default_args
from retrainer_airflow.notifiers import DeploymentMoved


def deploy_dag(model: str, config: dict):
    """The manual deployment DAG of one model, `deploy_<model>`."""
    steps = config["deployment"]["canary"]["steps"]  # shown in the form: what a canary starts at
    deployment = events.deployment_asset(model)  # retrainer://deployment/<model>: one event per move

    @dag(
        dag_id=f"deploy_{model}",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        doc_md=f"## `{model}`\n\n{__doc__}",
        tags=[model, "deployment", *config["model"]["tags"]],
        default_args=default_args(model, config, retries=1),  # a retried move could repeat: one retry
        params={
            "action": Param(
                "rollback",
                enum=["rollback", "promote", "shadow", "canary", "ramp"],
                description="rollback: drop the running shadow/canary, or bring the previous champion "
                "back; promote: `version` becomes champion at once (ends any shadow/canary); shadow / "
                f"canary: start `version` beside the champion (canary at {steps[0]} %, ramped "
                f"{' -> '.join(f'{s} %' for s in steps)}; ends any running one); ramp: the canary's next "
                "step now. What is deployed now: Browse > Registry, or `retrainer deploy status`.",
            ),
            "version": Param(
                None,
                type=["null", "integer"],
                minimum=1,
                description="Required for promote, shadow and canary: a registered version (Browse > "
                f"Registry lists them with what is deployed now; `retrainer deploy status --model {model}`). "
                "Empty or unknown: the run fails at once, naming the registered versions and what is "
                "deployed, and nothing moves.",
            ),
            "reason": Param("", type="string", minLength=3, description="Why, for the audit log."),
            "expected_revision": Param(
                None,
                type=["null", "integer"],
                minimum=0,
                description="The deployment revision you decided on (`retrainer deploy status`, the "
                "registry page): refused if the deployment moved since. Empty: the move applies to the "
                "deployment as it is when the task runs.",
            ),
        },
    )
    def deploy_by_hand():
        @task(on_success_callback=[DeploymentMoved(model, config)])  # the move, to alerts.connection
        def deploy(params=None, dag_run=None) -> dict:
            from retrainer.tasks import deploy

            return deploy.deploy(dict(params), getattr(dag_run, "triggering_user_name", None), model)

        @task(outlets=[deployment])  # skipped, so no event, when nothing moved
        def announce_move(deployed: dict, outlet_events=None) -> dict:
            return events.announce_move(model, deployed, outlet_events)

        announce_move(deploy())

    return deploy_by_hand()


# The healthy models only (load_models leaves a broken one out): its problems are the import error of
# dags/model_config_errors.py, and every other model keeps its DAGs.
for _name, _config in load_models(Settings.from_env().project_dir).items():
    globals()[f"deploy_{_name}"] = deploy_dag(_name, _config)
