"""The drift monitor judges whole calendar days in the model's zone: a run at 06:00 judges yesterday from
midnight to midnight, a day that has not fully landed (18 of its 24 hours at the source, or its partition
missing) is refused by name and never judged, and a whole day of the same data raises no drift where the
old `[as_of - 1 day, as_of)` window found a false one in the time-of-day feature."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from retrainer.drift import drift_check, render_html
from retrainer.monitoring import days
from retrainer.monitoring.monitor import check_drift, days_landed, read_days
from retrainer.sources.partitions import partition_key
from retrainer.storage import open_storage
from retrainer.synthetic import GeneratorConfig, generate

PARTIAL_DAY = date(2026, 11, 17)  # only its first 18 hours have landed
RUN_AT_SIX = "2026-11-18T06:00:00+00:00"  # the scheduled run that would judge it


@pytest.fixture
def storage(tmp_path):
    return open_storage(tmp_path / "storage")


@pytest.fixture
def landed(tmp_path):
    """A source of two weeks of whole days, 2026-11-03 .. 2026-11-16, and 2026-11-17 with 18 of its 24
    hours."""
    source = open_storage(tmp_path / "source")
    generate(source, date(2026, 11, 3), PARTIAL_DAY, seed=7, config=GeneratorConfig(rows_per_day=2000))
    frame = pd.read_parquet(io.BytesIO(source.get_bytes(partition_key(PARTIAL_DAY))))
    cut = frame.loc[pd.to_datetime(frame["event_ts"], utc=True).dt.hour < 18]
    source.put_bytes(partition_key(PARTIAL_DAY), cut.to_parquet(index=False))
    return source


def test_a_run_judges_whole_calendar_days_in_the_models_zone():
    at_six = days.judged_days(RUN_AT_SIX, 1, "UTC")
    assert at_six.days == (PARTIAL_DAY,)
    assert (at_six.start, at_six.end) == (
        datetime(2026, 11, 17, tzinfo=UTC),
        datetime(2026, 11, 18, tzinfo=UTC),
    )
    assert days.judged_days("2026-11-18T00:00:00+00:00", 1, "UTC") == at_six  # by hand at midnight: the same
    # New York: 06:00 UTC is 01:00 there; yesterday there runs from 05:00 UTC to 05:00 UTC
    new_york = days.judged_days(RUN_AT_SIX, 1, "America/New_York")
    assert new_york.days == (PARTIAL_DAY,) and new_york.start == datetime(2026, 11, 17, 5, tzinfo=UTC)
    # the night clocks go back in Paris (2026-10-25) is a 25-hour day, judged whole
    paris = days.judged_days("2026-10-26T06:00:00+00:00", 1, "Europe/Paris")
    assert (paris.end - paris.start).total_seconds() == 25 * 3600
    week = days.judged_days(RUN_AT_SIX, 7, "UTC")
    assert week.days[0] == date(2026, 11, 11) and week.days[-1] == PARTIAL_DAY


def test_a_day_with_18_of_24_hours_landed_is_not_judged_and_a_whole_day_raises_no_drift(landed, params):
    features = [*params["features"]["numeric"], *params["features"]["categorical"]]
    categorical = list(params["features"]["categorical"])
    partial = days.judged_days(RUN_AT_SIX, 1, "UTC")
    [day] = days.landing(landed, partial, "event_ts", params["monitoring"]["days"]["max_gap_hours"])
    print(f"\n{day.day}: {day.rows} events, the last at {day.last_event}: {day.problem}")
    assert not day.landed and "6.0 h before the day's end" in day.problem

    # The run at 06:00 waits for it (the sensor), and once the wait is over refuses it by name
    six = datetime(2026, 11, 18, 6, tzinfo=UTC)
    assert days.wait_or_refuse("fraud-xgb", partial, [day], six, wait_hours=12) is False
    with pytest.raises(days.DayNotLanded) as refused:
        days.wait_or_refuse(
            "fraud-xgb", partial, [day], datetime(2026, 11, 18, 12, tzinfo=UTC), wait_hours=12
        )
    assert "day 2026-11-17 (UTC) has not fully landed" in str(
        refused.value
    ) and "events stop at 2026-11-17T17:" in str(refused.value)

    # What the old window judged at the same moment: [2026-11-17 06:00, 2026-11-18 06:00) with the 18th's
    # partition missing, i.e. 12 hours of one day: a false drift rooted in the time of day.
    reference, _ = read_days(
        landed, datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC), "event_ts"
    )
    old, missing = read_days(landed, datetime(2026, 11, 17, 6, tzinfo=UTC), six, "event_ts")
    assert missing == ["date=2026-11-18/transactions.parquet"]  # named, no longer skipped without a word
    config = params["monitoring"]["drift"]
    was = drift_check(reference[features], old[features], config, features=features, categorical=categorical)
    hour = next(f for f in was["data"]["features"] if f["feature"] == "hour_of_day")
    print(f"old window: {len(old)} rows, verdict {was['verdict']!r}, hour_of_day PSI {hour['psi']:.3f}")
    assert was["drifted"] and "hour_of_day" in was["data"]["root_cause"]

    # The whole day before it, over the same data: no drift
    whole = days.judged_days("2026-11-17T06:00:00+00:00", 1, "UTC")
    [yesterday] = days.landing(landed, whole, "event_ts", params["monitoring"]["days"]["max_gap_hours"])
    assert yesterday.landed, yesterday.problem
    current, missing = read_days(landed, whole.start, whole.end, "event_ts")
    now = drift_check(
        reference[features], current[features], config, features=features, categorical=categorical
    )
    hour = next(f for f in now["data"]["features"] if f["feature"] == "hour_of_day")
    print(
        f"whole day {whole.days[0]}: {len(current)} rows, {now['verdict']!r}, "
        f"hour_of_day PSI {hour['psi']:.3f}"
    )
    assert missing == [] and not now["drifted"], now["kinds"]
    page = render_html(now | {"days": days.days_report(whole, [yesterday])})  # the drift page says which days
    assert "Days judged, whole days in UTC, each fully landed: 2026-11-16 (2000 events" in page


def test_the_monitor_refuses_a_day_not_landed_and_says_so_in_its_report(landed, storage, params):
    """With a champion deployed, check_drift never judges the partial day: DayNotLanded (a verdict, not
    retried), and `days.json` beside the run's report names the day and why; the wait_for_days sensor
    waits for it while it may still land."""
    from retrainer.core import layout
    from retrainer.core.errors import Rejected
    from retrainer.registry.store import Registry
    from tests.deploy_helpers import champion_and_challenger

    champion_and_challenger(Registry(storage, "fraud-xgb"), params)
    with pytest.raises(days.DayNotLanded) as refused:
        check_drift(storage, landed, params, RUN_AT_SIX)
    assert isinstance(refused.value, Rejected) and "2026-11-17" in str(refused.value)
    stored = json.loads(
        storage.get_text(layout.monitoring_file_key("fraud-xgb", "2026-11-18T000000Z", "days.json"))
    )
    assert stored["landed"] is False and stored["days"][0]["day"] == "2026-11-17"
    assert "6.0 h before the day's end" in stored["days"][0]["problem"]

    assert days_landed(storage, landed, params, RUN_AT_SIX, datetime(2026, 11, 18, 6, tzinfo=UTC)) is False
    with pytest.raises(days.DayNotLanded):
        days_landed(storage, landed, params, RUN_AT_SIX, datetime(2026, 11, 19, tzinfo=UTC))
    # a day whose morning is missing is not whole either, nor one whose partition is missing altogether
    frame = pd.read_parquet(io.BytesIO(landed.get_bytes(partition_key(date(2026, 11, 16)))))
    afternoon = frame.loc[pd.to_datetime(frame["event_ts"], utc=True).dt.hour >= 6]
    landed.put_bytes(partition_key(date(2026, 11, 16)), afternoon.to_parquet(index=False))
    with pytest.raises(days.DayNotLanded) as late_start:
        days_landed(storage, landed, params, "2026-11-17T06:00:00+00:00", datetime(2026, 11, 19, tzinfo=UTC))
    assert "its events start at 2026-11-16T06:" in str(late_start.value)
    with pytest.raises(days.DayNotLanded) as absent:
        days_landed(storage, landed, params, "2026-11-19T06:00:00+00:00", datetime(2026, 11, 20, tzinfo=UTC))
    assert "no source partition date=2026-11-18/transactions.parquet" in str(absent.value)
