"""prepare reads only the rows of its window and the columns training and evaluation use."""

from datetime import UTC, datetime

import pandas as pd

from retrainer.training.stages import columns_needed, read_window_rows


def test_columns_needed_are_the_features_keys_slices_and_the_columns_expressions_name(params):
    available = ["transaction_id", "customer_id", "amount", "account_age_days", "channel", "is_fraud"]
    needed = columns_needed(params, available)
    assert "customer_id" not in needed
    assert {"transaction_id", "amount", "account_age_days", "channel", "is_fraud"} == set(needed)


def test_rows_outside_the_window_are_not_read(tmp_path, params):
    ts = pd.date_range("2026-11-01", periods=20, freq="D", tz="UTC")
    frame = pd.DataFrame({"transaction_id": [f"t{i}" for i in range(20)], "event_ts": ts, "other": 1})
    for half in (0, 1):
        frame.iloc[half * 10 : (half + 1) * 10].to_parquet(tmp_path / f"{half}.parquet", index=False)
    start, end = datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 15, tzinfo=UTC)
    rows = read_window_rows(sorted(tmp_path.glob("*.parquet")), start, end, params)
    assert list(rows.columns) == ["transaction_id", "event_ts"]
    assert rows["event_ts"].min() == start and rows["event_ts"].max() < end and len(rows) == 10
