"""The scoring benchmark runs at a tiny size and reports a ratio per mode; no timing is asserted."""

import runpy

from tests.conftest import PROJECT_DIR


def test_scoring_benchmark_reports_rows_per_second_per_core_against_its_floor(var_dir):
    main = runpy.run_path(str(PROJECT_DIR / "bench" / "bench_scoring.py"))["main"]
    report = main(["--rows", "5000", "--rounds", "10", "--train-rows", "2000", "--repeat", "1"])
    assert report["rows"] == 5000 and report["floor"]["rows_per_second_per_core"] > 0
    assert set(report["ratio_to_floor"]) == {"champion", "champion+shadow", "canary 25%"}
    assert all(ratio > 0 for ratio in report["ratio_to_floor"].values())
