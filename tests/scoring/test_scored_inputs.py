"""The derived features a day was scored with are stored beside its scores and read back only as written:
the day's health judges the inputs the model saw, without computing them again, and refuses edited bytes."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from retrainer.core import layout
from retrainer.core.models import load_model
from retrainer.scoring.batch import _write_features, read_day_inputs, read_scored_inputs
from retrainer.sources.partitions import partition_key
from retrainer.storage import ChecksumMismatch, open_storage
from retrainer.synthetic.raw import generate_raw_day
from tests.conftest import PROJECT_DIR

DAY = date(2026, 3, 20)


def test_the_features_a_day_was_scored_with_are_read_back_checked(tmp_path):
    params = load_model(PROJECT_DIR, "raw-fraud-xgb")
    source, storage = open_storage(tmp_path / "source"), open_storage(tmp_path / "storage")
    for back in range(8):
        day = DAY - timedelta(days=back)
        source.put_bytes(partition_key(day), generate_raw_day(day, seed=3, rows_per_day=300).to_parquet())
    frame, derived = read_day_inputs(source, DAY, params, params["features"])
    stored = _write_features(storage, "raw-fraud-xgb", DAY, frame[["transaction_id", *derived]])
    assert stored["columns"] == derived
    summary = {"day": DAY.isoformat(), "features": stored}

    read = read_scored_inputs(source, storage, summary, "transaction_id")
    pd.testing.assert_frame_equal(read, frame, check_exact=True)

    key = layout.scores_file_key("raw-fraud-xgb", DAY.isoformat(), layout.SCORE_FEATURES_FILE)
    edited = frame[["transaction_id", *derived]].assign(**{derived[0]: 0.0})
    storage.put_bytes(key, edited.to_parquet(index=False))
    with pytest.raises(ChecksumMismatch):
        read_scored_inputs(source, storage, summary, "transaction_id")


def test_a_model_without_derived_features_stores_none(tmp_path):
    storage = open_storage(tmp_path / "storage")
    ids = pd.DataFrame({"transaction_id": ["a", "b"]})
    assert _write_features(storage, "fraud-xgb", DAY, ids) is None
    assert not list((tmp_path / "storage").rglob("*.parquet"))
