"""The one clock of the platform and the time arithmetic of runs: data intervals, run keys, windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from retrainer.core.errors import ConfigError, NoDataInterval


def now() -> datetime:
    """The current time, timezone-aware in UTC. Events and audit records take their time from here."""
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from a datetime or ISO string (naive values are taken as UTC)."""
    # Through ISO text, so pendulum and other datetime subclasses come back as plain datetimes.
    moment = datetime.fromisoformat(value if isinstance(value, str) else value.isoformat())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def run_key(interval_end: datetime | str) -> str:
    """The storage key of a run: the end of its data interval (2026-11-16T000000Z names the week
    2026-11-09 .. 2026-11-16), so every run of the same period, scheduled or manual, writes the same keys."""
    return as_utc(interval_end).strftime("%Y-%m-%dT%H%M%SZ")


def stamp(moment: datetime) -> str:
    """A sortable, path-safe form of a moment, for keys of append-only events (20261116T030000123456Z)."""
    return as_utc(moment).strftime("%Y%m%dT%H%M%S%fZ")


def window_bounds(as_of: datetime | str, days: int) -> tuple[datetime, datetime]:
    """The half-open window [as_of - days, as_of) that a run with this logical date reads."""
    if days <= 0:
        raise ValueError(f"window must be at least one day, got {days}")
    end = as_utc(as_of)
    return end - timedelta(days=days), end


def _localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC moment of a wall-clock time in `zone`, as Airflow (pendulum) reads it: a time that occurs
    twice (clocks go back) is its second occurrence; a time that never occurs (clocks go forward) moves on
    by the gap (02:30 on a 02:00 -> 03:00 night is 03:30)."""
    moment = wall.replace(tzinfo=zone, fold=1)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:  # in the gap
        moment = wall.replace(tzinfo=zone, fold=0)  # the offset before the change: later by the gap
    return moment.astimezone(UTC)


def local_midnight(day: date, zone: str) -> datetime:
    """The UTC moment the local day `day` starts in `zone`, read as `_localize` reads any wall time (where
    clocks skip midnight, the first moment after the gap)."""
    return _localize(datetime.combine(day, time()), ZoneInfo(zone))


@dataclass(frozen=True)
class Schedule:
    """A model's timetable (`schedule.cron` in its zone `schedule.timezone`), the same intervals as
    Airflow's `CronDataIntervalTimetable(cron, timezone)` gives its scheduled runs: each interval runs from
    one time of the cron to the next, in the model's zone (a day that changes to or from daylight saving
    time is as long as it is there), and every moment that comes out is UTC."""

    cron: str
    timezone: str = "UTC"

    @classmethod
    def of(cls, params: dict[str, Any]) -> Schedule:
        """The schedule of a model from its checked params (`schedule.cron`, `schedule.timezone`)."""
        return cls(params["schedule"]["cron"], params["schedule"]["timezone"])

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigError(
                f"schedule.timezone {self.timezone!r} is not an IANA time zone ({error}): "
                "write one such as UTC or America/New_York in the model's params.yaml"
            ) from None

    def _step(self, moment: datetime, forward: bool) -> datetime:
        """The cron's next (or previous) time strictly after (before) `moment`, as Airflow's
        CronMixin._get_next/_get_prev compute it: croniter on the wall clock of the model's zone (read back
        by `_localize`). A cron that fires every hour steps by elapsed time instead, so it neither skips
        nor repeats the hour that occurs twice."""
        zone = self.zone
        local = as_utc(moment).astimezone(zone).replace(tzinfo=None)
        try:
            cron = croniter(self.cron, start_time=local)
        except CroniterError as error:
            raise ConfigError(
                f"schedule.cron {self.cron!r} is not a cron expression ({error}): "
                "write five fields such as '0 0 * * 1' (Mondays 00:00) in the model's params.yaml"
            ) from None
        wall = cron.get_next(datetime) if forward else cron.get_prev(datetime)
        if cron.expanded[1] == ["*"]:
            return as_utc(moment) + (wall - local)
        found = _localize(wall, zone)
        # A wall time in the skipped hour or the repeated one can land on or across `moment` (02:30 on the
        # night clocks skip to 03:00 is 03:30, the moment itself when it is 03:30): the one before that
        # (after that), so every interval is as long as the scheduled run's and none is empty. Airflow's
        # own `infer_manual_data_interval` gives such a run an empty interval.
        while (found <= as_utc(moment)) if forward else (found >= as_utc(moment)):
            found = _localize(cron.get_next(datetime) if forward else cron.get_prev(datetime), zone)
        return found

    def _at_or_before(self, moment: datetime) -> datetime:
        """The latest time of the cron at or before `moment` (`moment` itself when it is one)."""
        before = self._step(moment, forward=False)
        return moment if self._step(before, forward=True) == moment else before

    def last_interval(self, moment: datetime | str) -> tuple[datetime, datetime]:
        """The last complete interval that ended at or before `moment`: what a run triggered by hand with
        this logical date covers (as Airflow's `infer_manual_data_interval` wherever that is not empty), so
        it writes the keys of that interval's scheduled run. A weekly Monday 00:00 UTC cron and Wednesday
        2026-11-18 10:30 give 2026-11-09 .. 2026-11-16."""
        end = self._at_or_before(as_utc(moment))
        return self._step(end, forward=False), end

    def interval_up_to(self, moment: datetime | str) -> tuple[datetime, datetime]:
        """The window of a run started by evidence dated `moment` (a drift-triggered run): as long as the
        schedule's last complete interval before `moment`, ending at the latest of the cron's times of day
        at or before `moment`, so it holds the days the evidence judged. For a daily or hourly cron that is
        exactly the last complete interval (the keys of its scheduled run); for a weekly one it is the
        seven days up to the evidence's day (evidence of Thursday 2026-11-26 06:00 under Monday 00:00 UTC:
        2026-11-19 .. 2026-11-26)."""
        start, end = self.last_interval(moment)
        # The cron's times of day on any day: the same minute and hour fields, every day.
        daily = Schedule(" ".join([*self.cron.split()[:2], "*", "*", "*"]), self.timezone)
        last = daily._at_or_before(as_utc(moment))
        if last == end:
            return start, end
        # Shifted on the wall clock of the model's zone, so a week across a change of daylight saving time
        # still runs from one local midnight (or cron time) to another.
        zone = self.zone

        def wall(value: datetime) -> datetime:
            return value.astimezone(zone).replace(tzinfo=None)

        shifted = wall(start) + (wall(last) - wall(end))
        return _localize(shifted, zone), last


def data_interval(
    start: datetime | str | None, end: datetime | str | None, run: str | None = None
) -> tuple[datetime, datetime]:
    """The data interval Airflow gave a run, as UTC datetimes; NoDataInterval without one (the caller
    decides what a run without one covers: `Schedule.last_interval`, `Schedule.interval_up_to`)."""
    if start is None or end is None:
        raise NoDataInterval(run)
    start, end = as_utc(start), as_utc(end)
    if start >= end:
        raise ValueError(f"data interval {start} .. {end} is empty")
    return start, end


def run_window(
    start: datetime | str, end: datetime | str, reach_back_days: int | None = None
) -> tuple[datetime, datetime]:
    """The window a run extracts: its data interval, or with `reach_back_days` (a first run's backfill)
    that many days before the interval's end."""
    if reach_back_days is None:
        return as_utc(start), as_utc(end)
    return window_bounds(end, reach_back_days)
