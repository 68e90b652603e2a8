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


def test_a_model_without_a_label_time_column_reads_its_own_columns_and_event_time(tmp_path):
    from retrainer.core.models import load_model
    from tests.conftest import PROJECT_DIR

    params = load_model(PROJECT_DIR, "ato-xgb")  # label_delay_days, no label_time; event time login_ts
    assert "label_time" not in params["model"] or params["model"]["label_time"] is None
    available = ["login_id", "login_ts", "account_id", "is_takeover", "platform", "new_device", "unused"]
    assert columns_needed(params, available) == [
        "login_id",
        "login_ts",
        "is_takeover",
        "platform",
        "new_device",
    ]
    ts = pd.date_range("2026-11-01", periods=20, freq="D", tz="UTC")
    pd.DataFrame({"login_id": [f"l{i}" for i in range(20)], "login_ts": ts}).to_parquet(
        tmp_path / "0.parquet"
    )
    start, end = datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 15, tzinfo=UTC)
    rows = read_window_rows([tmp_path / "0.parquet"], start, end, params)
    assert len(rows) == 10 and rows["login_ts"].min() == start


def test_the_fit_reads_its_matrix_a_slice_of_rows_at_a_time_with_the_values_of_the_whole_split(
    tmp_path, source, params, monkeypatch
):
    import numpy as np

    from retrainer.features import matrix
    from retrainer.training import stages
    from tests.conftest import generate_source

    generate_source(source, days=1, rows_per_day=500)
    [day] = source.list("")
    split = source.download(day, tmp_path / "train.parquet")
    monkeypatch.setattr(stages, "_XY_ROWS", 64)  # 500 rows in 8 slices, the last one short
    x, y = stages._xy(split, params)

    frame = pd.read_parquet(split)
    assert np.array_equal(x, matrix.build_matrix(frame, params["features"]), equal_nan=True)
    assert np.array_equal(y, frame[params["model"]["label"]].to_numpy())
    assert x.dtype == np.float32 and x.flags.c_contiguous  # what XGBoost and the baseline take as is


def test_the_baseline_is_fitted_on_a_seeded_sample_when_the_rows_outnumber_max_rows():
    import numpy as np

    from retrainer.training.models import LinearBaseline

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3_000, 4)).astype(np.float32)
    y = (x[:, 0] + rng.normal(size=3_000) > 1).astype(np.int8)
    names = ["a", "b", "c", "d"]

    def fit(**bounds):
        return LinearBaseline.fit(x, y, names, {"C": 0.5, "max_iter": 200, **bounds}, seed=5)

    everything = fit()
    assert fit(max_rows=3_000).to_json() == everything.to_json()  # within the bound: every row, as before
    sampled = fit(max_rows=500)
    assert sampled.to_json() == fit(max_rows=500).to_json()  # the same seed, the same sample
    assert sampled.to_json() != everything.to_json()
    assert np.corrcoef(sampled.predict(x), everything.predict(x))[0, 1] > 0.99  # the same yardstick
