"""The drift benchmark runs (on a tiny data set) and reports a ratio and verdicts; no timing is asserted."""

import runpy

from tests.conftest import PROJECT_DIR


def test_drift_benchmark_reports_a_ratio_and_the_same_verdicts_as_the_scipy_loop():
    main = runpy.run_path(str(PROJECT_DIR / "bench" / "bench_drift.py"))["main"]
    report = main(rows=20_000, features=10)
    assert report["ratio"] > 0
    assert set(report["scenarios"]) == {"no_drift", "shift_in_3_features"}
    for scenario in report["scenarios"].values():
        assert scenario["ratio"] > 0 and scenario["same_verdicts"] and scenario["verdicts_as_shifted"]
    # the joint test's cost is reported, and it sees the shift and nothing without it
    assert report["scenarios"]["no_drift"]["multivariate_verdict"] == "no drift"
    assert report["scenarios"]["shift_in_3_features"]["multivariate_verdict"] == "drift"
    assert all(scenario["multivariate_seconds"] > 0 for scenario in report["scenarios"].values())
