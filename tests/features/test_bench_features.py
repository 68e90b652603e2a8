"""The feature bench runs and finds the engine and pandas' groupby().rolling() give the same values (no time
is asserted: speed targets live in bench/)."""

from __future__ import annotations

import sys

from tests.conftest import PROJECT_DIR


def test_the_feature_bench_finds_the_engine_and_pandas_agree(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "bench"))
    import bench_features

    report = bench_features.main(["--rows", "3000", "--days", "10", "--repeat", "1", "--parquet"])
    assert report["same_values"] and report["engine"]["features"] == 30
    assert report["engine_full"]["features"] == 40
    sys.modules.pop("bench_features", None)
