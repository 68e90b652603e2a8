"""The feature engine computes each declared feature as a brute-force reference does, point in time: a row
sees itself, its simultaneous events and earlier ones, never later ones, and only labels that had arrived
before it; a batch's first day gets the features of any other day."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from retrainer.features import (
    FeatureDataError,
    compute_features,
    derived_feature_names,
    derived_features,
    history_needed,
    write_features,
)

T0 = pd.Timestamp("2026-03-02", tz="UTC")  # a Monday
MODEL = {"id_column": "tx_id", "event_time": "ts", "label": "is_fraud", "label_time": "label_at"}
WINDOWS = ["1h", "24h", "7d"]
ALL_WINDOW_AGGREGATIONS = ["count", "sum", "mean", "std", "min", "max", "ratio_to_mean"]


def params_with(derived: dict, model: dict | None = None, timezone: str = "UTC") -> dict:
    return {"model": model or MODEL, "schedule": {"timezone": timezone}, "features": {"derived": derived}}


DECLARED = params_with(
    {
        "windows": [
            {
                "entity": "customer",
                "value": "amount",
                "aggregations": ALL_WINDOW_AGGREGATIONS,
                "windows": WINDOWS,
            },
            {
                "entity": "customer",
                "value": "merchant",
                "aggregations": ["distinct_count"],
                "windows": WINDOWS,
            },
            {"entity": ["customer", "merchant"], "aggregations": ["count"], "windows": ["24h"]},
        ],
        "labels": [
            {
                "entity": "merchant",
                "windows": ["7d", "28d"],
                "aggregations": ["rate", "count"],
                "min_count": 3,
            },
            {"entity": "merchant", "windows": ["7d"], "offset": "7d", "aggregations": ["rate", "count"]},
        ],
        "calendar": ["hour", "weekday", "weekend", "night"],
        "since_previous": [{"entity": "customer", "within": "7d"}],
    },
    timezone="America/New_York",
)


def events(n: int = 400, days: int = 40, seed: int = 0) -> pd.DataFrame:
    """Random events of a few customers and merchants, in bursts with gaps, on whole minutes (so that ties
    and events exactly a window apart happen), with labels arriving 0 to 20 days after the event."""
    rng = np.random.default_rng(seed)
    bursts = rng.integers(0, days * 24 * 60, size=n // 8)
    minutes = np.sort(rng.choice(bursts, size=n) + rng.choice([0, 0, 1, 5, 60, 24 * 60], size=n))
    frame = pd.DataFrame(
        {
            "tx_id": [f"tx{i:05d}" for i in range(n)],
            "ts": T0 + pd.to_timedelta(minutes, unit="min"),
            "customer": rng.choice(["c1", "c2", "c3", "c4", "c5"], size=n),
            "merchant": rng.choice(["m1", "m2", "m3"], size=n),
            "amount": np.round(rng.lognormal(3, 1, size=n), 2),
            "is_fraud": (rng.random(n) < 0.3).astype(np.int8),
        }
    )
    delay = pd.to_timedelta(rng.choice([0, 1, 60, 24 * 60, 7 * 24 * 60, 20 * 24 * 60], size=n), unit="min")
    frame["label_at"] = frame["ts"] + delay
    frame.loc[rng.random(n) < 0.05, "label_at"] = pd.NaT  # never arrived
    return frame


def reference(frame: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The declared features by brute force: for each row, a mask of the events it may see."""
    t = frame["ts"].dt.tz_localize(None).to_numpy()
    if "label_at" in frame:
        arrival = frame["label_at"].dt.tz_localize(None).to_numpy()
    else:
        arrival = t + np.timedelta64(params["model"]["label_delay_days"], "D")
    arrival = np.where(
        pd.isna(arrival) | (arrival >= t), arrival, t
    )  # a label is never known before its event
    positive = frame["is_fraud"].to_numpy() == 1
    zone = params["schedule"]["timezone"]
    out: dict[str, list] = {}
    for feature in derived_features(params):
        values = []
        for i in range(len(frame)):
            same = np.ones(len(frame), dtype=bool)
            for column in feature.entity:
                same &= frame[column].to_numpy() == frame[column].iloc[i]
            if feature.kind == "calendar":
                local = frame["ts"].iloc[i].tz_convert(zone)
                values.append(
                    {"hour": local.hour, "weekday": local.day_of_week, "weekend": int(local.day_of_week >= 5),
                     "night": int(local.hour < 6)}[feature.aggregation]
                )  # fmt: skip
                continue
            if feature.kind == "since_previous":
                earlier = same & (t < t[i]) & (t > t[i] - feature.window)
                values.append((t[i] - t[earlier].max()) / np.timedelta64(1, "s") if earlier.any() else np.nan)
                continue
            if feature.kind == "label":
                end, start = t[i] - feature.offset, t[i] - feature.offset - feature.window
                seen = same & (t > start) & (t <= end)
                known = seen & positive & ~pd.isna(arrival) & (arrival < t[i])
                if feature.aggregation == "count":
                    values.append(int(known.sum()))
                else:
                    enough = seen.sum() >= feature.min_count
                    values.append(known.sum() / seen.sum() if enough else feature.default)
                continue
            seen = same & (t > t[i] - feature.window) & (t <= t[i])
            if feature.value is None:
                values.append(int(seen.sum()))
                continue
            window = frame[feature.value].to_numpy()[seen]
            values.append(_aggregate(feature.aggregation, window, frame[feature.value].iloc[i]))
        out[feature.name] = values
    return pd.DataFrame({"tx_id": frame["tx_id"], **out})


