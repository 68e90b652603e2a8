"""A model's estimator block is what the model wrote: `train.xgboost` replaces the defaults' block unless it
says `inherit: true`; base_score, the objective and the early-stopping metric reach the booster; early
stopping that could never stop is refused, and the fit says how many trees it kept and why; `models show`
marks every value that came from models/defaults.yaml."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from retrainer.cli import main
from retrainer.core.models import ModelConfigError, load_model
from retrainer.training.models import booster_params
from tests.conftest import PROJECT_DIR, copy_configuration


@pytest.fixture
def project(tmp_path):
    return copy_configuration(tmp_path, ("models", "expectations"))


def set_xgboost(project, block: dict, name: str = "fraud-xgb") -> None:
    path = project / "models" / name / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("train", {})["xgboost"] = block
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_models_xgboost_block_replaces_the_platforms_unless_it_says_inherit(project):
    """A model meaning XGBoost's own defaults gets them: no min_child_weight 3 or subsample 0.85 creeps in."""
    set_xgboost(project, {"n_estimators": 200, "max_depth": 6})
    block = load_model(project, "fraud-xgb")["train"]["xgboost"]
    assert block == {"n_estimators": 200, "max_depth": 6}
    booster = booster_params(block, seed=1)["params"]
    assert "min_child_weight" not in booster and "subsample" not in booster  # XGBoost's own: 1 and 1
    assert booster["objective"] == "binary:logistic"  # still a binary classifier

    set_xgboost(project, {"inherit": True, "n_estimators": 200, "max_depth": 6})
    block = load_model(project, "fraud-xgb")["train"]["xgboost"]
    assert block["min_child_weight"] == 3 and block["subsample"] == 0.85 and block["max_depth"] == 6
    assert "inherit" not in block
    # a model that writes no block keeps the platform's, as before
    assert load_model(project, "raw-fraud-xgb")["train"]["xgboost"]["min_child_weight"] == 3


def test_inherit_that_is_not_true_or_false_is_refused_naming_the_file_and_key(project):
    set_xgboost(project, {"inherit": "yes please", "n_estimators": 200})
    with pytest.raises(ModelConfigError) as caught:
        load_model(project, "fraud-xgb")
    assert "models/fraud-xgb/params.yaml: train.xgboost.inherit: expected true" in str(caught.value)


def test_a_replacing_block_without_n_estimators_is_refused_and_the_message_names_inherit(project):
    set_xgboost(project, {"max_depth": 6})
    with pytest.raises(ModelConfigError) as caught:
        load_model(project, "fraud-xgb")
    message = str(caught.value)
    assert "models/fraud-xgb/params.yaml: train.xgboost.n_estimators: missing" in message
    assert "inherit: true" in message


def test_early_stopping_that_could_never_stop_is_refused_naming_both_keys(project):
    """100 rounds of patience with 100 trees never stops, yet the booster was cut at its best round (18)."""
    set_xgboost(project, {"inherit": True, "n_estimators": 100, "early_stopping_rounds": 100})
    with pytest.raises(ModelConfigError) as caught:
        load_model(project, "fraud-xgb")
    message = str(caught.value)
    assert "models/fraud-xgb/params.yaml: train.xgboost" in message
    assert "early_stopping_rounds (100) must be below n_estimators (100)" in message
    assert "early_stopping_rounds: null" in message
    set_xgboost(project, {"inherit": True, "n_estimators": 100, "early_stopping_rounds": None})
    assert load_model(project, "fraud-xgb")["train"]["xgboost"]["early_stopping_rounds"] is None


def _rows(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + rng.normal(scale=2.0, size=n) > 1.5).astype(np.int32)  # a weak signal: stops early
    return x, y


def test_base_score_objective_and_early_stopping_metric_reach_the_booster(project):
    set_xgboost(
        project,
        {
            "n_estimators": 20,
            "early_stopping_rounds": 5,
            "objective": "reg:logistic",
            "eval_metric": "logloss",
            "base_score": 0.5,
        },
    )
    from retrainer.training.models import fit_xgboost

    block = load_model(project, "fraud-xgb")["train"]["xgboost"]
    (x, y), (xv, yv) = _rows(1), _rows(2)
    booster, trees = fit_xgboost(x, y, xv, yv, ["a", "b", "c", "d"], block, seed=3)
    learner = json.loads(booster.save_config())["learner"]
    assert learner["objective"]["name"] == "reg:logistic"
    assert [m["name"] for m in learner["metrics"]] == ["logloss"]
    assert float(learner["learner_model_param"]["base_score"].strip("[]")) == pytest.approx(0.5)
    assert trees["metric"] == "logloss"
    for bad, key in (({"objective": "rank:pairwise"}, "objective"), ({"base_score": 1.5}, "base_score")):
        set_xgboost(project, {"n_estimators": 20, **bad})
        with pytest.raises(ModelConfigError, match=f"train.xgboost.{key}"):
            load_model(project, "fraud-xgb")


def test_the_fit_says_how_many_trees_it_kept_and_why():
    from retrainer.training.models import fit_xgboost

    (x, y), (xv, yv) = _rows(1), _rows(2)
    names = ["a", "b", "c", "d"]
    block = {"n_estimators": 300, "early_stopping_rounds": 20, "eval_metric": "aucpr", "learning_rate": 0.3}
    booster, trees = fit_xgboost(x, y, xv, yv, names, block, seed=3)
    print("early stopping:", trees)
    assert booster.num_boosted_rounds() == trees["trees"] == trees["best_round"]  # what is saved is said
    assert trees["trees"] < 300 and f"kept {trees['trees']} of 300 trees" in trees["why"]
    assert trees["rounds_trained"] == trees["best_round"] + 20 and "stopped at round" in trees["why"]

    booster, trees = fit_xgboost(x, y, xv, yv, names, {**block, "early_stopping_rounds": None}, seed=3)
    print("no early stopping:", trees)
    assert booster.num_boosted_rounds() == trees["trees"] == 300
    assert trees["why"] == "no early stopping: all 300 of 300 rounds kept"


def test_models_show_marks_the_values_that_came_from_the_defaults(project, monkeypatch, capsys):
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(project / "var"))
    monkeypatch.delenv("RETRAINER_MODEL", raising=False)
    assert main(["models", "show", "--model", "ato-xgb"]) == 0
    shown = capsys.readouterr().out
    assert yaml.safe_load(shown) == load_model(project, "ato-xgb")  # still the params, as YAML
    lines: dict[str, str] = {}  # each key's first line: train.xgboost's (train.tuning.space names some too)
    for line in shown.splitlines():
        if not line.startswith("#"):
            lines.setdefault(line.split(":")[0].strip(), line)
    assert lines["max_depth"].endswith("max_depth: 4")  # ato-xgb's own value, unmarked
    assert lines["min_child_weight"].endswith("min_child_weight: 3  # (default)")

    set_xgboost(project, {"n_estimators": 200}, name="ato-xgb")
    assert main(["models", "show", "--model", "ato-xgb"]) == 0
    shown = capsys.readouterr().out
    assert "n_estimators: 200\n" in shown and "min_child_weight" not in shown.split("# replaces")[0]
    assert "XGBoost's own default for:" in shown and "min_child_weight" in shown.split("# replaces")[1]


def test_the_shipped_models_keep_their_estimator_values():
    """ato-xgb names two keys of its block and inherits the rest, as it did before the block was replaced."""
    block = load_model(PROJECT_DIR, "ato-xgb")["train"]["xgboost"]
    assert (block["n_estimators"], block["max_depth"], block["learning_rate"]) == (300, 4, 0.06)
