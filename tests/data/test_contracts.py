"""The catalogue of broken batches: every kind `retrainer generate --broken` makes is stopped by extract or
validate with a named error, lands in quarantine with a reason, and leaves nothing in batches/."""

import json
import re
import shutil
from datetime import date, timedelta

import pytest

from retrainer.core.clock import window_bounds
from retrainer.data.contracts import BatchRejected
from retrainer.data.extract import UnreadableSourceFile, extract_batch
from retrainer.data.validate import validate_batch
from retrainer.storage import open_storage
from retrainer.synthetic import BROKEN_KINDS, FILE_KINDS, GeneratorConfig, generate
from tests.conftest import AS_OF, PROJECT_DIR

SUITE = PROJECT_DIR / "expectations" / "transactions.json"
ROWS_PER_DAY = 300
WEEK = tuple(date(2026, 11, 9) + timedelta(days=i) for i in range(7))  # the window of AS_OF
HISTORY = ("2026-11-02T00:00:00+00:00", "2026-11-09T00:00:00+00:00")  # two validated weeks before it
RUN = "2026-11-16T000000Z"
ID_COLUMNS = ["transaction_id"]  # the fraud model's model.id_column, as the extract task passes it

# kind -> the (expectation, column) that must be among the reasons
CATALOGUE = {
    "missing_column": ("expect_column_to_exist", "amount"),
    "renamed_column": ("expect_column_to_exist", "amount"),
    "extra_column": ("expect_table_columns_to_match_set", None),
    "amount_as_text": ("expect_column_values_to_be_in_type_list", "amount"),
    "null_amounts": ("expect_column_values_to_not_be_null", "amount"),
    "negative_amount": ("expect_column_values_to_be_between", "amount"),
    "absurd_amount": ("expect_column_values_to_be_between", "amount"),
    "unknown_channel": ("expect_column_values_to_be_in_set", "channel"),
    "unknown_region": ("expect_column_values_to_be_in_set", "region"),
    "unknown_category": ("expect_column_values_to_be_in_set", "merchant_category"),
    "duplicate_ids": ("expect_column_values_to_be_unique", "transaction_id"),
    "empty_batch": ("expect_table_row_count_to_be_between", None),
    "volume_drop": ("expect_table_row_count_to_be_between", None),
    "label_flip": ("expect_column_mean_to_be_between", "is_fraud"),
    "no_fraud": ("expect_column_mean_to_be_between", "is_fraud"),
    "label_values": ("expect_column_values_to_be_in_set", "is_fraud"),
    "future_timestamps": ("expect_column_values_to_be_between", "event_ts"),
    "stale_window": ("expect_column_values_to_be_between", "event_ts"),
    "constant_feature": ("expect_column_stdev_to_be_between", "device_risk_score"),
    "constant_int_feature": ("expect_column_unique_value_count_to_be_between", "tx_count_1h"),
    "mixed_time_zones": ("expect_column_time_zone_to_be", "event_ts"),
    "duplicate_batch": ("expect_batch_content_to_be_new", None),
    "resent_day": ("resent_day", None),
    "corrupt_parquet": ("expect_source_file_to_be_readable_parquet", None),
    "truncated_file": ("expect_source_file_to_be_readable_parquet", None),
    "csv_as_parquet": ("expect_source_file_to_be_readable_parquet", None),
    "header_only": ("expect_source_file_to_be_readable_parquet", None),
    "empty_file": ("expect_source_file_to_be_readable_parquet", None),
}
# Most kinds spoil the whole week; a mix of time zones needs some days to stay right.
BROKEN_DAYS = {"mixed_time_zones": WEEK[2:4], "resent_day": WEEK[3:4]}


def test_the_catalogue_covers_every_broken_kind():
    assert set(CATALOGUE) == set(BROKEN_KINDS) and len(CATALOGUE) >= 20


def test_every_numeric_feature_has_a_no_constant_expectation(params):
    """ "No constant feature" holds for every numeric feature of params.yaml, whatever its type."""
    suite = json.loads(SUITE.read_text())
    spread = {"expect_column_stdev_to_be_between", "expect_column_unique_value_count_to_be_between"}
    guarded = {
        e["kwargs"]["column"]
        for e in suite["expectations"]
        if e["type"] in spread and e["severity"] == "critical"
    }
    assert set(params["features"]["numeric"]) <= guarded


