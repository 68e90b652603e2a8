"""The columns an expectation suite (GX 1.x JSON, as a dict) names, and those whose values it holds: pure
Python, for the suite checks of `core.models` and `core.feature_suite` and for `retrainer suite scaffold`.
"""

from __future__ import annotations

from typing import Any

# Expectations that hold what a column's values may be: its type, its nulls, its range or its set of values.
# A column named only in the table's column set or list, or by `expect_column_to_exist`, may hold anything.
VALUE_EXPECTATIONS = frozenset(
    {
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_min_to_be_between",
        "expect_column_max_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_distinct_values_to_equal_set",
    }
)


def mentioned_columns(suite: dict[str, Any]) -> set[str]:
    """Every column an expectation suite (GX 1.x JSON) names anywhere, its column set and list included."""
    columns = set()
    for expectation in suite.get("expectations", []):
        kwargs = expectation.get("kwargs", {})
        columns |= {kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)}
        columns |= set(kwargs.get("column_list") or []) | set(kwargs.get("column_set") or [])
    return columns


def suite_columns(suite: dict[str, Any]) -> set[str]:
    """Every column whose values an expectation suite (GX 1.x JSON) holds: the column of an expectation about
    its type, nulls, range or value set (`VALUE_EXPECTATIONS`). What `retrainer suite scaffold` completes."""
    return {
        expectation["kwargs"]["column"]
        for expectation in suite.get("expectations", [])
        if expectation.get("type") in VALUE_EXPECTATIONS
        and isinstance(expectation.get("kwargs", {}).get("column"), str)
    }
