"""A model is a folder of configuration: its params over the shared defaults, checked against the schema and
its suite, every mistake named with its file, key and what was expected; checked when the DAG files are
parsed and again when a run starts, before any work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from retrainer.core.errors import Rejected
from retrainer.core.models import (
    ModelConfigError,
    UniqueKeyLoader,
    choose_model,
    load_model,
    load_models,
    model_names,
)
from tests.conftest import PROJECT_DIR, copy_configuration

FRAUD = "models/fraud-xgb/params.yaml"


@pytest.fixture
def project(tmp_path):
    """A copy of the project's configuration (models/, expectations/, dvc.yaml, dags/) to break."""
    return copy_configuration(tmp_path)


def edit(project, change, name="fraud-xgb") -> None:
    path = project / "models" / name / "params.yaml"
    params = yaml.safe_load(path.read_text())
    change(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def drop_expectations(project, column: str, kept: tuple[str, ...] = ()) -> dict:
    """Remove from the fraud suite every expectation about `column` but those of the `kept` types; the
    table's column set keeps naming it. Returns the suite written."""
    path = project / "expectations/transactions.json"
    suite = json.loads(path.read_text())
    suite["expectations"] = [
        e for e in suite["expectations"] if e["kwargs"].get("column") != column or e["type"] in kept
    ]
    path.write_text(json.dumps(suite))
    return suite


def problems(project, name="fraud-xgb") -> list[str]:
    with pytest.raises(ModelConfigError) as raised:
        load_model(project, name)
    assert isinstance(raised.value, Rejected)  # a verdict on the files: the task fails at once, no retry
    return raised.value.problems


def test_every_shipped_model_loads_with_the_defaults_merged_in():
    models = load_models(PROJECT_DIR)
    assert set(models) == {"fraud-xgb", "ato-xgb", "raw-fraud-xgb"} == set(model_names(PROJECT_DIR))
    fraud, ato = models["fraud-xgb"], models["ato-xgb"]
    assert fraud["model"]["event_time"] == "event_ts" and ato["model"]["event_time"] == "login_ts"
    assert ato["model"]["label_delay_days"] == 14 and ato["model"].get("label_time") is None
    # ato overrides two keys of train.xgboost; the rest come from the defaults
    assert ato["train"]["xgboost"]["max_depth"] == 4 and ato["train"]["xgboost"]["learning_rate"] == 0.06
    assert fraud["train"] == yaml.safe_load((PROJECT_DIR / "models/defaults.yaml").read_text())["train"]


def test_a_typod_slice_section_is_named_not_dropped_from_the_gates(project):
    edit(project, lambda p: p["slices"].update(expresions=p["slices"].pop("expressions")))
    assert problems(project) == [f"{FRAUD}: slices.expresions: unknown key (did you mean expressions?)"]


def test_a_typod_hyperparameter_is_named_not_trained_with_the_default(project):
    block = {"inherit": True, "max_dept": 3}  # merged over the defaults' block (core.params.merge_model)
    edit(project, lambda p: p.setdefault("train", {}).setdefault("xgboost", {}).update(block))
    assert problems(project) == [f"{FRAUD}: train.xgboost.max_dept: unknown key (did you mean max_depth?)"]


def test_a_typod_gate_is_named_before_training(project):
    edit(project, lambda p: p.setdefault("gates", {}).update(min_pr_acu=0.3))
    assert problems(project) == [f"{FRAUD}: gates.min_pr_acu: unknown key (did you mean min_pr_auc?)"]


def test_a_string_where_a_number_belongs_names_the_key(project):
    edit(project, lambda p: p.setdefault("gates", {}).update(min_pr_auc="0.3"))
    assert problems(project) == [f"{FRAUD}: gates.min_pr_auc: expected a valid number, got '0.3'"]


def test_a_value_out_of_range_names_the_bound(project):
    edit(project, lambda p: p.setdefault("split", {}).update(holdout_fraction=1.5))
    assert problems(project) == [f"{FRAUD}: split.holdout_fraction: expected less than 1, got 1.5"]


def test_a_missing_key_is_named_in_the_models_file(project):
    edit(project, lambda p: p["model"].pop("id_column"))
    assert problems(project) == [f"{FRAUD}: model.id_column: missing: this key is required"]


def test_a_mistake_in_the_defaults_names_the_defaults_file(project):
    path = project / "models/defaults.yaml"
    path.write_text(path.read_text().replace("max_volume_drop: 0.9", "max_volume_drop: lots"))
    assert "models/defaults.yaml: validation.max_volume_drop: expected a valid number, got 'lots'" in (
        problems(project)
    )


def test_label_arrival_is_a_column_or_a_fixed_delay_never_both_nor_neither(project):
    edit(project, lambda p: p["model"].update(label_delay_days=3))
    [both] = problems(project)
    edit(project, lambda p: [p["model"].pop(k) for k in ("label_delay_days", "label_time")])
    assert problems(project) == [both]
    assert both.startswith(f"{FRAUD}: model: give exactly one of label_time") and "label_delay_days" in both


def test_a_column_the_suite_lacks_is_refused(project):
    edit(project, lambda p: p["features"]["numeric"].append("amount_in_eur"))
    assert problems(project) == [
        f"{FRAUD}: features.numeric: column 'amount_in_eur' is not in the suite "
        "expectations/transactions.json (add its expectations: `retrainer suite scaffold --model fraud-xgb`)"
    ]


def _line_of(path, text: str, occurrence: int) -> int:
    """The 1-based line of the `occurrence`-th line of the file that starts with `text`."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(text)]
    return lines[occurrence]


def test_a_key_given_twice_is_refused_with_its_file_line_and_key(project):
    """yaml.safe_load keeps the last of two equal keys silently; the params file says which is in force."""
    path = project / FRAUD
    text = path.read_text()
    path.write_text(text.replace("  label: is_fraud\n", "  label: is_fraud\n  label: is_chargeback\n"))
    first, second = _line_of(path, "  label: ", 0), _line_of(path, "  label: ", 1)
    assert problems(project) == [
        f"{FRAUD}: line {second}: model.label: duplicate key (also at line {first}): YAML would keep only "
        "the last value, silently: delete one of them"
    ]


def test_a_key_given_twice_in_the_defaults_names_the_defaults_file_and_the_nested_key(project):
    path = project / "models/defaults.yaml"
    lines = path.read_text().splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if line.strip().startswith("max_depth:"))
    path.write_text("".join([*lines[: at + 1], lines[at], *lines[at + 1 :]]))
    [problem] = problems(project)
    assert problem.startswith(f"models/defaults.yaml: line {at + 2}: train.xgboost.max_depth: duplicate key")


def test_a_merge_key_overridden_by_the_mapping_is_not_a_duplicate():
    """`<<: *anchor` brings keys the mapping may override: YAML's way to share values, not a mistake."""
    text = "base: &base {depth: 4, rate: 0.1}\ntuned: {<<: *base, depth: 6}\n"
    assert yaml.load(text, Loader=UniqueKeyLoader) == yaml.safe_load(text)
    assert yaml.load(text, Loader=UniqueKeyLoader)["tuned"] == {"depth": 6, "rate": 0.1}


@pytest.mark.parametrize("kept", [(), ("expect_column_to_exist",)], ids=["column-set-only", "exists-only"])
def test_a_feature_whose_values_the_suite_does_not_hold_is_refused(project, kept):
    """A feature named in the table's column set (and maybe by expect_column_to_exist) but with no
    expectation of its type, nulls or range could be anything in training: refused, the fix named."""
    suite = drop_expectations(project, "amount_avg_30d", kept)
    assert any("amount_avg_30d" in e["kwargs"].get("column_set", []) for e in suite["expectations"])
    assert problems(project) == [
        f"{FRAUD}: features.numeric: feature 'amount_avg_30d' has no expectation about its values in the "
        "suite expectations/transactions.json, only about its place among the columns: add its type, nulls "
        "and range or value set (`retrainer suite scaffold --model fraud-xgb`, then review the diff)"
    ]


def test_a_time_zone_or_cron_the_scheduler_cannot_use_is_refused_at_check_time(project):
    """The DAG file parses with either (Airflow reads them later): the check names the key and a fix."""
    edit(project, lambda p: p.update(schedule={"timezone": "Europe/Parris"}), name="ato-xgb")
    assert problems(project, "ato-xgb") == [
        "models/ato-xgb/params.yaml: schedule.timezone: unknown time zone 'Europe/Parris' "
        "(did you mean Europe/Paris?)"
    ]
    edit(project, lambda p: p.update(schedule={"cron": "0 0 * * mon-funday"}), name="ato-xgb")
    [problem] = problems(project, "ato-xgb")
    assert problem.startswith("models/ato-xgb/params.yaml: schedule.cron: '0 0 * * mon-funday' is not a cron")


def test_the_model_is_named_after_its_folder(project):
    edit(project, lambda p: p["model"].update(name="fraud-v2"))
    assert problems(project) == [
        f"{FRAUD}: model.name: expected the folder's name 'fraud-xgb', found 'fraud-v2'"
    ]


def test_the_model_is_chosen_by_name_or_is_the_only_one(project):
    with pytest.raises(
        Exception, match=r"3 models are configured \(ato-xgb, fraud-xgb, raw-fraud-xgb.*--model"
    ):
        choose_model(project)
    with pytest.raises(Exception, match="no model 'fraud'"):
        choose_model(project, "fraud")
    shutil.rmtree(project / "models/ato-xgb")
    shutil.rmtree(project / "models/raw-fraud-xgb")
    assert choose_model(project) == "fraud-xgb"


def _typo(project) -> str:
    edit(project, lambda p: p.setdefault("gates", {}).update(min_pr_acu=0.3))
    return r"gates.min_pr_acu: unknown key \(did you mean min_pr_auc\?\)"


def _feature_only_in_the_column_set(project) -> str:
    drop_expectations(project, "amount_avg_30d")
    return r"feature 'amount_avg_30d' has no expectation about its values"


def _key_twice(project) -> str:
    path = project / FRAUD
    path.write_text(path.read_text().replace("  label: is_fraud\n", "  label: is_fraud\n  label: is_fraud\n"))
    return r"model.label: duplicate key"


@pytest.mark.parametrize("breakage", [_typo, _feature_only_in_the_column_set, _key_twice])
def test_a_run_checks_its_model_before_any_work(project, var_dir, monkeypatch, breakage):
    """The extract task of a broken model stops at once, naming the mistake, and writes nothing."""
    from retrainer.tasks import retrain

    named = breakage(project)
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    with pytest.raises(ModelConfigError, match=named):
        retrain.extract(retrain.Run("2026-11-09", "2026-11-16"), None, "fraud-xgb")
    assert not var_dir.exists()


def test_a_dag_param_of_the_wrong_type_is_named(var_dir):
    from retrainer.tasks.context import Context

    with pytest.raises(ModelConfigError, match=r"gates.champion_tolerance: expected a valid number, got 'x'"):
        Context.load({"champion_tolerance": "x"}, "fraud-xgb")


def test_a_broken_model_loses_its_dags_and_every_other_model_keeps_its_own(project, monkeypatch):
    """Three models, one with a misspelt key: Airflow's DagBag (what the DAG processor runs) holds the other
    two models' eight DAGs, none of the broken one's, and one import error naming its file, key and fix."""
    from airflow.dag_processing.dagbag import DagBag

    shutil.copytree(project / "models/ato-xgb", project / "models/ato-eu")  # a third model
    edit(project, lambda p: p["model"].update(name="ato-eu"), name="ato-eu")
    edit(project, lambda p: p["train"]["xgboost"].update(max_dept=3), name="ato-xgb")
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

    dagbag = DagBag(dag_folder=str(project / "dags"))

    kinds = ("retrain", "score", "monitor", "deploy")
    healthy = ("fraud-xgb", "ato-eu", "raw-fraud-xgb")
    assert set(dagbag.dags) == {f"{kind}_{model}" for kind in kinds for model in healthy}
    [(path, error)] = dagbag.import_errors.items()
    assert path.endswith("dags/model_config_errors.py")
    assert "model ato-xgb has a broken configuration and no DAGs until it is fixed" in error
    typo = "models/ato-xgb/params.yaml: train.xgboost.max_dept: unknown key (did you mean max_depth?)"
    assert f"ato-xgb: {typo}" in error
    assert "fraud-xgb:" not in error and "ato-eu:" not in error and "raw-fraud-xgb:" not in error


def test_early_stopping_without_a_validation_split_is_refused(project):
    edit(project, lambda p: p.update(split={"valid_fraction": 0.0}))
    assert problems(project) == [
        f"{FRAUD}: train.xgboost.early_stopping_rounds needs a validation split: set split.valid_fraction "
        "above 0, or early_stopping_rounds: null"
    ]
    edit(project, lambda p: p.update(train={"xgboost": {"inherit": True, "early_stopping_rounds": None}}))
    assert load_model(project, "fraud-xgb")["split"]["valid_fraction"] == 0.0


def test_a_model_whose_dag_is_hand_written_is_left_out_of_the_generated_ones(project):
    edit(project, lambda p: p.update(schedule={"generated": False}), name="ato-xgb")
    code = (
        "import runpy, sys; from airflow.sdk import DAG; "
        "print(sorted(k for k, v in runpy.run_path(sys.argv[1]).items() if isinstance(v, DAG)))"
    )
    done = _parse_dag_file(project, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['retrain_fraud-xgb', 'retrain_raw-fraud-xgb']"


def _parse_dag_file(project, code: str) -> subprocess.CompletedProcess:
    """Run `code` with the project's generated retraining DAG file as argv[1], in a fresh interpreter
    pointed at `project`, as Airflow's DAG processor would load it."""
    return subprocess.run(
        [sys.executable, "-c", code, str(project / "dags/retrain_models.py")],
        env={**os.environ, "RETRAINER_PROJECT_DIR": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("old", "new", "renamed", "read"),
    [
        (
            {"deployment": {"monitor": {"max_psi": 0.3}}},
            {"deployment": {"rollback": {"max_psi": 0.3}}},
            "deployment.monitor: renamed: this key is now deployment.rollback",
            (("deployment", "rollback", "max_psi"), 0.3),
        ),
        (
            {"monitoring": {"scoring": {"max_nan_scores": 1}}},
            {"scoring": {"health": {"max_nan_scores": 1}}},
            "monitoring.scoring: renamed: this key is now scoring.health",
            (("scoring", "health", "max_nan_scores"), 1),
        ),
        (
            {"timeouts": {"tasks": {"monitor": 30}}},
            {"timeouts": {"tasks": {"report_day": 30}}},
            "timeouts.tasks.monitor: renamed: this key is now timeouts.tasks.report_day",
            (("timeouts", "tasks", "report_day"), 30),
        ),
    ],
)
def test_a_renamed_key_is_refused_with_its_new_name(project, old, new, renamed, read):
    """A params.yaml written before "monitor" came to mean the drift DAG alone still sets the old key: it
    is refused (never silently ignored) naming the key that now holds its value, and that key is read."""
    edit(project, lambda p: p.update(old))
    assert problems(project) == [f"{FRAUD}: {renamed} (move its value there)"]
    edit(project, lambda p: (p.pop(next(iter(old))), p.update(new)))
    value = load_model(project, "fraud-xgb")
    keys, given = read
    for key in keys:
        value = value[key]
    assert value == given


def test_lookbacks_that_do_not_reach_past_the_label_maturity_horizon_are_refused(project):
    """Performance is judged only on rows older than data.label_maturity_days: a shorter lookback would
    never judge anything, silently."""
    edit(project, lambda p: p.update(monitoring={"labels_lookback_days": 25}))  # 21 + 7 needed
    [problem] = problems(project)
    assert problem.startswith(f"{FRAUD}: monitoring.labels_lookback_days (25) must reach past")
    assert "data.label_maturity_days (21)" in problem and "set it to at least 28" in problem
    edit(project, lambda p: p.update(monitoring={}, deployment={"rollback": {"lookback_days": 21}}))
    [problem] = problems(project)
    assert "deployment.rollback.lookback_days (21)" in problem and "at least 22" in problem
    edit(project, lambda p: p.update(deployment={}))
    assert load_model(project, "fraud-xgb")["monitoring"]["labels_lookback_days"] == 35
