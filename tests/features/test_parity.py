"""One computation for training and scoring: the `featurize` stage's features of a training window (its rows
and the source history before it) equal, row for row, the features `score_<model>` and the drift monitor
compute for a day (its rows and the source history before it), on the shipped raw-events model; and a
window's first day gets the features that day has in the middle of a longer window."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from retrainer.core import artifacts
from retrainer.core.feature_declarations import derived_feature_names
from retrainer.core.models import load_model
from retrainer.data.extract import write_window
from retrainer.features.events import features_of_rows, stage_history
from retrainer.features.stage import featurize
from retrainer.scoring.batch import read_day, read_day_inputs
from retrainer.sources.partitions import partition_key
from retrainer.storage import open_storage
from retrainer.synthetic.raw import generate_raw_day
from tests.conftest import PROJECT_DIR

FIRST = date(2026, 3, 2)
DAYS = 50
ROWS_PER_DAY = 400


@pytest.fixture(scope="module")
def params() -> dict:
    return load_model(PROJECT_DIR, "raw-fraud-xgb")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Fifty days of raw card transactions at the source, one partition a day."""
    storage = open_storage(tmp_path_factory.mktemp("source"))
    for offset in range(DAYS):
        day = FIRST + timedelta(days=offset)
        frame = generate_raw_day(day, seed=11, rows_per_day=ROWS_PER_DAY, fraud_rate=0.03)
        storage.put_bytes(partition_key(day), frame.to_parquet(index=False))
    return storage


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def training_features(source, params: dict, first: date, last: date, workspace) -> pd.DataFrame:
    """What the train task and the featurize stage compute for a window [first, last]: the window's rows as
    extract writes them, the source history before it, then the stage, in a workspace of their own."""
    start, end = midnight(first), midnight(last + timedelta(days=1))
    batches = workspace / artifacts.BATCHES_DIR
    batches.mkdir(parents=True)
    write_window(source, start, end, workspace / artifacts.WINDOW)
    history = stage_history(source, params, start, workspace / artifacts.HISTORY_DIR)
    (workspace / artifacts.HISTORY_REPORT).write_text(json.dumps(history))
    report = featurize(
        batches, workspace / artifacts.HISTORY_DIR, workspace / artifacts.FEATURES_DIR, params, start, end
    )
    assert report["derived"] == derived_feature_names(params)
    assert report["history"] == history
    return pd.read_parquet(workspace / artifacts.FEATURES).set_index("transaction_id")


def test_a_scored_day_gets_the_features_training_computed_for_its_rows(source, params, tmp_path):
    names = derived_feature_names(params)
    trained = training_features(
        source, params, FIRST + timedelta(days=35), FIRST + timedelta(days=48), tmp_path
    )
    assert len(trained) == 14 * ROWS_PER_DAY and trained[names].notna().any().all()
    for offset in (35, 41, 48):  # the window's first day, its middle, its last
        day = FIRST + timedelta(days=offset)
        scored, derived = read_day_inputs(source, day, params, params["features"])
        assert derived == names
        scored = scored.set_index("transaction_id")
        assert len(scored) == ROWS_PER_DAY
        pd.testing.assert_frame_equal(scored[names], trained.loc[scored.index, names], check_exact=True)
        # The drift monitor computes its days' features the same way
        monitored = features_of_rows(read_day(source, day), source, params, midnight(day))
        pd.testing.assert_frame_equal(
            monitored.set_index("transaction_id")[names], scored[names], check_exact=True
        )


def test_a_windows_first_day_equals_that_day_in_the_middle_of_a_longer_window(source, params, tmp_path):
    day = FIRST + timedelta(days=40)
    short = training_features(source, params, day, day + timedelta(days=2), tmp_path / "short")
    long = training_features(
        source, params, day - timedelta(days=20), day + timedelta(days=2), tmp_path / "long"
    )
    rows = read_day(source, day)["transaction_id"]
    pd.testing.assert_frame_equal(short.loc[rows], long.loc[rows], check_exact=True)
    # and the history is what made them equal: without it, the first day's 30-day counts are smaller
    names = [n for n in derived_feature_names(params) if n.endswith("count_30d")]
    alone = tmp_path / "alone"  # the same window, its history directory left empty
    (alone / artifacts.HISTORY_DIR).mkdir(parents=True)
    (alone / artifacts.BATCHES_DIR).mkdir(parents=True)
    write_window(source, midnight(day), midnight(day + timedelta(days=3)), alone / artifacts.WINDOW)
    featurize(
        alone / artifacts.BATCHES_DIR,
        alone / artifacts.HISTORY_DIR,
        alone / artifacts.FEATURES_DIR,
        params,
        midnight(day),
        midnight(day + timedelta(days=3)),
    )
    without = pd.read_parquet(alone / artifacts.FEATURES).set_index("transaction_id").loc[rows]
    assert (without[names] <= short.loc[rows, names]).all().all()
    assert (without[names] < short.loc[rows, names]).any().all()


def test_the_history_a_window_reads_is_listed_with_each_source_files_sha256(source, params, tmp_path):
    start = midnight(FIRST + timedelta(days=10))
    history = stage_history(source, params, start, tmp_path)
    assert [h["day"] for h in history] == [(FIRST - timedelta(days=20) + timedelta(days=i)).isoformat()
                                          for i in range(30)]  # fmt: skip
    missing = [h for h in history if h.get("missing")]
    assert len(missing) == 20  # the source begins 10 days before the window: the rest is missing, named
    read = [h for h in history if not h.get("missing")]
    assert all(len(h["sha256"]) == 64 and h["rows"] == ROWS_PER_DAY for h in read)
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [f"{h['day']}.parquet" for h in read]
