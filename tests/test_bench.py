"""The benchmark runs (on a tiny data set) and reports ratios for every stage; no timing is asserted."""

import runpy

import pytest

from tests.conftest import PROJECT_DIR


@pytest.mark.e2e  # the whole retraining path through DVC, at a small size
def test_stage_benchmark_reports_a_ratio_per_stage(var_dir):
    main = runpy.run_path(str(PROJECT_DIR / "bench" / "bench_stages.py"))["main"]
    report = main(["--rows-per-day", "1500", "--days", "63", "--repeat", "1"])
    assert report["rows"] == 1500 * 63
    assert set(report["ratio_to_floor"]) == {"extract", "validate", "train", "evaluate", "register"}
    assert all(ratio > 0 for ratio in report["ratio_to_floor"].values())
