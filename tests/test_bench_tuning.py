"""The tuning benchmark runs at a tiny size and reports the search's time per trial against one fit; no
timing is asserted."""

import runpy

from tests.conftest import PROJECT_DIR


def test_tuning_benchmark_reports_the_search_per_trial_against_one_fit(var_dir):
    main = runpy.run_path(str(PROJECT_DIR / "bench" / "bench_tuning.py"))["main"]
    report = main(["--rows-per-day", "150", "--trials", "3", "--repeat", "1"])
    assert report["trials_run"] == 3 and report["stopped_by"] == "trials"
    assert report["floor_seconds"] > 0 and report["ratio_per_trial"] > 0
    assert report["ratio_to_floor"] >= report["ratio_per_trial"]
    assert set(report["holdout_pr_auc"]) == {"as_written", "tuned"}