@pytest.fixture(scope="module")
def history(tmp_path_factory, params):
    """Three clean weeks of source and two validated batches before AS_OF, built once and copied."""
    root = tmp_path_factory.mktemp("history")
    source, storage = open_storage(root / "source"), open_storage(root / "storage")
    generate(source, date(2026, 10, 26), WEEK[-1], seed=7, config=GeneratorConfig(rows_per_day=ROWS_PER_DAY))
    for as_of in HISTORY:
        manifest = extract_batch(source, storage, "m", *window_bounds(as_of, 7), id_columns=ID_COLUMNS)
        assert validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])["success"]
    return root


@pytest.fixture(scope="module")
def params():
    from retrainer.core.models import load_model

    return load_model(PROJECT_DIR, "fraud-xgb")


def _check(kind, history, tmp_path, params):
    root = tmp_path / "var"
    shutil.copytree(history, root)
    source, storage = open_storage(root / "source"), open_storage(root / "storage")
    before = {k: source.get_bytes(k) for k in source.list("")}
    broken = GeneratorConfig(rows_per_day=ROWS_PER_DAY, broken=kind, broken_days=BROKEN_DAYS.get(kind, WEEK))
    generate(source, WEEK[0], WEEK[-1], seed=7, config=broken)
    sent = {k: source.get_bytes(k) for k in source.list("")}
    assert sent != before
    try:
        manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7), id_columns=ID_COLUMNS)
        validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])
    except (BatchRejected, UnreadableSourceFile) as error:
        caught = error
    else:
        pytest.fail(f"{kind}: the broken batch passed its contract")
    assert {k: source.get_bytes(k) for k in source.list("")} == sent, "the source must stay untouched"
    return caught, storage


@pytest.mark.parametrize("kind", sorted(CATALOGUE))
def test_broken_batch_is_stopped_named_and_quarantined(kind, history, tmp_path, params):
    error, storage = _check(kind, history, tmp_path, params)
    expectation, column = CATALOGUE[kind]
    assert isinstance(error, UnreadableSourceFile if kind in FILE_KINDS else BatchRejected)
    if kind in FILE_KINDS:  # the error names every unreadable file
        assert "not readable Parquet" in str(error) and "date=2026-11-09/transactions.parquet" in str(error)
    else:
        assert expectation in str(error)
    if column:
        assert f"column {column!r}" in str(error)
    if kind == "resent_day":  # Thursday's file held Wednesday's purchases under new ids: named as such
        assert "'2026-11-12': 'repeats 2026-11-11 of batch 2026-11-16T000000Z" in str(error)

    assert storage.list(f"batches/m/{RUN}") == [], "nothing of a rejected run may stay in batches/"
    quarantined = storage.list(f"quarantine/m/{RUN}")
    reason = json.loads(storage.get_text(f"quarantine/m/{RUN}/reason.json"))
    assert reason["success"] is False and reason["run_key"] == RUN
    assert (expectation, column) in {(f["expectation"], f["column"]) for f in reason["failures"]}
    for failure in reason["failures"]:
        assert {"expectation", "column", "observed", "expected"} <= failure.keys()
        assert failure["expected"], f"{failure['expectation']} names no threshold"
    if kind in FILE_KINDS:  # a copy of the bad file, byte for byte
        copies = [k for k in quarantined if "/source/" in k]
        assert copies and all(k.endswith("transactions.parquet") for k in copies)
        assert reason["stage"] == "extract"
    else:  # the batch itself, moved whole with its manifest
        assert f"quarantine/m/{RUN}/batch.parquet" in quarantined
        assert f"quarantine/m/{RUN}/manifest.json" in quarantined
        assert reason["data_docs_uri"].endswith(".html")
        assert storage.exists(storage.key_of(reason["data_docs_uri"]))


