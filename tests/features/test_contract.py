"""Derived features have a contract of their own (expectations/<suite>.features.json): `retrainer suite
scaffold` writes it from a clean week's features (and, after a new declaration, only the new columns'
expectations), `retrainer models check` names a model whose derived features have none, and the featurize
stage refuses features that break it (a missing value where none is allowed, a rate above 1) with
FeatureContractBroken, its verdict kept in features.json."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml

from retrainer.cli import main
from retrainer.core import artifacts
from retrainer.core.feature_declarations import derived_features
from retrainer.core.models import features_suite_file, load_model, suite_columns
from retrainer.data.extract import write_window
from retrainer.features import engine
from retrainer.features.events import stage_history
from retrainer.features.stage import FeatureContractBroken, featurize
from retrainer.storage import open_storage, sha256_file
from retrainer.training.train import _raise_broken_contract
from tests.conftest import PROJECT_DIR

MODEL = "raw-fraud-xgb"
PARAMS = f"models/{MODEL}/params.yaml"
SUITE = "expectations/raw-transactions.features.json"
AS_OF = "2026-11-16"
WEEKDAY = "event_weekday"  # a calendar feature the shipped model does not declare


@pytest.fixture
def project(tmp_path, var_dir, monkeypatch):
    """A copy of the project's configuration, and 40 days of the raw model's source up to AS_OF."""
    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / name)
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(tmp_path))
    # alerts go somewhere: `models check` refuses a model whose alert connection Airflow cannot resolve
    monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", "https://hooks.example.com")
    generated = ["generate", "--model", MODEL, "--end", "2026-11-15", "--days", "40", "--rows-per-day", "150"]
    assert main(generated) == 0
    return tmp_path


def scaffold() -> int:
    return main(["suite", "scaffold", "--model", MODEL, "--as-of", AS_OF])


def expectations(project) -> list[dict]:
    return json.loads((project / SUITE).read_text())["expectations"]


def of(found: list[dict], column: str, kind: str, severity: str = "critical") -> list[dict]:
    return [
        e
        for e in found
        if e["kwargs"].get("column") == column and e["type"] == kind and e["severity"] == severity
    ]


def test_models_check_names_a_missing_features_suite_and_scaffold_writes_it(project, capsys):
    (project / SUITE).unlink()
    capsys.readouterr()
    assert main(["models", "check"]) == 1
    said = capsys.readouterr().out
    assert f"{MODEL}: BROKEN" in said and SUITE in said
    assert f"retrainer suite scaffold --model {MODEL}" in said

    assert scaffold() == 0
    params = load_model(project, MODEL)  # the contract is complete: the model loads with its suite checks
    assert features_suite_file(project, params) == project / SUITE
    found = expectations(project)
    assert suite_columns({"expectations": found}) == {f.name for f in derived_features(params)}
    for feature in derived_features(params):
        not_null = of(found, feature.name, "expect_column_values_to_not_be_null")
        assert bool(not_null) == (not feature.nullable), feature.name
        [typed] = of(found, feature.name, "expect_column_values_to_be_in_type_list")
        assert ("int64" in typed["kwargs"]["type_list"]) == feature.integer, feature.name
        declared = of(found, feature.name, "expect_column_values_to_be_between")
        if feature.low is not None or feature.high is not None:
            [bounds] = declared
            kwargs = bounds["kwargs"]
            assert (kwargs["min_value"], kwargs["max_value"]) == (feature.low, feature.high)
        else:
            assert declared == []
        assert of(found, feature.name, "expect_column_mean_to_be_between", "warning"), feature.name
    rate = next(f for f in derived_features(params) if f.aggregation == "rate")
    [bounds] = of(found, rate.name, "expect_column_values_to_be_between")
    assert (bounds["kwargs"]["min_value"], bounds["kwargs"]["max_value"]) == (0, 1)
    assert main(["models", "check"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    [listed] = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"{MODEL}:")]
    assert SUITE in listed


def test_a_new_declaration_gets_its_expectations_and_nothing_else_changes(project, capsys):
    before = (project / SUITE).read_text()
    params = yaml.safe_load((project / PARAMS).read_text())
    params["features"]["derived"]["calendar"].append("weekday")
    (project / PARAMS).write_text(yaml.safe_dump(params, sort_keys=False))
    capsys.readouterr()
    assert main(["models", "check"]) == 1  # declared, but its values are held by no expectation
    said = capsys.readouterr().out
    assert f"derived feature {WEEKDAY!r} has no expectation" in said and "suite scaffold" in said

    assert scaffold() == 0
    kept = json.loads(before)["expectations"]
    after = expectations(project)
    assert after[: len(kept)] == kept  # every earlier expectation as it was, in its place
    assert {e["kwargs"]["column"] for e in after[len(kept) :]} == {WEEKDAY}
    [bounds] = of(after, WEEKDAY, "expect_column_values_to_be_between")
    assert (bounds["kwargs"]["min_value"], bounds["kwargs"]["max_value"]) == (0, 6)
    assert main(["models", "check"]) == 0


def test_an_expectation_about_a_column_no_longer_declared_is_named(project, capsys):
    params = yaml.safe_load((project / PARAMS).read_text())
    params["features"]["derived"]["calendar"] = ["hour"]  # `night` no longer declared
    (project / PARAMS).write_text(yaml.safe_dump(params, sort_keys=False))
    capsys.readouterr()
    assert main(["models", "check"]) == 1
    assert f"{SUITE}: column 'event_night' is no derived feature" in capsys.readouterr().out


def featurized(project, var_dir, workspace) -> tuple[dict | Exception, dict]:
    """The featurize stage over the last two weeks before AS_OF, judged by the project's features suite:
    its report, or the error it raised, and the features.json it wrote."""
    params = load_model(project, MODEL)
    source = open_storage((var_dir / "source/raw").as_uri())
    start, end = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)
    (workspace / artifacts.BATCHES_DIR).mkdir(parents=True)
    write_window(source, start, end, workspace / artifacts.WINDOW)
    stage_history(source, params, start, workspace / artifacts.HISTORY_DIR)
    out = workspace / artifacts.FEATURES_DIR
    try:
        result = featurize(
            workspace / artifacts.BATCHES_DIR,
            workspace / artifacts.HISTORY_DIR,
            out,
            params,
            start,
            end,
            suite_path=features_suite_file(project, params),
        )
    except FeatureContractBroken as error:
        result = error
    return result, json.loads((workspace / artifacts.FEATURES_REPORT).read_text())


def test_a_clean_window_passes_the_shipped_features_contract(project, var_dir, tmp_path):
    result, report = featurized(project, var_dir, tmp_path / "workspace")
    assert not isinstance(result, Exception), str(result)
    contract = report["contract"]
    assert contract["success"] is True and contract["failures"] == []
    assert contract["suite"] == "raw-transactions.features"
    assert contract["features_sha256"] == sha256_file(tmp_path / "workspace" / artifacts.FEATURES)


@pytest.mark.parametrize(
    ("column", "value", "expectation"),
    [
        ("customer_id__amount_mean_7d", float("nan"), "expect_column_values_to_not_be_null"),
        ("terminal_id__label_rate_30d", 1.5, "expect_column_values_to_be_between"),
    ],
)
def test_features_that_break_their_contract_stop_the_stage_with_each_failure_named(
    project, var_dir, tmp_path, monkeypatch, column, value, expectation
):
    """An engine that left a mean missing, or computed a rate above 1 (as a bug or a bad
    declaration would): the stage refuses the features before anything trains on them."""
    real = engine.write_features

    def broken(events, params, target, **kwargs):
        rows = real(events, params, target, **kwargs)
        frame = pd.read_parquet(target)
        frame.loc[frame.index[:3], column] = value
        frame.to_parquet(target, index=False)
        return rows

    monkeypatch.setattr(engine, "write_features", broken)
    result, report = featurized(project, var_dir, tmp_path / "workspace")
    assert isinstance(result, FeatureContractBroken)
    assert [(f.expectation, f.column) for f in result.failures] == [(expectation, column)]
    message = str(result)
    assert expectation in message and repr(column) in message and "raw-transactions.features" in message
    assert "3 unexpected rows" in message  # the observed value, as validation names it
    contract = report["contract"]
    assert contract["success"] is False
    assert [(f["expectation"], f["column"]) for f in contract["failures"]] == [(expectation, column)]
    assert contract["features_sha256"] == sha256_file(tmp_path / "workspace" / artifacts.FEATURES)
    # The stage runs inside `dvc repro`: the train task reads this verdict back and raises the same error
    # (a Rejected verdict, not a DVC failure to retry)
    with pytest.raises(FeatureContractBroken) as raised:
        _raise_broken_contract(tmp_path / "workspace")
    read_back = raised.value.failures
    assert [(f.expectation, f.column, f.observed, f.unexpected_count) for f in read_back] == [
        (f.expectation, f.column, f.observed, f.unexpected_count) for f in result.failures
    ]
    assert "critical expectation(s) of the features suite 'raw-transactions.features'" in str(raised.value)
