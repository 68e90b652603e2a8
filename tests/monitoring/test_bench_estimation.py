"""The estimation benchmark runs (on a small day) and reports its cost per 1M rows; no timing is asserted."""

import runpy

from tests.conftest import PROJECT_DIR


def test_estimation_benchmark_reports_its_cost_per_million_rows_and_a_calibrated_interval():
    main = runpy.run_path(str(PROJECT_DIR / "bench" / "bench_estimation.py"))["main"]
    report = main(rows=20_000, samples=50)
    assert report["ratio"] > 0 and report["estimate_seconds_per_1m_rows"] > 0
    assert report["monitor_step_seconds"] >= report["estimate_seconds"] * 0.5
    assert report["monitor_step_verdict"] == "no drift"  # calibrated rows of PR-AUC ~0.28, bound 0.2
    assert report["pr_auc"]["low"] <= report["pr_auc"]["estimate"] <= report["pr_auc"]["high"]
