import json
from datetime import date

import pytest

from retrainer.core.clock import window_bounds
from retrainer.core.errors import Rejected
from retrainer.data.contracts import BatchRejected, SuiteError, load_suite
from retrainer.data.extract import extract_batch
from retrainer.data.validate import validate_batch
from tests.conftest import AS_OF, PROJECT_DIR, generate_source

SUITE = PROJECT_DIR / "expectations" / "transactions.json"
DAY = "2026-11-12"


def _extract(source, storage, **knobs):
    generate_source(source, days=7, rows_per_day=400, **knobs)
    return extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))


def test_clean_batch_passes_and_is_recorded(source, storage, params):
    manifest = _extract(source, storage)
    report = validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    assert report["success"] and report["failures"] == []
    assert json.loads(storage.get_text(storage.key_of(report["validation_uri"])))["success"]


def test_missing_column_is_rejected_with_its_name_and_quarantined(source, storage, params):
    from datetime import date, timedelta

    week = tuple(date(2026, 11, 9) + timedelta(days=i) for i in range(7))
    manifest = _extract(source, storage, broken="missing_column", broken_days=week)
    with pytest.raises(BatchRejected) as caught:
        validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
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
def test_broken_batches_name_the_failed_expectation(source, storage, params, kind, expectation, column):
    from datetime import date

    manifest = _extract(source, storage, broken=kind, broken_days=(date.fromisoformat(DAY),))
    with pytest.raises(BatchRejected) as caught:
        validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    assert (expectation, column) in {(f.expectation, f.column) for f in caught.value.failures}


def test_a_batch_changed_after_extract_is_rejected(source, storage, params):
    manifest = _extract(source, storage)
    storage.put_bytes(storage.key_of(manifest["batch_uri"]), b"tampered")
    with pytest.raises(BatchRejected, match="batch_checksum"):
        validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])


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


@pytest.mark.parametrize("seed", range(20))
def test_clean_batches_raise_no_false_alarm(tmp_path, params, seed):
    from retrainer.storage import open_storage
    from retrainer.synthetic import GeneratorConfig, generate

    source, storage = open_storage(tmp_path / "source"), open_storage(tmp_path / "storage")
    generate(
        source, date(2026, 11, 9), date(2026, 11, 15), seed=seed, config=GeneratorConfig(rows_per_day=300)
    )
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    report = validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    assert report["success"], [f["expectation"] for f in report["failures"]]
    assert report["warnings"] == []


def test_warnings_are_reported_and_the_run_goes_on(source, storage, params, caplog):
    import io

    import pandas as pd

    from retrainer.sources.partitions import partition_key

    generate_source(source, days=7, rows_per_day=300)
    for day in pd.date_range("2026-11-09", "2026-11-15").date:  # one customer behind almost every row
        frame = pd.read_parquet(io.BytesIO(source.get_bytes(partition_key(day))))
        source.put_bytes(partition_key(day), frame.assign(customer_id="c0000001").to_parquet(index=False))
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    with caplog.at_level("INFO", logger="retrainer.data.validate"):
        report = validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    assert report["success"] and report["failures"] == []
    warned = [(w["expectation"], w["column"]) for w in report["warnings"]]
    assert warned == [("expect_column_proportion_of_unique_values_to_be_between", "customer_id")]
    stored = json.loads(storage.get_text(storage.key_of(report["validation_uri"])))
    assert stored["warnings"] == report["warnings"]
    assert "contract warning" in caplog.text and "customer_id" in caplog.text
    # the task log's link opens in the Airflow UI, through the registry plugin; no storage URI to click
    assert "/registry/data-docs/m/" in report["data_docs_url"] and report["data_docs_url"] in caplog.text
    assert report["data_docs_uri"] not in caplog.text


def test_results_and_data_docs_are_published_under_the_storage_root(source, storage, params):
    manifest = _extract(source, storage)
    report = validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    docs = storage.list("data-docs/m/2026-11-16T000000Z")
    assert "data-docs/m/2026-11-16T000000Z/index.html" in docs
    page = storage.get_text(storage.key_of(report["data_docs_uri"]))
    assert "expect_column_values_to_be_unique" in page or "transaction_id" in page
    result = json.loads(storage.get_text(storage.key_of(report["gx_result_uri"])))
    assert result["success"] is True and len(result["results"]) == report["evaluated_expectations"]


