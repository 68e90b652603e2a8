"""The history page's benchmark runs (on a few weeks) and reports its ratios; no timing is asserted."""

import os
import runpy

from tests.conftest import PROJECT_DIR


def test_history_benchmark_plots_every_generated_day_and_version_and_reports_ratios(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "plugins"))
    before = os.environ.get("RETRAINER_STORAGE_ROOT")
    main = runpy.run_path(str(PROJECT_DIR / "bench" / "bench_history.py"))["main"]
    report = main(["--days", "28", "--versions", "4", "--repeat", "1"])
    assert report["plotted"]["days"] == report["plotted"]["drift"] == report["plotted"]["estimates"] == 28
    assert report["plotted"]["versions"] == report["versions"] == 4
    assert report["plotted"]["moves"] > 0 and report["plotted"]["weeks"] >= 4
    assert report["ratio"] > 0 and report["route_ratio"] > 0 and report["served_kib"] > 0
    assert os.environ.get("RETRAINER_STORAGE_ROOT") == before  # the bench left the environment as it was
