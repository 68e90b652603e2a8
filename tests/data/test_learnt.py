"""Expectations learnt from the validated history (`retrainer suite refresh`): a batch whose columns changed
meaning (a swapped pair, a unit x24, amounts x100) is stopped with a named critical failure; clean weeks of
other seeds pass; a batch stopped on meaning and released by a person teaches the next refresh."""

import json
import shutil
from datetime import date, timedelta

import pandas as pd
import pytest

from retrainer.core.clock import window_bounds
from retrainer.data.catalogue import validated_manifests
from retrainer.data.contracts import BatchRejected, load_suite, run_suite
from retrainer.data.extract import extract_batch
from retrainer.data.learnt import LEARNT, learn_from_history
from retrainer.data.release import release
from retrainer.data.validate import validate_batch
from retrainer.storage import open_storage
from retrainer.synthetic import GeneratorConfig, generate, generate_day
from tests.conftest import PROJECT_DIR

ROWS_PER_DAY = 300
FIRST = date(2026, 9, 7)  # a Monday: the first week of history
HISTORY_WEEKS = 6
QUANTILES = "expect_column_quantile_values_to_be_between"


def _as_of(week: int) -> str:
    return f"{FIRST + timedelta(weeks=week + 1)}T00:00:00+00:00"


@pytest.fixture(scope="module")
def params():
    from retrainer.core.models import load_model

    return load_model(PROJECT_DIR, "fraud-xgb")


@pytest.fixture(scope="module")
def learnt(tmp_path_factory, params):
    """Six validated weeks of the fraud model (through extract and validate, as the DAG runs them), and its
    suite refreshed from them: (root of source and storage, the refreshed suite)."""
    root = tmp_path_factory.mktemp("learnt")
    source, storage = open_storage(root / "source"), open_storage(root / "storage")
    config = GeneratorConfig(rows_per_day=ROWS_PER_DAY)
    generate(source, FIRST, FIRST + timedelta(weeks=HISTORY_WEEKS) - timedelta(days=1), seed=7, config=config)
    suite = root / "transactions.json"
    shutil.copy(PROJECT_DIR / "expectations" / "transactions.json", suite)
    for week in range(HISTORY_WEEKS):
        manifest = extract_batch(source, storage, "fraud-xgb", *window_bounds(_as_of(week), 7))
        assert validate_batch(storage, manifest["manifest_uri"], suite, params["validation"])["success"]
    result = learn_from_history(storage, params, suite, weeks=8)
    assert result["batches"] == HISTORY_WEEKS
    return root, suite


def _week(end: date, seed: int, **knobs) -> pd.DataFrame:
    config = GeneratorConfig(rows_per_day=ROWS_PER_DAY, **knobs)
    return pd.concat(
        [generate_day(end - timedelta(days=7 - i), seed, config) for i in range(7)], ignore_index=True
    )


def _judged(suite_path, frame: pd.DataFrame, end: date) -> tuple[list, list]:
    parameters = {
        "window_start": pd.Timestamp(end - timedelta(days=7), tz="UTC"),
        "window_end": pd.Timestamp(end, tz="UTC"),
        "min_rows": 1,
    }
    run = run_suite(frame, load_suite(suite_path), parameters)
    critical = [f for f in run.failures if f.severity == "critical"]
    return critical, [f for f in run.failures if f.severity != "critical"]


def test_the_refresh_writes_reviewable_bounds_and_keeps_the_hand_written_expectations(learnt, params):
    _, suite_path = learnt
    suite = json.loads(suite_path.read_text())
    shipped = json.loads((PROJECT_DIR / "expectations" / "transactions.json").read_text())
    hand_written = [e for e in shipped["expectations"] if LEARNT not in (e.get("meta") or {})]
    assert [e for e in suite["expectations"] if LEARNT not in e.get("meta", {})] == hand_written
    found = [e for e in suite["expectations"] if LEARNT in e.get("meta", {})]
    critical = {e["kwargs"]["column"] for e in found if e["severity"] == "critical"}
    assert {"amount", "account_age_days", "distance_from_last_tx_km", "minutes_since_last_tx"} <= critical
    assert critical <= set(params["features"]["numeric"])
    for expectation in found:  # each says how it was learnt: from how many batches, which dates
        how = expectation["meta"][LEARNT]
        assert how["batches"] == HISTORY_WEEKS and how["from"] and how["to"] and how["rule"]
    columns = [e["kwargs"]["column"] for e in found]
    assert columns == sorted(columns)  # deterministic order: a refresh diffs line by line
    assert {"channel", "region", "merchant_category"} <= set(columns)  # levels that must not vanish
    assert "is_fraud" in columns  # the label rate's band


