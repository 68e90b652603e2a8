"""Windows follow the model's schedule (`schedule.cron` in `schedule.timezone`): a run triggered by hand, or
by drift, covers an interval of the model's own timetable, the same one Airflow gives the scheduled run,
whatever the cron and the time zone (a daily model, a weekly one in New York across a change of daylight
saving time, a cron that fires at 02:30, inside the hour that New York skips in March)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from retrainer.core.clock import Schedule
from retrainer.core.errors import ConfigError, NoDataInterval
from retrainer.tasks import retrain as tasks

SCHEDULES = [
    ("0 0 * * *", "UTC"),  # daily
    ("0 0 * * 1", "America/New_York"),  # weekly in another zone: Mondays 00:00 New York time
    ("30 2 * * *", "America/New_York"),  # not at midnight; 02:30 does not exist on 2026-03-08
    ("15 6 * * 3", "Europe/Berlin"),
    ("0 0 * * 1", "UTC"),  # the shipped models
]


def _params(cron: str, timezone: str) -> dict:
    return {"schedule": {"cron": cron, "timezone": timezone, "generated": True}}


def _scheduled_intervals(cron: str, timezone: str, first: datetime, last: datetime) -> list[tuple]:
    """The data intervals Airflow's scheduler gives the scheduled runs of this timetable, in order."""
    import pendulum
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable(cron, timezone)
    restriction = TimeRestriction(earliest=pendulum.instance(first), latest=None, catchup=True)
    intervals, previous = [], None
    while not intervals or intervals[-1][1] < last:
        info = timetable.next_dagrun_info(last_automated_data_interval=previous, restriction=restriction)
        previous = info.data_interval
        intervals.append((as_plain(previous.start), as_plain(previous.end)))
    return intervals


def as_plain(moment) -> datetime:
    return datetime.fromisoformat(moment.isoformat()).astimezone(UTC)


def _moments(first: datetime, days: int) -> list[datetime]:
    """Every 7 h 13 min over `days` days: every hour of the day and every weekday, DST nights included."""
    step = timedelta(hours=7, minutes=13)
    return [first + step * i for i in range(int(days * 24 / 7.2))]


# Two stretches of 2026 that hold the US (03-08, 11-01) and the EU (03-29, 10-25) changes of clock.
STRETCHES = [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 10, 18, tzinfo=UTC)]


@pytest.mark.parametrize(("cron", "timezone"), SCHEDULES)
@pytest.mark.parametrize("first", STRETCHES)
def test_a_manual_run_covers_the_last_interval_airflow_schedules_before_its_logical_date(
    cron, timezone, first
):
    scheduled = _scheduled_intervals(cron, timezone, first - timedelta(days=16), first + timedelta(days=40))
    moments = _moments(first, 30)
    moments += [end for _, end in scheduled if first <= end <= first + timedelta(days=30)]  # on a boundary
    for moment in moments:
        run = tasks.Run(run_id="manual__x", logical_date=moment)  # `retrainer task --as-of`
        window = tasks._interval(run, _params(cron, timezone))
        expected = max((i for i in scheduled if i[1] <= moment), key=lambda i: i[1])
        assert window == expected, f"logical date {moment}"
        # and what Airflow itself gives a run triggered with this logical date, where that is not empty
        # (02:30 New York time on 2026-03-08, a time that never was, gives an empty one there)
        airflow_start, airflow_end = _airflow_manual(cron, timezone, moment)
        assert window == (airflow_start, airflow_end) or airflow_start == airflow_end


def _airflow_manual(cron: str, timezone: str, moment: datetime) -> tuple[datetime, datetime]:
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    interval = CronDataIntervalTimetable(cron, timezone).infer_manual_data_interval(
        run_after=pendulum.instance(moment)
    )
    return as_plain(interval.start), as_plain(interval.end)


def test_a_daily_models_runs_by_hand_and_on_drift_write_the_keys_of_its_scheduled_days():
    params = _params("0 0 * * *", "UTC")
    # Triggered on Wednesday 2026-11-18 10:30: the day that ended last, not a week
    manual = tasks._interval(tasks.Run(logical_date="2026-11-18T10:30:00+00:00"), params)
    assert manual == (datetime(2026, 11, 17, tzinfo=UTC), datetime(2026, 11, 18, tzinfo=UTC))
    # Started by the drift monitor's evidence of 2026-11-26 06:00: the day up to it, the scheduled run's day
    drift = tasks._interval(_drift_run("2026-11-26T06:00:00+00:00"), params)
    assert drift == (datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))
    assert drift in _scheduled_intervals("0 0 * * *", "UTC", datetime(2026, 11, 20, tzinfo=UTC), drift[1])
    # Triggered through the REST API without a logical date: the day that ended before it was due
    bare = tasks._interval(tasks.Run(run_id="manual__y", run_after="2026-12-02T09:00:00+00:00"), params)
    assert bare == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))


