"""A batch whose columns changed meaning, through real Airflow: two neighbouring numeric columns swapped in
the export (both keep their types and stay in their ranges) stop the run before training, named by the
shipped suite's learnt expectations, the batch in quarantine."""

import json

import pytest

pytestmark = pytest.mark.e2e

LOGICAL_DATE = "2026-11-16"
RUN = "2026-11-16T000000Z"
WEEK = [f"2026-11-{d:02d}" for d in range(9, 16)]


def test_a_swapped_pair_of_columns_is_quarantined_by_the_learnt_expectations(airflow):
    broken = [arg for day in WEEK for arg in ("--broken-day", day)]
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "7", "--rows-per-day", "300",
                      "--broken", "swapped_pair", *broken)  # fmt: skip

    run = airflow.dags_test("retrain_fraud-xgb", LOGICAL_DATE)

    assert run.state == "failed", run.log[-3000:]
    assert "action=fail" in run.log  # a verdict: not retried
    assert "BatchRejected" in run.log
    assert "expect_column_quantile_values_to_be_between on column 'distance_from_last_tx_km'" in run.log
    reason = json.loads((airflow.var / f"storage/quarantine/fraud-xgb/{RUN}/reason.json").read_text())
    named = {(f["expectation"], f["column"], f["severity"]) for f in reason["failures"]}
    assert ("expect_column_quantile_values_to_be_between", "distance_from_last_tx_km", "critical") in named
    shape = {"expect_column_values_to_be_between", "expect_column_values_to_be_in_type_list"}
    assert (
        not {f["expectation"] for f in reason["failures"]} & shape
    )  # the shape held: only the meaning broke
    assert not (airflow.var / f"storage/batches/fraud-xgb/{RUN}").exists()
    assert not (airflow.var / "work").exists()  # training never started
    print(f"\nquarantined {RUN}: {[f['expectation'] + ':' + f['column'] for f in reason['failures']]}")
