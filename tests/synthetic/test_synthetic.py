from datetime import date

import pandas as pd
import pytest

from retrainer.synthetic import (
    BROKEN_KINDS,
    FILE_KINDS,
    GeneratorConfig,
    generate_day,
    partition_bytes,
)
from retrainer.synthetic.generator import BEHAVIOURAL_FEATURES

DAY = date(2026, 10, 1)


def test_same_seed_same_day_gives_identical_data():
    pd.testing.assert_frame_equal(generate_day(DAY, seed=3), generate_day(DAY, seed=3))
    assert not generate_day(DAY, seed=3).equals(generate_day(DAY, seed=4))


def test_fraud_rate_stays_in_a_realistic_band():
    frame = pd.concat(generate_day(date(2026, 10, d), seed=11) for d in range(1, 8))
    assert 0.005 <= frame["is_fraud"].mean() <= 0.02


def test_transactions_carry_the_documented_columns():
    frame = generate_day(DAY, seed=1)
    assert len(BEHAVIOURAL_FEATURES) >= 25
    for column in (
        "transaction_id",
        "event_ts",
        "customer_id",
        "merchant_id",
        "amount",
        "channel",
        "region",
        "merchant_category",
        "card_present",
        *BEHAVIOURAL_FEATURES,
        "is_fraud",
        "label_available_at",
    ):
        assert column in frame.columns
    assert frame["transaction_id"].is_unique
    assert (frame["event_ts"].dt.date == DAY).all()
    assert str(frame["event_ts"].dt.tz) == "UTC"


def test_labels_arrive_days_after_the_event():
    frame = pd.concat(generate_day(date(2026, 10, d), seed=2) for d in range(1, 15))
    delay = (frame["label_available_at"] - frame["event_ts"]).dt.total_seconds() / 86_400
    fraud_delay = delay[frame["is_fraud"] == 1]
    assert fraud_delay.min() >= 2 and fraud_delay.max() <= 20
    assert fraud_delay.median() < 15  # chargebacks come before the 20-day confirmation of legitimate rows


def test_fraud_depends_on_the_features():
    frame = pd.concat(generate_day(date(2026, 10, d), seed=5) for d in range(1, 15))
    fraud, legit = frame[frame["is_fraud"] == 1], frame[frame["is_fraud"] == 0]
    assert fraud["device_risk_score"].mean() > legit["device_risk_score"].mean()
    assert fraud["amount_to_avg_ratio"].mean() > legit["amount_to_avg_ratio"].mean()


def test_data_drift_shifts_features_from_its_start_day():
    before = generate_day(DAY, seed=1, config=GeneratorConfig(data_drift=1.0, drift_start=date(2026, 10, 2)))
    after = generate_day(
        date(2026, 10, 2), seed=1, config=GeneratorConfig(data_drift=1.0, drift_start=date(2026, 10, 2))
    )
    assert after["amount"].median() > 1.3 * before["amount"].median()
    assert (after["channel"] == "ecom").mean() > (before["channel"] == "ecom").mean()


def test_concept_drift_can_be_limited_to_one_region():
    config = GeneratorConfig(
        concept_drift=1.0, concept_drift_regions=("latam",), drift_start=DAY, rows_per_day=20_000
    )
    frame = generate_day(DAY, seed=9, config=config)
    wallet = frame[frame["channel"] == "wallet"]
    by_region = wallet.groupby("region")["is_fraud"].mean()
    assert by_region["latam"] > 3 * by_region.drop("latam").mean()


@pytest.mark.parametrize("kind", sorted(BROKEN_KINDS))
def test_broken_kinds_break_only_their_days(kind):
    config = GeneratorConfig(rows_per_day=200, broken=kind, broken_days=(DAY,))
    clean = GeneratorConfig(rows_per_day=200)
    assert partition_bytes(DAY, 1, config) != partition_bytes(DAY, 1, clean)
    other = date(2026, 10, 2)
    assert partition_bytes(other, 1, config) == partition_bytes(other, 1, clean)


@pytest.mark.parametrize("kind", sorted(FILE_KINDS))
def test_file_kinds_write_bytes_no_parquet_reader_accepts(kind):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    data = partition_bytes(DAY, 1, GeneratorConfig(rows_per_day=200, broken=kind, broken_days=(DAY,)))
    with pytest.raises((pa.ArrowException, OSError)):
        pq.read_table(io.BytesIO(data))


def test_a_duplicate_batch_replays_the_file_of_a_week_earlier():
    config = GeneratorConfig(rows_per_day=200, broken="duplicate_batch", broken_days=(DAY,))
    earlier = GeneratorConfig(rows_per_day=200)
    assert partition_bytes(DAY, 1, config) == partition_bytes(date(2026, 9, 24), 1, earlier)


def test_unknown_broken_kind_is_named():
    with pytest.raises(ValueError, match="no_such_kind"):
        generate_day(DAY, seed=1, config=GeneratorConfig(broken="no_such_kind", broken_days=(DAY,)))
