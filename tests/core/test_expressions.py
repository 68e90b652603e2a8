"""Expressions in a model's config (evaluate.rule, slices.expressions) are data in a small grammar: anything
outside it is refused when the config is checked, naming the token and where it is, and nothing in them
runs; the shipped expressions give the values pandas' eval gave them."""

from __future__ import annotations

import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest
import yaml

from retrainer.core.expressions import ExpressionError, parse
from retrainer.core.models import ModelConfigError, load_model, load_models
from retrainer.features import compute_features
from retrainer.synthetic import generate_day
from retrainer.synthetic.logins import generate_logins_day
from retrainer.synthetic.raw import generate_raw_day
from tests.conftest import PROJECT_DIR


@pytest.fixture
def project(tmp_path):
    """A copy of the project's model configuration and suites, to break."""
    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / "project" / name)
    return tmp_path / "project"


def set_key(project, model: str, section: str, key: str, value) -> None:
    path = project / "models" / model / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params[section][key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def config_problems(project, model: str) -> list[str]:
    with pytest.raises(ModelConfigError) as raised:
        load_model(project, model)
    return raised.value.problems


def test_a_rule_that_writes_a_file_is_refused_at_config_check_and_writes_nothing(project, tmp_path):
    target = tmp_path / "written.csv"
    set_key(project, "fraud-xgb", "evaluate", "rule", f"amount.to_csv('{target}')")

    [problem] = config_problems(project, "fraud-xgb")

    assert problem.startswith("models/fraud-xgb/params.yaml: evaluate.rule: '.to_csv' at column 7")
    assert "reading an attribute is not allowed" in problem
    assert not target.exists()


@pytest.mark.parametrize(
    "expression, token",
    [
        ("account_age_days.__class__.__mro__", "'.__class__'"),
        ("__class__ < 30", "'__class__'"),
        ("account_age_days[0] < 30", "'[0]'"),
        ("__import__('os').system('true') == 0", "'__import__('"),
        ("import os", "is not an expression"),
        ("open('/etc/passwd') == 1", "'open('"),
        ("(lambda: 1)() == 1", "'lambda: 1'"),
        ("account_age_days < 'thirty'", "\"'thirty'\""),
    ],
)
def test_a_slice_expression_outside_the_grammar_is_refused_with_its_token(project, expression, token):
    set_key(project, "ato-xgb", "slices", "expressions", {"new_account": expression})

    [problem] = config_problems(project, "ato-xgb")

    assert problem.startswith("models/ato-xgb/params.yaml: slices.expressions.new_account: ")
    assert token in problem


def test_a_slice_expression_that_gives_numbers_is_refused_at_config_check(project):
    set_key(project, "ato-xgb", "slices", "expressions", {"new_account": "account_age_days * 2"})

    [problem] = config_problems(project, "ato-xgb")

    assert "slices.expressions.new_account" in problem and "not a true/false condition" in problem


@pytest.mark.parametrize(
    "expression, token, column",
    [
        ("amount.to_csv", "'.to_csv'", 7),
        ("amount > 1 & amount.real > 2", "'.real'", 20),
        ("log1p(amount)[0]", "'[0]'", 14),
        ("log1p(x=amount)", "'x='", 7),
        ("system(amount)", "'system('", 1),
        ("[a for a in amount]", "'[a for a in amount]'", 1),
        ("amount if amount > 1 else 0", "where(condition, a, b)", 1),
        ("amount ^ 1", "'^'", 8),
        ("amount in (1, 2)", "'in'", 8),
        ("(x := amount) > 1", "'x := amount'", 2),
        ("amount & 1", "'1'", 10),
    ],
)
def test_the_refusal_names_the_token_and_its_column(expression, token, column):
    with pytest.raises(ExpressionError) as raised:
        parse(expression)
    assert token in str(raised.value)
    assert f"at column {column} " in str(raised.value)


def _frames(missing: bool = True) -> dict[str, pd.DataFrame]:
    """A generated day of each shipped model's data; with `missing`, a few missing values in every numeric
    column (which makes them floats)."""
    raw = generate_raw_day(date(2026, 11, 2), seed=7)
    derived = compute_features(raw, load_model(PROJECT_DIR, "raw-fraud-xgb")).to_pandas()
    frames = {
        "fraud-xgb": generate_day(date(2026, 11, 2), seed=7),
        "ato-xgb": generate_logins_day(date(2026, 11, 2), seed=7, rows=3000, takeover_rate=0.02),
        "raw-fraud-xgb": raw.merge(derived, on="transaction_id"),  # the rule names derived features
    }
    for frame in frames.values() if missing else ():
        for column in frame.select_dtypes("number").columns:
            frame[column] = frame[column].astype(float)
            frame.loc[frame.index[::97], column] = np.nan
    return frames


@pytest.mark.parametrize("missing", [False, True])
def test_the_shipped_expressions_give_what_pandas_eval_gave(missing):
    frames = _frames(missing)
    for name, params in load_models(PROJECT_DIR).items():
        frame = frames[name]
        texts = [params["evaluate"]["rule"], *params["slices"]["expressions"].values()]
        assert len(texts) >= 2
        for text in texts:
            expected = np.asarray(frame.eval(text, engine="python"))
            np.testing.assert_array_equal(parse(text).evaluate(frame), expected, err_msg=f"{name}: {text}")


@pytest.mark.parametrize(
    "expression",
    [
        "amount > 100 & account_age_days < 30",  # & binds looser than comparisons, as in pandas
        "amount > 100 | account_age_days < 30 & new_device == 1",
        "50 <= amount < 200",
        "not (amount > 100) and ~(account_age_days >= 30) or amount != amount",
        "-amount ** 2 / 3 + amount // 7 - amount % 5",
        "sqrt(abs(amount - 100)) + exp(-account_age_days / 1000) * log(amount + 1)",
        "amount * 2 == amount + amount",
    ],
)
def test_operators_mean_what_they_meant_under_pandas(expression):
    frame = _frames()["fraud-xgb"]
    expected = np.asarray(frame.eval(expression, engine="python"))
    np.testing.assert_array_equal(parse(expression).evaluate(frame), expected)


def test_the_functions_work_row_by_row():
    frame = pd.DataFrame({"amount": [5.0, 50.0, 500.0], "age": [1, 100, 10]})
    amount, age = frame["amount"].to_numpy(), frame["age"].to_numpy()
    evaluate = {
        text: parse(text).evaluate(frame) for text in ("clip(amount, 10, 100)", "where(age < 30, amount, 0)")
    }
    np.testing.assert_array_equal(evaluate["clip(amount, 10, 100)"], np.clip(amount, 10, 100))
    np.testing.assert_array_equal(evaluate["where(age < 30, amount, 0)"], np.where(age < 30, amount, 0))
    np.testing.assert_array_equal(parse("minimum(amount, age)").evaluate(frame), np.minimum(amount, age))
    np.testing.assert_array_equal(parse("maximum(amount, age)").evaluate(frame), np.maximum(amount, age))
    assert parse("1").evaluate(frame).tolist() == [1, 1, 1]  # a constant gives one value per row
    assert parse("where(age < 30, amount, age)").columns == ("age", "amount")


def test_a_missing_column_is_named():
    with pytest.raises(ExpressionError, match="'no_such_column'"):
        parse("amount / no_such_column").evaluate(pd.DataFrame({"amount": [1.0]}))


def test_a_text_column_or_a_number_used_as_a_condition_is_named():
    frame = pd.DataFrame({"channel": ["pos", "ecom"], "new_device": [0, 1]})
    with pytest.raises(ExpressionError, match="'channel'"):
        parse("channel + 1").evaluate(frame)
    with pytest.raises(ExpressionError, match="'new_device'.*new_device == 1"):
        parse("~new_device").evaluate(frame)
