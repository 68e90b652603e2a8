"""The catalogue of validated batches counts a batch only while its validation judged the bytes it has."""

import io
import json

import pandas as pd
import pytest

from retrainer.core.clock import window_bounds
from retrainer.core.errors import Rejected
from retrainer.data.catalogue import download_validated_batch, read_validated_frame, validated_manifests
from retrainer.data.extract import extract_batch
from retrainer.storage import ChecksumMismatch
from tests.conftest import AS_OF, generate_source

KEY = "batches/m/2026-11-16T000000Z"


@pytest.fixture
def validated(source, storage):
    generate_source(source, days=7, rows_per_day=100)
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    record = {"success": True, "run_key": manifest["run_key"], "batch_sha256": manifest["sha256"]}
    storage.put_text(f"{KEY}/validation.json", json.dumps(record))
    return manifest


def test_a_validated_batch_is_listed_and_read_back(validated, storage):
    [listed] = validated_manifests(storage, "m")
    assert listed["sha256"] == validated["sha256"]
    stored = storage.get_bytes(f"{KEY}/batch.parquet")
    pd.testing.assert_frame_equal(read_validated_frame(storage, listed), pd.read_parquet(io.BytesIO(stored)))
    columns = ["transaction_id", "amount"]
    assert list(read_validated_frame(storage, listed, columns).columns) == columns


def test_a_validation_that_judged_other_bytes_does_not_count(validated, storage):
    record = json.loads(storage.get_text(f"{KEY}/validation.json"))
    storage.put_text(f"{KEY}/validation.json", json.dumps(record | {"batch_sha256": "0" * 64}))
    assert validated_manifests(storage, "m") == []


def test_a_batch_rewritten_after_validation_is_refused_as_a_verdict(validated, storage, tmp_path):
    frame = pd.read_parquet(io.BytesIO(storage.get_bytes(f"{KEY}/batch.parquet")))
    frame.loc[frame.index[::20], "amount"] *= -1  # what the contract forbids, written after it passed
    storage.put_bytes(f"{KEY}/batch.parquet", frame.to_parquet(index=False))
    [listed] = validated_manifests(storage, "m")
    with pytest.raises(ChecksumMismatch, match="validated batch") as caught:
        read_validated_frame(storage, listed)
    assert isinstance(caught.value, Rejected)  # not retried by the DAG's retry policy
    with pytest.raises(ChecksumMismatch):
        download_validated_batch(storage, listed, tmp_path / "batch.parquet")
    assert not (tmp_path / "batch.parquet").exists()  # nothing unchecked is left to read