def test_volume_is_judged_against_the_median_of_recent_batches(source, storage, params):
    generate_source(source, days=21, rows_per_day=300)
    for as_of in ("2026-11-02", "2026-11-09"):
        manifest = extract_batch(source, storage, "m", *window_bounds(as_of, 7))
        validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    # an 8-day window with 300 rows a day is no drop: volume is compared per day of window
    manifest = extract_batch(source, storage, "m", *window_bounds("2026-11-16", 8))
    report = validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    assert report["success"]
    assert report["volume"]["median_rows_per_day"] == 300
    assert params["validation"]["max_volume_drop"] == 0.9
    assert report["volume"]["min_rows"] == 241  # 240 rows would be exactly a 90% drop: an error


def test_a_passing_rerun_supersedes_the_quarantine_of_its_date(source, storage, params):
    from retrainer.data import quarantine
    from retrainer.sources.partitions import partition_key

    generate_source(source, days=7, rows_per_day=300)
    good = source.get_bytes(partition_key(date(2026, 11, 12)))
    source.put_bytes(partition_key(date(2026, 11, 12)), b"not parquet")
    with pytest.raises(Rejected):
        extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    assert [e["run_key"] for e in quarantine.list_quarantined(storage, "m")] == ["2026-11-16T000000Z"]
    source.put_bytes(partition_key(date(2026, 11, 12)), good)  # the engineer fixes the source and reruns
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    assert validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])["success"]
    assert quarantine.list_quarantined(storage, "m") == []
    assert [e["action"] for e in quarantine.events(storage, "m")] == ["quarantined", "superseded"]


def test_validation_publishes_through_s3_storage(s3_env, tmp_path, params):
    from retrainer.storage import open_storage
    from retrainer.synthetic import GeneratorConfig, generate

    source, storage = open_storage(tmp_path / "source"), open_storage(f"s3://{s3_env}/root")
    generate(source, date(2026, 11, 9), date(2026, 11, 15), seed=3, config=GeneratorConfig(rows_per_day=200))
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    report = validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    assert report["data_docs_uri"].startswith(f"s3://{s3_env}/root/data-docs/m/")
    assert "<html" in storage.get_text(storage.key_of(report["data_docs_uri"])).lower()


def test_the_task_log_gets_a_summary_table_and_no_gx_noise(source, storage, params, caplog):
    manifest = _extract(source, storage)
    with caplog.at_level("INFO"):  # every logger, as an Airflow task log records them
        report = validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    assert "Skipping registering function" not in caplog.text
    summary = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("contract "))
    assert f"{report['evaluated_expectations']} expectations, 0 critical failure(s)" in summary
    assert report["data_docs_url"] in caplog.text and report["data_docs_uri"] not in caplog.text
    gx_lines = [
        r for r in caplog.records if r.name.startswith("great_expectations") and r.levelname == "INFO"
    ]
    assert gx_lines == []


def test_the_summary_table_has_one_row_per_failed_expectation():
    from retrainer.data.contracts import Failure, summary_table

    failure = Failure(
        "expect_column_values_to_be_between",
        "critical",
        "amount",
        {"unexpected_percent": 5.0},
        {"min_value": 0},
    )
    warning = Failure("expect_column_mean_to_be_between", "warning", "is_fraud", 0.031, {"max_value": 0.03})
    text = summary_table("transactions", 72, [failure], [warning]).splitlines()
    assert text[0] == "contract 'transactions': 72 expectations, 1 critical failure(s), 1 warning(s)"
    assert text[2].split()[:3] == ["critical", "expect_column_values_to_be_between", "amount"]
    assert "min_value=0" in text[2] and text[3].split()[:3] == [
        "warning",
        "expect_column_mean_to_be_between",
        "is_fraud",
    ]
