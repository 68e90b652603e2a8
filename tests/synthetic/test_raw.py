"""The raw-event generator (`source.synthetic: raw_card_transactions`): only raw columns, each day the same
alone or in a range, fraud about 1% and visible only over time (terminals and customers), labels late."""

from __future__ import annotations

import io
import json
import shutil
import typing
from datetime import date, timedelta

import pandas as pd
import pytest
import yaml

from retrainer.core.schema import Source
from retrainer.storage import open_storage
from retrainer.synthetic import GeneratorConfig, generate, partition_bytes
from retrainer.synthetic.generator import KINDS
from retrainer.synthetic.labels import MAX_LABEL_DELAY_DAYS
from retrainer.synthetic.raw import CHANNELS, RAW_COLUMNS, generate_raw_day, world
from tests.conftest import PROJECT_DIR

KIND = "raw_card_transactions"
SUITE = PROJECT_DIR / "expectations" / "raw-transactions.json"
START = date(2026, 10, 5)


def _read(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


def _days(first: date, count: int, rows: int = 2000, seed: int = 7) -> pd.DataFrame:
    days = (first + timedelta(days=i) for i in range(count))
    return pd.concat([generate_raw_day(d, seed, rows) for d in days], ignore_index=True)


@pytest.fixture(scope="module")
def four_weeks() -> pd.DataFrame:
    return _days(START, 28)


def test_a_day_generated_alone_equals_the_same_day_generated_in_a_range(tmp_path):
    config = GeneratorConfig(rows_per_day=300)
    day = START + timedelta(days=20)  # deep inside compromises that began on earlier days
    ranged = open_storage(tmp_path / "range")
    generate(ranged, START, day + timedelta(days=3), seed=5, config=config, kind=KIND)
    world.cache_clear()  # nothing remembered from the range: the day alone rebuilds what it needs
    alone = open_storage(tmp_path / "alone")
    [uri] = generate(alone, day, day, seed=5, config=config, kind=KIND)
    key = uri.removeprefix(alone.root_uri).lstrip("/")
    assert alone.get_bytes(key) == ranged.get_bytes(key)
    pd.testing.assert_frame_equal(_read(alone.get_bytes(key)), _read(ranged.get_bytes(key)))
    assert not _read(alone.get_bytes(key)).equals(_read(partition_bytes(day, 6, config, KIND)))  # seed


def test_partitions_hold_only_the_raw_columns_with_their_types():
    frame = _read(partition_bytes(START, 7, GeneratorConfig(rows_per_day=500), KIND))
    assert tuple(frame.columns) == RAW_COLUMNS
    assert len(frame) == 500 and frame["transaction_id"].is_unique
    for column in ("event_ts", "label_available_at"):
        assert str(frame[column].dt.tz) == "UTC"
    assert (frame["event_ts"].dt.date == START).all()
    assert pd.api.types.is_float_dtype(frame["amount"]) and (frame["amount"] > 0).all()
    assert pd.api.types.is_integer_dtype(frame["is_fraud"]) and set(frame["is_fraud"]) <= {0, 1}
    for column in ("transaction_id", "customer_id", "terminal_id", "channel"):
        assert pd.api.types.is_string_dtype(frame[column]), column
    assert set(frame["channel"]) <= set(CHANNELS)


def test_fraud_rate_is_about_one_percent_and_follows_the_knob(four_weeks):
    assert 0.006 <= four_weeks["is_fraud"].mean() <= 0.02
    days = (START + timedelta(days=i) for i in range(28))
    doubled = pd.concat([generate_raw_day(d, 7, 2000, fraud_rate=0.02) for d in days])
    assert doubled["is_fraud"].mean() > 1.5 * four_weeks["is_fraud"].mean()


def test_labels_arrive_after_their_event(four_weeks):
    delay = (four_weeks["label_available_at"] - four_weeks["event_ts"]).dt.total_seconds() / 86_400
    fraud = four_weeks["is_fraud"] == 1
    assert (delay[fraud] >= 2).all() and (delay[fraud] <= MAX_LABEL_DELAY_DAYS).all()
    assert delay[fraud].median() < 15  # chargebacks come before legitimate rows are confirmed
    assert (delay[~fraud] == MAX_LABEL_DELAY_DAYS).all()


def test_compromised_terminals_carry_frauds_on_many_days(four_weeks):
    """Terminal frauds repeat on the same terminals day after day: what a terminal's fraud rate reveals."""
    frauds = four_weeks[four_weeks["is_fraud"] == 1]
    fraud_days = frauds.groupby("terminal_id")["event_ts"].agg(lambda ts: ts.dt.date.nunique())
    repeated = fraud_days[fraud_days >= 5].index
    assert frauds["terminal_id"].isin(repeated).mean() >= 0.3
    # on such a terminal, while it is compromised, every transaction is fraud
    worst = four_weeks[four_weeks["terminal_id"] == fraud_days.idxmax()].sort_values("event_ts")
    flags = worst["is_fraud"].to_numpy()
    first, last = flags.argmax(), len(flags) - 1 - flags[::-1].argmax()
    assert flags[first : last + 1].mean() >= 0.95 and last - first >= 5
    legit = four_weeks[four_weeks["is_fraud"] == 0]
    assert legit["terminal_id"].value_counts().iloc[0] < 0.01 * len(legit)  # legit spread over terminals


def test_a_compromised_customers_frauds_stand_out_only_against_their_own_history(four_weeks):
    """Stolen-card amounts are far above the customer's own usual amount, not above everyone's."""
    usual = four_weeks[four_weeks["is_fraud"] == 0].groupby("customer_id")["amount"].median()
    frauds = four_weeks[four_weeks["is_fraud"] == 1]
    legit = four_weeks[four_weeks["is_fraud"] == 0]
    ratio = frauds["amount"] / frauds["customer_id"].map(usual)
    assert (ratio > 3).mean() >= 0.35  # the stolen cards' frauds ...
    assert (legit["amount"] / legit["customer_id"].map(usual) > 3).mean() < 0.01  # ... and nobody else
    # yet most frauds are amounts that legitimate customers pay every day
    assert (frauds["amount"] < four_weeks["amount"].quantile(0.99)).mean() >= 0.6


def test_the_suite_accepts_clean_generated_weeks_through_extract_and_validate(tmp_path):
    """Two weeks through the platform's own extract and validate (the second judged against the first's
    volume), as a raw model's retraining runs them."""
    from retrainer.core.clock import window_bounds
    from retrainer.core.models import load_model
    from retrainer.data.extract import extract_batch
    from retrainer.data.validate import validate_batch

    rules = load_model(PROJECT_DIR, "fraud-xgb")["validation"]  # the defaults: no model names raw yet
    source, storage = open_storage(tmp_path / "source"), open_storage(tmp_path / "storage")
    generate(source, START, START + timedelta(days=13), seed=7, config=GeneratorConfig(300), kind=KIND)
    for week_end in (START + timedelta(days=7), START + timedelta(days=14)):
        manifest = extract_batch(source, storage, "raw", *window_bounds(f"{week_end}T00:00:00+00:00", 7))
        assert validate_batch(storage, manifest["manifest_uri"], SUITE, rules)["success"]


def test_the_suite_refuses_a_computed_column(tmp_path):
    from retrainer.data.contracts import load_suite, run_suite

    frame = _read(partition_bytes(START, 7, GeneratorConfig(rows_per_day=300), KIND))
    start = pd.Timestamp(START, tz="UTC")
    parameters = {"window_start": start, "window_end": start + pd.Timedelta(days=1), "min_rows": 1}
    assert run_suite(frame, load_suite(SUITE), parameters).failures == []
    refused = run_suite(frame.assign(tx_count_24h=1), load_suite(SUITE), parameters)
    assert {f.expectation for f in refused.failures} == {"expect_table_columns_to_match_set"}


def test_every_synthetic_kind_a_model_may_name_is_generated():
    assert set(typing.get_args(Source.model_fields["synthetic"].annotation)) == set(KINDS)
    assert Source(synthetic=KIND).synthetic == KIND


def test_retrainer_generate_writes_raw_partitions_for_a_model_that_names_them(tmp_path, monkeypatch):
    from retrainer.cli import main

    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / name)
    fraud = yaml.safe_load((PROJECT_DIR / "models/fraud-xgb/params.yaml").read_text())
    raw = {
        "model": {**fraud["model"], "name": "raw-fraud"},
        "source": {"prefix": "raw", "synthetic": KIND},
        "data": {**fraud["data"], "suite": "raw-transactions"},
        "features": {"numeric": ["amount"], "categorical": {"channel": list(CHANNELS)}},
        "evaluate": {"rule": "log1p(amount)"},
    }
    (tmp_path / "models/raw-fraud").mkdir()
    (tmp_path / "models/raw-fraud/params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(tmp_path))
    monkeypatch.delenv("RETRAINER_MODEL", raising=False)
    source = tmp_path / "source"
    args = ["--model", "raw-fraud", "--source", source.as_uri(), "--end", "2026-10-06", "--days", "2"]
    assert main(["generate", *args, "--rows-per-day", "100"]) == 0
    written = sorted(source.rglob("*.parquet"))
    assert len(written) == 2
    assert tuple(pd.read_parquet(written[0]).columns) == RAW_COLUMNS
    assert json.loads(SUITE.read_text())["name"] == "raw-transactions"


def test_drift_knobs_the_raw_generator_does_not_simulate_are_refused_not_ignored():
    with pytest.raises(ValueError, match="--data-drift"):
        partition_bytes(START, 7, GeneratorConfig(rows_per_day=50, data_drift=0.5), KIND)


@pytest.mark.parametrize(
    ("kind", "expectation", "column"),
    [
        ("null_amounts", "expect_column_values_to_not_be_null", "amount"),
        ("negative_amount", "expect_column_values_to_be_between", "amount"),
        ("unknown_channel", "expect_column_values_to_be_in_set", "channel"),
        ("duplicate_ids", "expect_column_values_to_be_unique", "transaction_id"),
        ("label_flip", "expect_column_mean_to_be_between", "is_fraud"),
    ],
)
def test_the_suite_stops_a_broken_raw_batch(kind, expectation, column):
    from retrainer.data.contracts import load_suite, run_suite

    config = GeneratorConfig(rows_per_day=300, broken=kind, broken_days=(START,))
    frame = _read(partition_bytes(START, 7, config, KIND))
    start = pd.Timestamp(START, tz="UTC")
    parameters = {"window_start": start, "window_end": start + pd.Timedelta(days=1), "min_rows": 1}
    failures = run_suite(frame, load_suite(SUITE), parameters).failures
    assert (expectation, column) in {(f.expectation, f.column) for f in failures}
