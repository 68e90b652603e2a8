"""The trigger and approval forms as a person sees them in the UI (issue 27): the retrain form's fields show
the model's own values and take their bounds from the params schema; the approval form takes a comment."""

import copy
import importlib.util

import pytest

from tests.conftest import PROJECT_DIR


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", PROJECT_DIR / "dags" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def retrain():
    return _module("retrain_models")


def _dag(retrain, params):
    return retrain.retrain_dag(params["model"]["name"], params)


def _overrides(dag):
    """The form's fields that override a key of the model's params (core.params.DAG_PARAMS)."""
    from retrainer.core.params import DAG_PARAMS

    return [name for name in dag.params if name in DAG_PARAMS]


def _at(params, dotted):
    for part in dotted.split("."):
        params = params[part]
    return params


def test_each_override_field_shows_the_models_own_value(retrain, params):
    from retrainer.core.params import DAG_PARAMS

    dag = _dag(retrain, params)
    assert len(_overrides(dag)) == 5
    for name in _overrides(dag):
        param = dag.params.get_param(name)
        value = _at(params, DAG_PARAMS[name])
        print(f"{name}: {param.description}")
        assert param.value is None  # empty: the model's value applies
        assert "Empty = the model's value" in param.description
        if value is not None:
            assert f"{value:g}" in param.description, name
    # another model (or the same with other values) gets its own form
    other = copy.deepcopy(params)
    other["data"]["training_window_days"] = params["data"]["training_window_days"] + 9
    shown = _dag(retrain, other).params.get_param("training_window_days").description
    assert f"{other['data']['training_window_days']} days" in shown


def test_the_forms_bounds_are_the_schemas(retrain, params):
    """A value at each bound of a field is taken by the form and by the params schema alike; one step past
    it is refused by both: one place sets the range (the form said 14 days where the schema said 7)."""
    from airflow.sdk.definitions.param import ParamValidationError
    from pydantic import ValidationError

    from retrainer.core.params import DAG_PARAMS, merge_params
    from retrainer.core.schema import ModelParams

    dag = _dag(retrain, params)
    checked = 0
    for name in _overrides(dag):
        param = dag.params.get_param(name)
        step = 1 if "integer" in param.schema["type"] else 0.01
        for bound, past in (("minimum", -step), ("maximum", step)):
            if bound not in param.schema:
                continue
            edge = param.schema[bound]
            param.resolve(edge)
            ModelParams.model_validate(merge_params(params, {DAG_PARAMS[name]: edge}))
            with pytest.raises(ParamValidationError):
                param.resolve(edge + past)
            with pytest.raises(ValidationError):
                ModelParams.model_validate(merge_params(params, {DAG_PARAMS[name]: edge + past}))
            checked += 1
    assert checked >= len(_overrides(dag)) == 5  # every field has at least one bound, checked both ways


def test_the_approval_form_takes_a_comment(retrain, params):
    approve = _dag(retrain, params).task_dict["approve"]
    assert "comment" in approve.serialized_params
    approve.params.get_param("comment").resolve(None)  # optional: an answer without a comment is taken


def test_the_scoring_form_shows_the_models_canary_days(params):
    other = copy.deepcopy(params)
    canary = other["deployment"]["canary"]
    canary["min_days_per_step"] += 3
    dag = _module("score_models").score_dag("fraud-xgb", other)
    field = dag.params.get_param("min_days_per_step")
    print(field.description)
    assert field.value is None
    assert f"Empty = the model's value: {canary['min_days_per_step']} days" in field.description
