import io
import json

import pandas as pd
import pytest

from retrainer.extract import ExtractError, UnreadableSourceFile, extract_batch, window_bounds
from retrainer.storage import sha256_bytes
from retrainer.synthetic import partition_key
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


def test_unreadable_partition_is_named(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    source.put_bytes(partition_key(pd.Timestamp("2026-11-12").date()), b"id,amount\n1,2\n")
    with pytest.raises(UnreadableSourceFile, match="date=2026-11-12"):
        extract_batch(source, storage, "m", AS_OF, window_days=7)


def test_empty_source_is_an_error(source, storage):
    with pytest.raises(ExtractError, match="no source partitions"):
        extract_batch(source, storage, "m", AS_OF, window_days=7)