@pytest.mark.parametrize(
    ("kind", "column"),
    [
        ("swapped_pair", "distance_from_last_tx_km"),
        ("unit_x24", "account_age_days"),
        ("amount_x100", "amount"),
    ],
)
def test_a_batch_whose_column_changed_meaning_is_stopped_naming_it(learnt, params, tmp_path, kind, column):
    root, suite = learnt
    shutil.copytree(root, tmp_path / "var")
    source, storage = open_storage(tmp_path / "var/source"), open_storage(tmp_path / "var/storage")
    end = FIRST + timedelta(weeks=HISTORY_WEEKS + 1)
    days = tuple(end - timedelta(days=7 - i) for i in range(7))
    broken = GeneratorConfig(rows_per_day=ROWS_PER_DAY, broken=kind, broken_days=days)
    generate(source, days[0], days[-1], seed=7, config=broken)
    manifest = extract_batch(source, storage, "fraud-xgb", *window_bounds(_as_of(HISTORY_WEEKS), 7))
    with pytest.raises(BatchRejected) as caught:
        validate_batch(storage, manifest["manifest_uri"], suite, params["validation"])
    failure = next(f for f in caught.value.failures if (f.expectation, f.column) == (QUANTILES, column))
    print(f"\n{kind}: stopped by {failure.describe()}")
    assert f"{QUANTILES} on column {column!r}" in str(caught.value)


def test_twenty_clean_weeks_of_other_seeds_pass_with_no_critical_failure(learnt):
    _, suite = learnt
    warnings_per_week = []
    for n in range(20):
        end = FIRST + timedelta(weeks=HISTORY_WEEKS + 1 + n)
        critical, warnings = _judged(suite, _week(end, seed=100 + n), end)
        assert not critical, f"clean week {end} (seed {100 + n}): {[f.describe() for f in critical]}"
        warnings_per_week.append(len(warnings))
    print(
        f"\nwarnings per clean week (20 seeds): {warnings_per_week}, mean {sum(warnings_per_week) / 20:.2f}"
    )
    assert sum(warnings_per_week) / 20 < 3


def test_a_plausible_shift_warns_without_stopping(learnt):
    _, suite = learnt
    end = FIRST + timedelta(weeks=HISTORY_WEEKS + 1)
    critical, warnings = _judged(suite, _week(end, 7, data_drift=1.0, drift_start=FIRST), end)
    assert not critical
    assert (QUANTILES, "distance_from_home_km") in {(f.expectation, f.column) for f in warnings}


def test_a_vanished_level_warns(learnt):
    _, suite = learnt
    end = FIRST + timedelta(weeks=HISTORY_WEEKS + 1)
    frame = _week(end, 7)
    frame.loc[frame["region"] == "mea", "region"] = "eu"
    critical, warnings = _judged(suite, frame, end)
    assert not critical
    assert ("expect_column_distinct_values_to_contain_set", "region") in {
        (f.expectation, f.column) for f in warnings
    }