def _drift_run(*as_of: str) -> tasks.Run:
    from types import SimpleNamespace

    events = tuple(SimpleNamespace(extra={"run": "x", "as_of": moment}) for moment in as_of)
    return tasks.Run(
        run_id="asset_triggered__x", run_after="2026-12-02T09:00:00+00:00", consumed_asset_events=events
    )


@pytest.mark.parametrize(("cron", "timezone"), SCHEDULES)
def test_a_drift_triggered_run_covers_one_interval_up_to_its_newest_evidence(cron, timezone):
    """As long as the schedule's interval, ending at the last of its times of day before the newest
    evidence: for a daily cron exactly the scheduled run's interval; for a weekly one the seven local days
    up to the evidence, across a change of clock too."""
    zone = ZoneInfo(timezone)
    for first in STRETCHES:
        scheduled = _scheduled_intervals(
            cron, timezone, first - timedelta(days=16), first + timedelta(days=40)
        )
        for moment in _moments(first, 30):
            start, end = tasks._interval(
                _drift_run(str(moment - timedelta(days=1)), str(moment)), _params(cron, timezone)
            )
            assert start < end <= moment < end + timedelta(hours=25)  # the evidence's days, nothing after
            local_start, local_end = start.astimezone(zone), end.astimezone(zone)
            minute, hour = (int(field) for field in cron.split()[:2])
            if cron.split()[4] == "*":  # daily: the scheduled run's interval, its keys
                assert (start, end) in scheduled, f"evidence {moment}"
            else:  # weekly: seven days on the model's wall clock (167 or 169 hours across a change)
                assert (local_end.hour, local_end.minute) == (hour, minute)  # ends at a time of the cron
                assert (local_start.hour, local_start.minute) == (hour, minute)
                assert local_end.replace(tzinfo=None) - local_start.replace(tzinfo=None) == timedelta(days=7)


def test_a_weekly_new_york_model_keeps_local_midnights_across_the_november_change():
    params = _params("0 0 * * 1", "America/New_York")
    # Triggered on Wednesday 2026-11-04: the week Monday 2026-10-26 00:00 EDT .. Monday 11-02 00:00 EST
    manual = tasks._interval(tasks.Run(logical_date="2026-11-04T15:00:00+00:00"), params)
    assert manual == (datetime(2026, 10, 26, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC))
    assert manual[1] - manual[0] == timedelta(days=7, hours=1)  # the night of 11-01 lasts 25 hours
    # At 02:00 UTC on Monday 11-02 it is still Sunday 21:00 in New York: the week before
    early = tasks._interval(tasks.Run(logical_date="2026-11-02T02:00:00+00:00"), params)
    assert early == (datetime(2026, 10, 19, 4, tzinfo=UTC), datetime(2026, 10, 26, 4, tzinfo=UTC))
    # Drift evidence of Thursday 11-05 12:00 UTC: Thursday 10-29 00:00 EDT .. Thursday 11-05 00:00 EST
    drift = tasks._interval(_drift_run("2026-11-05T12:00:00+00:00"), params)
    assert drift == (datetime(2026, 10, 29, 4, tzinfo=UTC), datetime(2026, 11, 5, 5, tzinfo=UTC))


def test_a_run_with_nothing_to_go_by_is_refused_and_a_bad_schedule_is_named():
    with pytest.raises(NoDataInterval):
        tasks._interval(tasks.Run(run_id="manual__z"), _params("0 0 * * *", "UTC"))
    with pytest.raises(ConfigError, match="schedule.timezone 'Mars/Olympus'"):
        Schedule("0 0 * * *", "Mars/Olympus").last_interval("2026-11-18")
    with pytest.raises(ConfigError, match="schedule.cron '61 0 \\* \\* \\*'"):
        Schedule("61 0 * * *", "UTC").last_interval("2026-11-18")


def test_a_schedule_that_is_no_timetable_is_named_when_the_model_is_checked(tmp_path):
    import shutil

    import yaml

    from retrainer.core.models import ModelConfigError, load_model
    from tests.conftest import PROJECT_DIR

    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / name)
    path = tmp_path / "models/fraud-xgb/params.yaml"
    params = yaml.safe_load(path.read_text())
    params["schedule"] = {"cron": "0 0 * * 1", "timezone": "America/New_Yrok"}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(
        ModelConfigError,
        match=r"schedule.timezone: unknown time zone 'America/New_Yrok' \(did you mean America/New_York\?\)",
    ):
        load_model(tmp_path, "fraud-xgb")