def test_the_suite_runs_column_group_by_column_group_with_the_verdicts_of_the_whole_frame(
    tmp_path, monkeypatch
):
    """GX is never handed the whole batch (its pandas engine copies every column for each column map
    expectation): each expectation sees only the columns it names, read from the file, and the merged
    result is the one a run on the whole frame gives, in the suite's order, on one Data Docs page."""
    import pandas as pd

    from retrainer.core import layout
    from retrainer.data import contracts

    source, storage = open_storage(tmp_path / "source"), open_storage(tmp_path / "storage")
    config = GeneratorConfig(rows_per_day=ROWS_PER_DAY, broken="unknown_channel", broken_days=WEEK[:1])
    generate(source, WEEK[0], WEEK[-1], seed=7, config=config)  # one failed expectation to carry through
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7))
    path = storage.path(layout.batch_file_key("m", manifest["run_key"]))
    frame = pd.read_parquet(path)
    suite = contracts.load_suite(SUITE)
    parameters = {
        "window_start": frame["event_ts"].min(),
        "window_end": frame["event_ts"].max() + pd.Timedelta(seconds=1),
        "min_rows": 1,
    }
    seen: list[list[str]] = []
    source = contracts.ParquetColumns(path)
    read = source.read
    source.read = lambda names: seen.append(names) or read(names)

    marker = {"batch_sha256": "0" * 64}
    whole = contracts.run_suite(source, suite, parameters)
    assert seen == [list(frame.columns)]  # a batch within GROUP_CELLS is validated in one piece
    seen.clear()
    monkeypatch.setattr(contracts, "GROUP_CELLS", len(frame))  # as if the batch were big: a column a group
    grouped = contracts.run_suite(source, suite, parameters, tmp_path / "docs", "r", None, marker)

    assert max(len(names) for names in seen) == 2  # the column pair; every other group reads one column
    assert grouped.failures == whole.failures
    assert [f.column for f in grouped.failures] == ["channel"]
    types = [r["expectation_config"]["type"] for r in grouped.result["results"]]
    assert types == [e.expectation_type for e in suite.expectations]
    assert grouped.result["statistics"]["evaluated_expectations"] == len(suite.expectations)
    assert grouped.result["statistics"]["unsuccessful_expectations"] == 1
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert [p.relative_to(tmp_path / "docs").as_posix() for p in pages] == [grouped.docs_page]
    text = " ".join(re.sub(r"<[^>]+>", " ", pages[0].read_text()).split())
    assert f"Evaluated Expectations {len(suite.expectations)} Successful Expectations" in text
    assert grouped.result["meta"]["batch_markers"]["batch_sha256"] == "0" * 64
    assert "batch_sha256 " + "0" * 64 in text  # the page names the bytes it judged


def test_the_lighter_gx_engine_changes_no_observed_value(tmp_path):
    """Validation lifts two costs of GX's pandas engine (`data/gx_engine.py`): the Decimal search of
    numeric columns and, when the caller names the bytes judged, the frame fingerprint. The observed
    values are those of GX's own engine, a column of Decimal objects is still converted, and GX is
    restored afterwards."""
    from decimal import Decimal

    import great_expectations as gx
    import numpy as np
    import pandas as pd
    from great_expectations import util
    from great_expectations.execution_engine import pandas_execution_engine

    from retrainer.data import contracts
    from retrainer.data.gx_engine import lighter_pandas_engine

    values = np.random.default_rng(3).normal(100, 15, size=500).round(2)
    frame = pd.DataFrame({"amount": values, "amount_decimal": [Decimal(str(v)) for v in values]})
    suite = gx.ExpectationSuite(
        name="s",
        expectations=[
            gx.expectations.ExpectColumnStdevToBeBetween(column=column, min_value=1)
            for column in ("amount", "amount_decimal")
        ]
        + [gx.expectations.ExpectColumnMeanToBeBetween(column="amount", min_value=0)],
    )

    def observed(results):
        return {
            (r["expectation_config"]["type"], r["expectation_config"]["kwargs"]["column"]): r["result"][
                "observed_value"
            ]
            for r in results
        }

    engine = util.does_ndarray_contain_decimal_dtype, pandas_execution_engine.HASH_THRESHOLD
    with lighter_pandas_engine(fingerprints=True):
        pass  # entered and left: GX as it was
    assert (util.does_ndarray_contain_decimal_dtype, pandas_execution_engine.HASH_THRESHOLD) == engine

    plain = gx.get_context(mode="ephemeral")  # GX untouched, as a user's own checkpoint would run it
    whole = (
        plain.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("w")
    )
    reference = whole.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    assert "pandas_data_fingerprint" in reference.meta["batch_markers"]

    named = contracts.run_suite(frame, suite, markers={"batch_sha256": "0" * 64})
    seen = observed(named.result["results"])
    assert seen == observed(reference.to_json_dict()["results"])
    stdev = "expect_column_stdev_to_be_between"
    assert seen[stdev, "amount_decimal"] == pytest.approx(seen[stdev, "amount"])  # Decimals, converted
    assert "pandas_data_fingerprint" not in named.result["meta"]["batch_markers"]
    assert "pandas_data_fingerprint" in contracts.run_suite(frame, suite).result["meta"]["batch_markers"]
