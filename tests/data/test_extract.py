import io
import json
from datetime import date

import pandas as pd
import pytest

from retrainer.core.clock import window_bounds
from retrainer.core.errors import Rejected
from retrainer.data.extract import (
    IncompatibleSourceFiles,
    MissingSourcePartition,
    UnreadableSourceFile,
    content_sha256,
    extract_batch,
)
from retrainer.sources.partitions import partition_key
from retrainer.storage import sha256_bytes
from tests.conftest import AS_OF, generate_source


def test_batch_holds_exactly_the_window_before_the_logical_date(source, storage):
    generate_source(source, days=10, rows_per_day=200)
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    frame = pd.read_parquet(io.BytesIO(storage.get_bytes(storage.key_of(manifest["batch_uri"]))))
    start, end = window_bounds(AS_OF, 7)
    assert len(frame) == manifest["rows"] == 7 * 200
    assert frame["event_ts"].min() >= start and frame["event_ts"].max() < end
    assert manifest["window_start"] == "2026-11-09T00:00:00+00:00"


def test_manifest_records_the_batch_checksum(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    data = storage.get_bytes(storage.key_of(manifest["batch_uri"]))
    assert manifest["sha256"] == sha256_bytes(data)
    stored = json.loads(storage.get_text(storage.key_of(manifest["manifest_uri"])))
    assert stored["sha256"] == manifest["sha256"]


def test_rerun_of_the_same_date_rewrites_the_same_keys(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    first = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    keys = storage.list("batches")
    second = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    assert storage.list("batches") == keys
    assert first == second


def test_unreadable_partition_is_named_and_copied_to_quarantine(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    bad = b"id,amount\n1,2\n"
    source.put_bytes(partition_key(pd.Timestamp("2026-11-12").date()), bad)
    with pytest.raises(UnreadableSourceFile, match="date=2026-11-12") as caught:
        extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
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
        extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    assert list(caught.value.types) == ["amount"]
    reason = json.loads(storage.get_text("quarantine/m/2026-11-16T000000Z/reason.json"))
    assert reason["failures"][0]["observed"] == {"date=2026-11-12/transactions.parquet": "str"}


def test_rows_outside_their_own_day_are_kept_for_validation_to_name(source, storage):
    generate_source(
        source, days=7, rows_per_day=100, broken="stale_window", broken_days=(date(2026, 11, 12),)
    )
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    assert manifest["rows"] == 700


def test_manifest_records_each_partition_and_its_time_zones(source, storage):
    generate_source(
        source, days=7, rows_per_day=100, broken="mixed_time_zones", broken_days=(date(2026, 11, 12),)
    )
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    zones = {p["key"][5:15]: p["time_zones"]["event_ts"] for p in manifest["partitions"]}
    assert zones["2026-11-12"] is None and zones["2026-11-11"] == "UTC"
    frame = pd.read_parquet(io.BytesIO(storage.get_bytes(storage.key_of(manifest["batch_uri"]))))
    assert str(frame["event_ts"].dt.tz) == "UTC"  # one zone in the batch, whatever arrived


def test_content_hash_ignores_row_order_and_file_encoding():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert content_sha256(frame) == content_sha256(frame.iloc[::-1].reset_index(drop=True))
    assert content_sha256(frame) != content_sha256(frame.assign(a=[1, 2, 4]))


def test_empty_source_is_a_verdict_naming_every_day(source, storage):
    """Not retried (a Rejected): an empty window stays empty minutes later, whatever missing_days says."""
    for missing_days in ("fail", "warn"):
        with pytest.raises(MissingSourcePartition, match="no source partitions at all") as caught:
            extract_batch(source, storage, "m", *window_bounds(AS_OF, 7), missing_days=missing_days)
        assert isinstance(caught.value, Rejected) and len(caught.value.days) == 7


def test_a_day_missing_from_the_source_is_named(source, storage):
    from retrainer.data.extract import MissingSourcePartition

    generate_source(source, days=7, rows_per_day=100)
    source.delete(partition_key(date(2026, 11, 12)))
    with pytest.raises(MissingSourcePartition, match="2026-11-12") as caught:
        extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    assert isinstance(caught.value, Rejected) and caught.value.days == [date(2026, 11, 12)]
    assert storage.list("batches") == []


def test_a_missing_day_is_a_warning_when_configured(source, storage, params):
    from retrainer.data.validate import validate_batch
    from tests.conftest import PROJECT_DIR

    generate_source(source, days=7, rows_per_day=300)
    source.delete(partition_key(date(2026, 11, 12)))
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7), missing_days="warn")
    assert manifest["missing_days"] == ["2026-11-12"] and manifest["rows"] == 6 * 300
    report = validate_batch(
        storage,
        manifest["manifest_uri"],
        PROJECT_DIR / "expectations/transactions.json",
        params["validation"],
    )
    assert report["success"]
    assert [(w["expectation"], w["observed"]) for w in report["warnings"]] == [
        ("expect_source_partition_for_every_day", ["2026-11-12"])
    ]


def test_a_window_before_the_models_first_day_is_refused_naming_the_date_to_use(source, storage):
    from retrainer.core.errors import BeforeModelStart

    generate_source(source, days=7, rows_per_day=100)
    with pytest.raises(BeforeModelStart, match="on or after 2026-11-16 \\(run key 2026-11-16T000000Z\\)"):
        extract_batch(source, storage, "m", *window_bounds("2026-11-09", 7), first_day="2026-11-09")
    assert storage.list("batches") == []


def test_a_run_without_a_data_interval_is_refused(var_dir):
    from retrainer.core.errors import NoDataInterval
    from retrainer.tasks import retrain as tasks

    with pytest.raises(NoDataInterval, match="manual__x has no data interval.*logical date"):
        tasks.extract(tasks.Run(run_id="manual__x"))


def test_a_re_extract_removes_the_validation_of_the_old_bytes(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    validation = "batches/m/2026-11-16T000000Z/validation.json"
    storage.put_text(validation, json.dumps({"success": True, "batch_sha256": manifest["sha256"]}))
    generate_source(source, days=7, rows_per_day=120)  # the partner re-sends the week
    extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    assert not storage.exists(validation)


def test_the_manifest_s_content_hash_is_the_stored_batch_s(source, storage):
    from retrainer.data.extract import describe_batch

    generate_source(source, days=7, rows_per_day=100)
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    data = storage.get_bytes(storage.key_of(manifest["batch_uri"]))
    described = describe_batch({}, data)
    assert described["content_sha256"] == manifest["content_sha256"]
    assert (described["rows"], described["columns"]) == (manifest["rows"], manifest["columns"])
    frame = pd.read_parquet(io.BytesIO(data))
    assert content_sha256(frame) == manifest["content_sha256"]
    # one row group per day, so no step holds more than a day of rows
    import pyarrow.parquet as pq

    assert pq.ParquetFile(io.BytesIO(data)).num_row_groups == 7
