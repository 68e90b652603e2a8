"""The forms a person fills in the Airflow UI for a model's DAGs, as Airflow Params: the retraining DAG's
trigger form (each override field shows the model's own value and takes its bounds from the params schema,
`retrainer.core.form_fields`) and the approval form's comment field (recorded with the answer)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from retrainer.core.form_fields import override_fields  # pydantic only: light at parse time

# The trigger form's override fields (a subset of retrainer.core.params.DAG_PARAMS), in the form's order.
OVERRIDES = (
    "extract_window_days",
    "training_window_days",
    "min_pr_auc",
    "min_recall_at_fpr",
    "champion_tolerance",
)
COMMENT = "comment"  # retrainer.deployment.approval_form.COMMENT: approval.decide reads it from the answer


def override_params(config: dict[str, Any], names: tuple[str, ...]) -> dict[str, Param]:
    """Optional form fields overriding the keys `names` (retrainer.core.params.DAG_PARAMS) of the model
    whose checked params are `config`: empty by default, each says the model's value that then applies."""
    return {name: Param(None, **field) for name, field in override_fields(config, names).items()}


def retrain_params(config: dict[str, Any]) -> dict[str, Param]:
    """The retraining DAG's Params for the model whose checked params are `config`: its override fields
    (left empty, the model's value applies, and each says which) and `approval`."""
    return override_params(config, OVERRIDES) | {
        "approval": Param(
            "required",
            enum=["required", "auto"],
            description="required: a person answers the approval form (Browse > Required Actions) before "
            "anything is deployed; auto: the model's deployment.auto_choice "
            f"({config['deployment']['auto_choice']}) is taken without asking.",
        )
    }


def approval_params() -> dict[str, Param]:
    """The approval form's field: a comment, optional, recorded with the answer in the audit log and in the
    reason of the move it makes (`retrainer.deployment.approval.decide`)."""
    return {
        COMMENT: Param(
            None,
            type=["null", "string"],
            maxLength=500,
            description="Why you answer so: recorded with your answer in the registry's audit log.",
        )
    }
