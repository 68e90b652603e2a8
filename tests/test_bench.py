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


@pytest.mark.e2e  # `airflow dags test` of the whole cycle, at a small size
def test_cycle_benchmark_holds_each_step_s_memory_to_its_frames(tmp_path):
    main = runpy.run_path(str(PROJECT_DIR / "bench" / "bench_cycle.py"))["main"]
    report = main(["--rows-per-day", "1500", "--dir", str(tmp_path / "bench")])
    assert report["extracted_rows"] == 1500 * 56
    assert report["ratio"] > 0 and report["bare_seconds"] > 0
    tasks = {"extract", "validate", "check_labels", "train", "evaluate", "register"}
    stages = {"stage featurize", "stage prepare", "stage adapt", "stage tune", "stage fit", "stage measure"}
    assert tasks | stages == set(report["steps"])
    # Each step, in its own process, adds at most its code and twice the frames it handles (no timing).
    over = {name: step for name, step in report["steps"].items() if not step["within_bound"]}
    assert over == {}
    assert report["frames_mib"]["batch"] > 0 and report["frames_mib"]["window"] > 0
