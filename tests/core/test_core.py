"""The clock's run keys and windows, and params overridden by the DAG's Params."""

from datetime import UTC, datetime

import pytest

from retrainer.core.clock import as_utc, run_key, stamp, window_bounds
from retrainer.core.errors import ConfigError
from retrainer.core.params import DAG_PARAMS, with_dag_params


def test_a_run_key_names_the_logical_date_in_utc_whatever_its_zone():
    assert run_key("2026-11-16T03:00:00+02:00") == "2026-11-16T010000Z"
    assert run_key(datetime(2026, 11, 16)) == "2026-11-16T000000Z"  # naive is taken as UTC


def test_the_window_is_half_open_and_ends_at_the_logical_date():
    start, end = window_bounds("2026-11-16", 7)
    assert (start, end) == (datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
    with pytest.raises(ValueError, match="at least one day"):
        window_bounds("2026-11-16", 0)


def test_event_stamps_sort_in_time_order():
    earlier, later = as_utc("2026-11-16T09:59:59.999999"), as_utc("2026-11-16T10:00:00")
    assert stamp(earlier) < stamp(later) and "/" not in stamp(later) and ":" not in stamp(later)


def test_dag_params_override_their_keys_and_empty_ones_keep_params_yaml():
    params = {"data": {"extract_window_days": 7, "training_window_days": 56}, "gates": {"min_pr_auc": 0.2}}
    merged = with_dag_params(params, {"extract_window_days": 56, "min_pr_auc": None})
    assert merged["data"]["extract_window_days"] == 56 and merged["gates"]["min_pr_auc"] == 0.2
    assert params["data"]["extract_window_days"] == 7  # the input is not changed
    assert set(DAG_PARAMS) >= {"extract_window_days", "min_pr_auc"}
    with pytest.raises(ConfigError, match="unknown DAG param 'min_prauc'"):
        with_dag_params(params, {"min_prauc": 0.5})
