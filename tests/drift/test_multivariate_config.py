"""The joint test's settings live in monitoring.drift of a model's params: checked by the schema (a typo or
a floor below chance is named with its file and key) and reaching DriftConfig."""

from __future__ import annotations

import pytest
import yaml

from retrainer.core.models import ModelConfigError, load_model
from retrainer.drift import DriftConfig
from tests.conftest import PROJECT_DIR, copy_configuration

FRAUD = "models/fraud-xgb/params.yaml"


@pytest.fixture
def project(tmp_path):
    return copy_configuration(tmp_path)


def _set(project, **drift) -> None:
    path = project / "models" / "fraud-xgb" / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("monitoring", {}).setdefault("drift", {}).update(drift)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_the_shipped_settings_reach_the_drift_config():
    config = DriftConfig.from_dict(load_model(PROJECT_DIR, "fraud-xgb")["monitoring"]["drift"])
    assert config.multivariate_enabled is True and config.multivariate_min_auc == 0.55


def test_a_model_sets_its_own_floor(project):
    _set(project, multivariate_min_auc=0.6)
    config = DriftConfig.from_dict(load_model(project, "fraud-xgb")["monitoring"]["drift"])
    assert config.multivariate_min_auc == 0.6


def test_a_typod_multivariate_key_is_named(project):
    _set(project, multivariate_min_acu=0.6)
    with pytest.raises(ModelConfigError) as raised:
        load_model(project, "fraud-xgb")
    assert raised.value.problems == [
        f"{FRAUD}: monitoring.drift.multivariate_min_acu: unknown key (did you mean multivariate_min_auc?)"
    ]


def test_a_floor_below_chance_is_refused(project):
    _set(project, multivariate_min_auc=0.4)
    with pytest.raises(ModelConfigError) as raised:
        load_model(project, "fraud-xgb")
    assert raised.value.problems == [
        f"{FRAUD}: monitoring.drift.multivariate_min_auc: expected greater than or equal to 0.5, got 0.4"
    ]