def test_a_released_batch_counts_as_history_and_the_next_refresh_learns_from_it(learnt, params, tmp_path):
    root, shipped = learnt
    shutil.copytree(root, tmp_path / "var")
    suite = tmp_path / "var" / "transactions.json"
    source, storage = open_storage(tmp_path / "var/source"), open_storage(tmp_path / "var/storage")
    end = FIRST + timedelta(weeks=HISTORY_WEEKS + 1)
    days = tuple(end - timedelta(days=7 - i) for i in range(14))  # this week and the next
    generate(
        source,
        days[0],
        days[-1],
        seed=7,
        config=GeneratorConfig(rows_per_day=ROWS_PER_DAY, broken="unit_x24", broken_days=days),
    )

    manifest = extract_batch(source, storage, "fraud-xgb", *window_bounds(_as_of(HISTORY_WEEKS), 7))
    with pytest.raises(BatchRejected):
        validate_batch(storage, manifest["manifest_uri"], suite, params["validation"])
    event = release(
        storage, source, "fraud-xgb", manifest["run_key"], suite, params["validation"],
        why="the card system now reports account age in hours; agreed with the data owner", who="ana",
    )  # fmt: skip
    assert event["action"] == "released" and event["warnings"] >= 1
    assert manifest["run_key"] in [m["run_key"] for m in validated_manifests(storage, "fraud-xgb")]

    learn_from_history(storage, params, suite, weeks=8)
    next_week = extract_batch(source, storage, "fraud-xgb", *window_bounds(_as_of(HISTORY_WEEKS + 1), 7))
    report = validate_batch(storage, next_week["manifest_uri"], suite, params["validation"])
    assert report["success"]  # the released week taught the suite: hours are no longer a surprise


def test_a_fraud_rate_four_times_the_usual_warns_inside_the_contracts_band(learnt):
    _, suite = learnt
    end = FIRST + timedelta(weeks=HISTORY_WEEKS + 1)
    frame = _week(end, 7)
    usual = frame["is_fraud"].mean()
    extra = frame.sample(frac=3 * usual, random_state=3).index
    frame.loc[extra, "is_fraud"] = 1
    critical, warnings = _judged(suite, frame, end)
    print(f"\nlabel rate {usual:.4f} -> {frame['is_fraud'].mean():.4f}: {[f.describe() for f in warnings]}")
    assert not critical  # inside the hand-written 0.2-5 % band
    assert ("expect_column_mean_to_be_between", "is_fraud") in {(f.expectation, f.column) for f in warnings}


def test_suite_refresh_rewrites_only_the_learnt_expectations_and_is_repeatable(learnt, tmp_path, monkeypatch):
    from retrainer.cli import main
    from tests.conftest import copy_configuration

    root, _ = learnt
    shutil.copytree(root / "storage", tmp_path / "var" / "storage")
    project = copy_configuration(tmp_path / "project")
    for name in ("RETRAINER_STORAGE_ROOT", "RETRAINER_SOURCE_ROOT", "RETRAINER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    # alerts go somewhere: `models check` refuses a model whose alert connection Airflow cannot resolve
    monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", "https://hooks.example.com")
    suite = project / "expectations" / "transactions.json"

    assert main(["suite", "refresh", "--model", "fraud-xgb", "--weeks", "4"]) == 0
    first = suite.read_text()
    learnt_meta = json.loads(first)["meta"][LEARNT]
    assert learnt_meta["batches"] == 4 and len(learnt_meta["run_keys"]) == 4  # the last 4 validated weeks
    assert main(["suite", "refresh", "--model", "fraud-xgb", "--weeks", "4"]) == 0
    assert suite.read_text() == first  # the same history gives the same file: a refresh diffs only what moved
    assert main(["models", "check"]) == 0
    assert main(["suite", "refresh", "--model", "fraud-xgb", "--weeks", "2"]) == 1  # too few to learn from


def test_a_counter_column_gets_no_learnt_location_that_every_later_week_would_break():
    """Issue 27's counter, in the learnt expectations: a column that only grows moves every week by design."""
    from retrainer.data.learnt import batch_profile, learnt_expectations

    weeks = [
        pd.DataFrame(
            {"seconds_since_launch": range(n * 604_800, (n + 1) * 604_800, 600), "amount": [1.0, 2.5] * 504}
        )
        for n in range(4)
    ]
    profiles = [batch_profile(w, ["seconds_since_launch", "amount"], [], None) for w in weeks]
    columns = {
        e["kwargs"]["column"] for e in learnt_expectations(profiles, {"batches": 4, "from": "a", "to": "b"})
    }
    assert columns == {"amount"}
