"""`retrainer models check`: one line per model, a broken model named with its file, key and fix, the others
ok; and the fix it names for a feature whose values the suite does not hold (`suite scaffold`) works."""

from __future__ import annotations

import shutil

import pytest
import yaml

from retrainer.cli import main
from tests.conftest import PROJECT_DIR
from tests.core.test_models import drop_expectations


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the project's models and suites with a third model, pointed at as a user would."""
    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / name)
    shutil.copytree(tmp_path / "models/ato-xgb", tmp_path / "models/ato-eu")
    path = tmp_path / "models/ato-eu/params.yaml"
    path.write_text(path.read_text().replace("name: ato-xgb", "name: ato-eu"))
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("RETRAINER_MODEL", raising=False)
    # alerts go somewhere: `models check` refuses a model whose alert connection Airflow cannot resolve
    monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", "https://hooks.example.com")
    return tmp_path


def test_models_check_prints_one_line_per_model_and_fails_when_one_is_broken(project, capsys):
    assert main(["models", "check"]) == 0
    assert [line.split(";")[0] for line in capsys.readouterr().out.splitlines()] == [
        "ato-eu: ok",
        "ato-xgb: ok",
        "fraud-xgb: ok",
        "raw-fraud-xgb: ok",
    ]

    path = project / "models/ato-xgb/params.yaml"
    params = yaml.safe_load(path.read_text())
    params["train"]["xgboost"]["max_dept"] = 3
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    assert main(["models", "check"]) == 1
    ato_eu, ato, fraud, raw = capsys.readouterr().out.splitlines()
    assert [line.split(";")[0] for line in (ato_eu, fraud, raw)] == [
        "ato-eu: ok",
        "fraud-xgb: ok",
        "raw-fraud-xgb: ok",
    ]
    assert ato == (
        "ato-xgb: BROKEN, no DAGs until fixed: models/ato-xgb/params.yaml: train.xgboost.max_dept: "
        "unknown key (did you mean max_depth?)"
    )
    assert main(["models", "list"]) == 1  # the healthy models listed, the broken one named
    listed = capsys.readouterr().out.splitlines()
    assert listed[1] == ato and listed[0].startswith("ato-eu: DAGs retrain_ato-eu")


def test_the_fix_named_for_a_feature_the_suite_only_lists_is_the_one_that_works(project, capsys):
    """A feature in the column set whose value expectations are gone: check names it and the scaffold
    command; the scaffold adds its expectations (and nothing for the others); then check says ok."""
    drop_expectations(project, "amount_avg_30d")
    assert main(["models", "check"]) == 1
    [fraud] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("fraud-xgb:")]
    assert "'amount_avg_30d'" in fraud and "expectations/transactions.json" in fraud
    assert "`retrainer suite scaffold --model fraud-xgb`" in fraud

    assert main(["generate", "--model", "fraud-xgb", "--end", "2026-11-15", "--days", "7"]) == 0
    assert main(["suite", "scaffold", "--model", "fraud-xgb", "--as-of", "2026-11-16"]) == 0
    assert '"columns_added": [\n    "amount_avg_30d"\n  ]' in capsys.readouterr().out
    assert main(["models", "check"]) == 0
