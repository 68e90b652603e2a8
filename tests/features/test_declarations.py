"""Derived features are declared in a model's params (`features.derived`), checked before any work like
every other key: a mistake is named with its file, key and fix; each declaration names its output columns
deterministically, and the columns it reads are checked against the model's suite."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest
import yaml

from retrainer.core.models import (
    ModelConfigError,
    features_suite_file,
    load_model,
    load_models,
    named_columns,
)
from retrainer.features import definitions_hash, derived_feature_names, history_needed
from tests.conftest import PROJECT_DIR

FRAUD = "models/fraud-xgb/params.yaml"
TYPES = ["int64", "int8", "float64"]
CUSTOMER_WINDOWS = {
    "entity": "customer_id",
    "value": "amount",
    "aggregations": ["count", "mean", "ratio_to_mean"],
    "windows": ["1h", "30d"],
}


@pytest.fixture
def project(tmp_path):
    """A copy of the project's configuration (models/ and expectations/) to declare features in."""
    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def declare(project, derived: dict, model: dict | None = None) -> None:
    """Give the fraud model these derived features (and these model keys, None deleting one)."""
    path = project / FRAUD
    params = yaml.safe_load(path.read_text())
    params["features"]["derived"] = derived
    for key, value in (model or {}).items():
        if value is None:
            params["model"].pop(key, None)
        else:
            params["model"][key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:  # the features' contract, as `retrainer suite scaffold` would write it: each column's type held
        merged = load_model(project, "fraud-xgb", check_suite=False)
    except ModelConfigError:
        return  # a declaration the schema refuses: no contract to write
    if contract := features_suite_file(project, merged):
        kind = "expect_column_values_to_be_in_type_list"
        typed = [
            {"type": kind, "kwargs": {"column": name, "type_list": TYPES}}
            for name in derived_feature_names(merged)
        ]
        contract.write_text(json.dumps({"name": contract.stem, "expectations": typed}))


def problems(project) -> str:
    with pytest.raises(ModelConfigError) as raised:
        load_model(project, "fraud-xgb")
    return str(raised.value)


def test_the_shipped_models_that_declare_no_derived_feature_load_unchanged():
    models = load_models(PROJECT_DIR)
    for name in ("fraud-xgb", "ato-xgb"):
        assert derived_feature_names(models[name]) == [], name
        assert history_needed(models[name]) == timedelta(0)
        assert not any(key.startswith("features.derived") for key in named_columns(models[name]))
    assert definitions_hash(models["fraud-xgb"]) == definitions_hash(models["ato-xgb"])
    raw = models["raw-fraud-xgb"]  # the shipped model on raw events declares its behaviour features
    assert "terminal_id__label_rate_30d" in derived_feature_names(raw)
    assert history_needed(raw) == timedelta(days=30)
    assert definitions_hash(raw) != definitions_hash(models["fraud-xgb"])


def test_a_declaration_loads_and_names_its_columns(project):
    declare(
        project,
        {
            "windows": [CUSTOMER_WINDOWS, {"entity": ["customer_id", "merchant_id"], "windows": ["24h"],
                                           "aggregations": ["count"]}],
            "labels": [{"entity": "merchant_id", "windows": ["7d"], "offset": "7d"}],
            "calendar": ["hour", "weekend"],
            "since_previous": [{"entity": "customer_id"}],
        },
    )  # fmt: skip
    params = load_model(project, "fraud-xgb")
    assert derived_feature_names(params) == [
        "customer_id__amount_count_1h",
        "customer_id__amount_mean_1h",
        "customer_id__amount_ratio_to_mean_1h",
        "customer_id__amount_count_30d",
        "customer_id__amount_mean_30d",
        "customer_id__amount_ratio_to_mean_30d",
        "customer_id_and_merchant_id__count_24h",
        "merchant_id__label_rate_7d_offset_7d",
        "event_hour",
        "event_weekend",
        "customer_id__seconds_since_previous",
    ]
    assert history_needed(params) == timedelta(days=30)
    assert named_columns(params)["features.derived.windows.1"] == ["customer_id", "merchant_id"]


def test_an_unknown_aggregation_is_named_with_the_known_ones(project):
    declare(project, {"windows": [CUSTOMER_WINDOWS | {"aggregations": ["count", "median"]}]})
    found = problems(project)
    assert f"{FRAUD}: features.derived.windows.0.aggregations.1:" in found
    assert "'median'" in found and "'ratio_to_mean'" in found


def test_a_window_written_as_words_is_refused_with_the_accepted_form(project):
    declare(project, {"windows": [CUSTOMER_WINDOWS | {"windows": ["24h", "7 days"]}]})
    found = problems(project)
    assert f"{FRAUD}: features.derived.windows.0.windows.1: '7 days' is not a window length" in found
    assert "7d" in found


def test_an_aggregation_of_values_on_a_row_count_is_refused(project):
    declare(
        project,
        {"windows": [{"entity": "customer_id", "aggregations": ["count", "mean"], "windows": ["1h"]}]},
    )
    found = problems(project)
    assert f"{FRAUD}: features.derived.windows.0: mean needs a value column" in found


def test_a_column_the_suite_does_not_know_is_named_with_its_declaration(project):
    declare(project, {"windows": [CUSTOMER_WINDOWS | {"entity": "terminal_id"}]})
    found = problems(project)
    assert f"{FRAUD}: features.derived.windows.0: column 'terminal_id' is not in the suite" in found


def test_a_label_aggregate_on_a_model_without_label_arrival_is_refused(project):
    declare(
        project,
        {"labels": [{"entity": "merchant_id", "windows": ["7d"]}]},
        model={"label_time": None},
    )
    found = problems(project)
    assert f"{FRAUD}: model: give exactly one of label_time" in found and "label_delay_days" in found


def test_a_feature_declared_twice_is_refused(project):
    declare(project, {"windows": [CUSTOMER_WINDOWS, CUSTOMER_WINDOWS | {"windows": ["30d"]}]})
    found = problems(project)
    assert "'customer_id__amount_count_30d' is declared twice" in found
    assert "features.derived.windows.0 and features.derived.windows.1" in found


def test_a_changed_definition_changes_the_hash_and_an_engine_setting_does_not(project):
    declare(project, {"windows": [CUSTOMER_WINDOWS]})
    first = load_model(project, "fraud-xgb")
    declare(project, {"windows": [CUSTOMER_WINDOWS], "threads": 1})
    assert definitions_hash(load_model(project, "fraud-xgb")) == definitions_hash(first)
    declare(project, {"windows": [CUSTOMER_WINDOWS | {"windows": ["1h", "7d"]}]})
    assert definitions_hash(load_model(project, "fraud-xgb")) != definitions_hash(first)


def test_a_run_of_a_model_declaring_derived_features_loads_its_declarations(project, monkeypatch):
    """The declarations reach the run: its context holds them, for training and scoring to compute."""
    from retrainer.tasks.context import Context

    declare(project, {"calendar": ["hour"]})
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    assert derived_feature_names(Context.load(None, "fraud-xgb").params) == ["event_hour"]