def _aggregate(aggregation: str, window: np.ndarray, current: float) -> float:
    if aggregation == "std":
        return window.std(ddof=1) if len(window) > 1 else np.nan
    if aggregation == "distinct_count":
        return len(set(window))
    if aggregation == "ratio_to_mean":
        return current / window.mean()
    return {"count": len, "sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max}[aggregation](window)


def assert_same(computed: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(computed.columns) == list(expected.columns)
    assert computed["tx_id"].tolist() == expected["tx_id"].tolist()
    for column in expected.columns[1:]:
        np.testing.assert_allclose(
            computed[column].to_numpy(dtype=float), expected[column].to_numpy(dtype=float), rtol=1e-9,
            err_msg=column,
        )  # fmt: skip


def test_every_declared_feature_equals_a_brute_force_reference():
    frame = events()
    computed = compute_features(frame, DECLARED).to_pandas()
    assert_same(computed, reference(frame, DECLARED))
    # the data has what the edges are about: ties, events exactly a window apart, labels arriving later
    assert frame["ts"].duplicated().any()
    gaps = frame["ts"].to_numpy()[:, None] - frame["ts"].to_numpy()[None, :]
    assert (gaps == np.timedelta64(1, "h")).any() and (gaps == np.timedelta64(24, "h")).any()
    assert computed["merchant__label_count_28d"].max() > 0


def test_label_aggregates_with_a_fixed_label_delay_equal_the_reference():
    frame = events(seed=1).drop(columns="label_at")
    model = {k: v for k, v in MODEL.items() if k != "label_time"} | {"label_delay_days": 14}
    params = params_with(
        {"labels": [{"entity": "merchant", "windows": ["7d", "21d"], "aggregations": ["rate", "count"]},
                    {"entity": "merchant", "windows": ["7d"], "offset": "14d", "aggregations": ["count"]}]},
        model,
    )  # fmt: skip
    computed = compute_features(frame, params).to_pandas()
    assert_same(computed, reference(frame, params))
    assert (computed["merchant__label_count_7d"] == 0).all()  # no label arrives within 7 days
    assert computed["merchant__label_count_21d"].max() > 0


def test_an_event_exactly_a_window_earlier_is_outside_it_and_simultaneous_events_are_inside():
    frame = pd.DataFrame(
        {
            "tx_id": ["a", "b", "c", "d"],
            "ts": [T0, T0 + pd.Timedelta(hours=24), T0 + pd.Timedelta(hours=24), T0 + pd.Timedelta(hours=23)],
            "customer": ["c1"] * 4,
            "amount": [1.0, 2.0, 4.0, 8.0],
        }
    )
    params = params_with(
        {
            "windows": [
                {
                    "entity": "customer",
                    "value": "amount",
                    "aggregations": ["count", "sum"],
                    "windows": ["24h"],
                }
            ],
            "since_previous": [{"entity": "customer"}],
        }
    )
    out = compute_features(frame, params).to_pandas().set_index("tx_id")
    # a at 0h is exactly 24 h before b and c: outside their window; b and c (same instant) see each other
    assert (
        out.loc["b", "customer__amount_count_24h"] == 3 and out.loc["c", "customer__amount_sum_24h"] == 14.0
    )
    assert out.loc["d", "customer__amount_sum_24h"] == 9.0  # a, d: b and c are later
    # the previous event of b and c is d (1 h earlier), not each other
    assert out.loc["b", "customer__seconds_since_previous"] == 3600.0
    assert np.isnan(out.loc["a", "customer__seconds_since_previous"])


def test_later_rows_and_later_labels_never_change_earlier_features():
    frame = events(seed=2)
    cut = frame["ts"].iloc[250]
    early = frame[frame["ts"] <= cut]
    before = compute_features(early, DECLARED).to_pandas()
    later = frame.copy()
    # every label that arrives after the cut now arrives later still, and is the other class
    late = later["label_at"] > cut
    later.loc[late, "is_fraud"] = 1 - later.loc[late, "is_fraud"]
    later.loc[late, "label_at"] += pd.Timedelta(days=3)
    after = compute_features(later, DECLARED).to_pandas().iloc[: len(early)]
    assert len(frame) > len(early) and late.sum() > 0
    pd.testing.assert_frame_equal(after, before)


def test_a_fraud_whose_chargeback_arrives_after_a_transaction_does_not_count_in_its_label_features():
    day = pd.Timedelta(days=1)
    frame = pd.DataFrame(
        {
            "tx_id": ["fraud", "before_chargeback", "after_chargeback"],
            "ts": [T0, T0 + 2 * day, T0 + 5 * day],
            "customer": ["c1", "c2", "c3"],
            "merchant": ["m1"] * 3,
            "amount": [10.0, 20.0, 30.0],
            "is_fraud": [1, 0, 0],
            "label_at": [T0 + 3 * day, T0 + 30 * day, T0 + 30 * day],  # the chargeback: 3 days later
        }
    )
    params = params_with(
        {"labels": [{"entity": "merchant", "windows": ["7d"], "aggregations": ["rate", "count"]}]}
    )
    out = compute_features(frame, params).to_pandas().set_index("tx_id")
    assert out.loc["before_chargeback", "merchant__label_count_7d"] == 0
    assert out.loc["before_chargeback", "merchant__label_rate_7d"] == 0.0
    assert out.loc["after_chargeback", "merchant__label_count_7d"] == 1
    assert out.loc["after_chargeback", "merchant__label_rate_7d"] == pytest.approx(1 / 3)
    assert out.loc["fraud", "merchant__label_count_7d"] == 0  # its own label is never its feature


def test_a_batchs_first_day_with_its_history_equals_the_same_day_in_a_longer_span():
    frame = events(n=600, days=70, seed=3)
    history = history_needed(DECLARED)
    assert history == timedelta(days=28)  # the longest window: labels' 28d (and 7d + a 7d offset)
    day = T0 + pd.Timedelta(days=45)
    whole = compute_features(
        frame, DECLARED, start=day - pd.Timedelta(days=10), end=day + pd.Timedelta(days=5)
    )
    batch = frame[(frame["ts"] >= day - history) & (frame["ts"] < day + pd.Timedelta(days=1))]
    first = compute_features(batch, DECLARED, start=day, end=day + pd.Timedelta(days=1)).to_pandas()
    middle = whole.to_pandas().set_index("tx_id").loc[first["tx_id"]].reset_index()
    assert len(first) > 5
    pd.testing.assert_frame_equal(first, middle)


def test_parquet_partitions_give_the_same_features_in_their_files_order(tmp_path):
    frame = events(seed=4)
    days = frame["ts"].dt.strftime("%Y-%m-%d")
    paths = []
    for name, part in frame.groupby(days, sort=True):
        paths.append(tmp_path / f"date={name}" / "transactions.parquet")
        paths[-1].parent.mkdir()
        part.to_parquet(paths[-1], index=False)
    from_files = compute_features(paths, DECLARED).to_pandas()
    pd.testing.assert_frame_equal(from_files, compute_features(frame, DECLARED).to_pandas())
    written = tmp_path / "features.parquet"
    assert write_features(paths, DECLARED, written, start=T0 + pd.Timedelta(days=20)) > 0
    expected = compute_features(frame, DECLARED, start=T0 + pd.Timedelta(days=20))
    assert pq.read_table(written).equals(expected)


def test_the_requested_rows_are_chosen_by_time_and_id_in_the_events_order():
    frame = events(seed=5).sample(frac=1.0, random_state=0)  # the engine does not need sorted input
    start, end = T0 + pd.Timedelta(days=10), T0 + pd.Timedelta(days=12)
    ids = frame["tx_id"].iloc[::3].tolist()
    out = compute_features(frame, DECLARED, start=start, end=end, ids=ids).to_pandas()
    chosen = frame[(frame["ts"] >= start) & (frame["ts"] < end) & frame["tx_id"].isin(ids)]
    assert out["tx_id"].tolist() == chosen["tx_id"].tolist()
    assert list(out.columns) == ["tx_id", *derived_feature_names(DECLARED)]
    full = compute_features(frame, DECLARED).to_pandas().set_index("tx_id").loc[out["tx_id"]].reset_index()
    pd.testing.assert_frame_equal(out, full)


def test_a_null_entity_gets_no_features_rather_than_sharing_one_entity():
    frame = events(n=60, seed=6)
    frame["customer"] = frame["customer"].astype(object)
    frame.loc[frame.index[:10], "customer"] = None
    out = compute_features(frame, DECLARED).to_pandas()
    assert out["customer__amount_count_24h"].iloc[:10].isna().all()
    assert out["customer__amount_count_24h"].iloc[10:].notna().all()


def test_events_that_cannot_give_the_features_are_named():
    frame = events(n=50)
    with pytest.raises(FeatureDataError, match=r"features.derived.windows.0.entity: column 'customer'"):
        compute_features(frame.drop(columns="customer"), DECLARED)
    with pytest.raises(FeatureDataError, match=r"sum of 'amount' needs numbers"):
        compute_features(frame.assign(amount=frame["amount"].astype(str)), DECLARED)
    with pytest.raises(FeatureDataError, match=r"'event_hour' is already a column"):
        compute_features(frame.assign(event_hour=1), DECLARED)
