"""`train.tuning` and `train.imbalance` in a model's params: off and null by default (the training of
before), a model's own search space replaces the default one, and a search or an imbalance setting that
cannot work is refused naming the key and the fix."""

from __future__ import annotations

import pytest
import yaml

from retrainer.core.models import ModelConfigError, load_model
from tests.conftest import PROJECT_DIR, copy_configuration


@pytest.fixture
def project(tmp_path):
    return copy_configuration(tmp_path, ("models", "expectations"))


def set_train(project, block: dict, name: str = "fraud-xgb") -> None:
    """Merge `block` into the `train` section of the model's own params.yaml."""
    path = project / "models" / name / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("train", {}).update(block)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_the_shipped_models_do_not_tune_nor_rebalance_by_default():
    for name in ("fraud-xgb", "ato-xgb", "raw-fraud-xgb"):
        train = load_model(PROJECT_DIR, name)["train"]
        assert train["tuning"]["enabled"] is False
        assert train["imbalance"] == {"scale_pos_weight": None, "negative_sample_rate": None}
        assert train["tuning"]["space"]  # a search space is there to switch on


def test_a_models_own_search_space_replaces_the_default_one_unless_it_says_inherit(project):
    space = {"max_depth": {"low": 2, "high": 4, "int": True}}
    set_train(project, {"tuning": {"enabled": True, "space": space}})
    assert load_model(project, "fraud-xgb")["train"]["tuning"]["space"] == space
    set_train(project, {"tuning": {"enabled": True, "space": {"inherit": True, **space}}})
    merged = load_model(project, "fraud-xgb")["train"]["tuning"]["space"]
    assert merged["max_depth"] == {"low": 2, "high": 4, "int": True} and "learning_rate" in merged


@pytest.mark.parametrize(
    ("train", "expected"),
    [
        (
            {"tuning": {"enabled": True, "space": {"subsample": {"low": 0.5, "high": 1.5}}}},
            "tuning.space.subsample: 1.5 is out of subsample's range",
        ),
        (
            {"tuning": {"enabled": True, "space": {"max_depth": {"low": 2, "high": 8}}}},
            "space.max_depth: XGBoost takes whole numbers here: add `int: true`",
        ),
        (
            {"tuning": {"enabled": True, "space": {"learning_rate": {"low": 0, "high": 0.3, "log": True}}}},
            "log: true needs low above 0",
        ),
        ({"tuning": {"enabled": True, "space": {"gamma": {"low": 1.0}}}}, "give low and high"),
        ({"tuning": {"enabled": True, "space": {"n_estimators": {"low": 1, "high": 9}}}}, "n_estimators"),
        (
            {
                "imbalance": {"scale_pos_weight": "auto"},
                "xgboost": {"n_estimators": 50, "scale_pos_weight": 3.0},
            },
            "scale_pos_weight is set in both train.xgboost and train.imbalance",
        ),
        ({"imbalance": {"negative_sample_rate": 1.5}}, "train.imbalance.negative_sample_rate"),
        ({"imbalance": {"scale_pos_weight": "balanced"}}, "train.imbalance.scale_pos_weight"),
        (
            {"tuning": {"enabled": True, "timeout_seconds": 20000}},
            "train.tuning.timeout_seconds (20000) must be below timeouts.subprocess_minutes (180 min)",
        ),
        (
            {"engine": "dask", "imbalance": {"negative_sample_rate": 0.1}},
            "negative_sample_rate is applied by the local engine only",
        ),
    ],
)
def test_a_search_or_imbalance_that_cannot_work_is_refused_naming_the_key(project, train, expected):
    set_train(project, train)
    with pytest.raises(ModelConfigError) as caught:
        load_model(project, "fraud-xgb")
    assert expected in str(caught.value)
    assert "models/fraud-xgb/params.yaml" in str(caught.value)


def test_a_search_needs_a_validation_split_never_the_holdout(project):
    set_train(project, {"tuning": {"enabled": True}, "xgboost": {"n_estimators": 50}})
    path = project / "models" / "fraud-xgb" / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["split"] = {"valid_fraction": 0.0}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ModelConfigError, match="train.tuning needs a validation split"):
        load_model(project, "fraud-xgb")
