import json

import pytest

from retrainer.extract import extract_batch
from retrainer.validate import BatchRejected, SuiteError, load_suite, validate_batch
from tests.conftest import AS_OF, PROJECT_DIR, generate_source

SUITE = PROJECT_DIR / "expectations" / "transactions.json"
DAY = "2026-11-12"


def _extract(source, storage, **knobs):
    generate_source(source, days=7, rows_per_day=400, **knobs)
    return extract_batch(source, storage, "m", AS_OF, window_days=7)


def test_clean_batch_passes_and_is_recorded(source, storage):
    manifest = _extract(source, storage)
    report = validate_batch(storage, manifest["manifest_uri"], SUITE)
    assert report["success"] and report["failures"] == []
    assert json.loads(storage.get_text(storage.key_of(report["validation_uri"])))["success"]


def test_missing_column_is_rejected_with_its_name_and_quarantined(source, storage):
    from datetime import date, timedelta

    week = tuple(date(2026, 11, 9) + timedelta(days=i) for i in range(7))
    manifest = _extract(source, storage, broken="missing_column", broken_days=week)
    with pytest.raises(BatchRejected) as caught:
        validate_batch(storage, manifest["manifest_uri"], SUITE)
    error = caught.value
    assert "amount" in error.columns
    assert "expect_column_to_exist on column 'amount'" in str(error)
    # moved, not copied: the batch is gone from batches/ and whole in quarantine/ with its reason
    assert storage.list("batches/m") == []
    quarantined = storage.list("quarantine/m")
    assert any(k.endswith("batch.parquet") for k in quarantined)
    reason = json.loads(storage.get_text(next(k for k in quarantined if k.endswith("reason.json"))))
    assert reason["success"] is False
    assert ("expect_column_to_exist", "amount") in {
        (f["expectation"], f["column"]) for f in reason["failures"]
    }


@pytest.mark.parametrize(
    ("kind", "expectation", "column"),
    [
        ("null_amounts", "expect_column_values_to_not_be_null", "amount"),
        # one day without the column: the week's batch has the column, empty on that day
        ("missing_column", "expect_column_values_to_not_be_null", "amount"),
        ("negative_amount", "expect_column_values_to_be_between", "amount"),
        ("unknown_channel", "expect_column_values_to_be_in_set", "channel"),
        ("duplicate_ids", "expect_column_values_to_be_unique", "transaction_id"),
        ("label_flip", "expect_column_mean_to_be_between", "is_fraud"),
    ],
)
def test_broken_batches_name_the_failed_expectation(source, storage, kind, expectation, column):
    from datetime import date

    manifest = _extract(source, storage, broken=kind, broken_days=(date.fromisoformat(DAY),))
    with pytest.raises(BatchRejected) as caught:
        validate_batch(storage, manifest["manifest_uri"], SUITE)
    assert (expectation, column) in {(f.expectation, f.column) for f in caught.value.failures}


def test_a_batch_changed_after_extract_is_rejected(source, storage):
    manifest = _extract(source, storage)
    storage.put_bytes(storage.key_of(manifest["batch_uri"]), b"tampered")
    with pytest.raises(BatchRejected, match="batch_checksum"):
        validate_batch(storage, manifest["manifest_uri"], SUITE)


def test_suite_is_loaded_from_its_json(tmp_path):
    suite = load_suite(SUITE)
    assert suite.name == "transactions" and len(suite.expectations) > 50
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SuiteError, match="bad.json"):
        load_suite(bad)
    with pytest.raises(SuiteError, match="not found"):
        load_suite(tmp_path / "missing.json")


def test_great_expectations_is_the_1x_api():
    import great_expectations as gx

    assert int(gx.__version__.split(".")[0]) >= 1
