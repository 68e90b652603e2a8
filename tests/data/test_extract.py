import io
import json
from datetime import date

import pandas as pd
import pytest

from retrainer.core.clock import window_bounds
from retrainer.core.errors import Rejected
from retrainer.data.extract import (
    ExtractError,
    IncompatibleSourceFiles,
    UnreadableSourceFile,
    content_sha256,
    extract_batch,
)
from retrainer.sources.partitions import partition_key
from retrainer.storage import sha256_bytes
from tests.conftest import AS_OF, generate_source


def test_batch_holds_exactly_the_window_before_the_logical_date(source, storage):
    generate_source(source, days=10, rows_per_day=200)
    manifest = extract_batch(source, storage, "m", AS_OF, window_days=7)
    frame = pd.read_parquet(io.BytesIO(storage.get_bytes(storage.key_of(manifest["batch_uri"]))))
    start, end = window_bounds(AS_OF, 7)
    assert len(frame) == manifest["rows"] == 7 * 200
    assert frame["event_ts"].min() >= start and frame["event_ts"].max() < end
    assert manifest["window_start"] == "2026-11-09T00:00:00+00:00"


def test_manifest_records_the_batch_checksum(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    manifest = extract_batch(source, storage, "m", AS_OF, window_days=7)
    data = storage.get_bytes(storage.key_of(manifest["batch_uri"]))
    assert manifest["sha256"] == sha256_bytes(data)
    stored = json.loads(storage.get_text(storage.key_of(manifest["manifest_uri"])))
    assert stored["sha256"] == manifest["sha256"]


def test_rerun_of_the_same_date_rewrites_the_same_keys(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    first = extract_batch(source, storage, "m", AS_OF, window_days=7)
    keys = storage.list("batches")
    second = extract_batch(source, storage, "m", AS_OF, window_days=7)
    assert storage.list("batches") == keys
    assert first == second


def test_unreadable_partition_is_named_and_copied_to_quarantine(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    bad = b"id,amount\n1,2\n"
    source.put_bytes(partition_key(pd.Timestamp("2026-11-12").date()), bad)
    with pytest.raises(UnreadableSourceFile, match="date=2026-11-12") as caught:
        extract_batch(source, storage, "m", AS_OF, window_days=7)
    assert isinstance(caught.value, Rejected)  # a verdict: Airflow does not retry it
    key = "quarantine/m/2026-11-16T000000Z"
    assert storage.get_bytes(f"{key}/source/date=2026-11-12/transactions.parquet") == bad
    assert source.get_bytes(partition_key(pd.Timestamp("2026-11-12").date())) == bad  # source untouched
    reason = json.loads(storage.get_text(f"{key}/reason.json"))
    assert reason["source_partitions"] == ["date=2026-11-12/transactions.parquet"]
    assert storage.list("batches") == []


def test_partitions_that_disagree_on_a_column_type_are_named(source, storage):
    generate_source(
        source, days=7, rows_per_day=100, broken="amount_as_text", broken_days=(date(2026, 11, 12),)
    )
    with pytest.raises(IncompatibleSourceFiles, match="'amount'") as caught:
        extract_batch(source, storage, "m", AS_OF, window_days=7)
    assert list(caught.value.types) == ["amount"]
    reason = json.loads(storage.get_text("quarantine/m/2026-11-16T000000Z/reason.json"))
    assert reason["failures"][0]["observed"] == {"date=2026-11-12/transactions.parquet": "str"}


def test_rows_outside_their_own_day_are_kept_for_validation_to_name(source, storage):
    generate_source(
        source, days=7, rows_per_day=100, broken="stale_window", broken_days=(date(2026, 11, 12),)
    )
    manifest = extract_batch(source, storage, "m", AS_OF, window_days=7)
    assert manifest["rows"] == 700


def test_manifest_records_each_partition_and_its_time_zones(source, storage):
    generate_source(
        source, days=7, rows_per_day=100, broken="mixed_time_zones", broken_days=(date(2026, 11, 12),)
    )
    manifest = extract_batch(source, storage, "m", AS_OF, window_days=7)
    zones = {p["key"][5:15]: p["time_zones"]["event_ts"] for p in manifest["partitions"]}
    assert zones["2026-11-12"] is None and zones["2026-11-11"] == "UTC"
    frame = pd.read_parquet(io.BytesIO(storage.get_bytes(storage.key_of(manifest["batch_uri"]))))
    assert str(frame["event_ts"].dt.tz) == "UTC"  # one zone in the batch, whatever arrived


def test_content_hash_ignores_row_order_and_file_encoding():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert content_sha256(frame) == content_sha256(frame.iloc[::-1].reset_index(drop=True))
    assert content_sha256(frame) != content_sha256(frame.assign(a=[1, 2, 4]))


def test_empty_source_is_an_error(source, storage):
    with pytest.raises(ExtractError, match="no source partitions"):
        extract_batch(source, storage, "m", AS_OF, window_days=7)
