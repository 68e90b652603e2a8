"""The rule baseline and the slices compute their expressions in the config's grammar (core.expressions):
an expression that would run code is refused even where no config check ran before, and a missing column
is named with the key that reads it."""

from __future__ import annotations

import pandas as pd
import pytest

from retrainer.core.errors import ConfigError
from retrainer.evaluation.metrics import rule_scores
from retrainer.evaluation.slices import slice_masks

FRAME = pd.DataFrame({"amount": [10.0, 1000.0], "account_age_days": [3000, 3]})


def test_a_rule_that_would_write_a_file_is_refused_and_writes_nothing(tmp_path):
    target = tmp_path / "written.csv"
    with pytest.raises(ConfigError, match=r"evaluate.rule: '.to_csv' at column 7"):
        rule_scores(FRAME, f"amount.to_csv('{target}')")
    assert not target.exists()


def test_a_slice_that_would_write_a_file_is_refused_and_writes_nothing(tmp_path):
    target = tmp_path / "written.csv"
    with pytest.raises(ConfigError, match=r"slices.expressions.new_account: '.to_csv'"):
        slice_masks(FRAME, {"expressions": {"new_account": f"account_age_days.to_csv('{target}')"}})
    assert not target.exists()


def test_a_missing_column_is_named_with_the_key_that_reads_it():
    with pytest.raises(ConfigError, match=r"evaluate.rule: .*'no_such_column'"):
        rule_scores(FRAME, "amount / no_such_column")
    with pytest.raises(ConfigError, match=r"slices.expressions.new_account: .*'age'"):
        slice_masks(FRAME, {"expressions": {"new_account": "age < 30"}})


def test_the_rule_and_a_slice_compute_row_by_row():
    assert rule_scores(FRAME, "log1p(amount) - 0.5 * log1p(account_age_days)").dtype == float
    masks = slice_masks(FRAME, {"expressions": {"new_account": "account_age_days < 30 & amount > 100"}})
    assert masks["new_account"].tolist() == [False, True]
