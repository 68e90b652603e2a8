"""The days a drift monitor run judges: whole calendar days in the model's time zone (`schedule.timezone`),
and whether each has fully landed at the source before it is judged.

A run with logical date `as_of` judges the `monitoring.window_days` local days that end at the last local
midnight at or before `as_of` (06:00 UTC on 2026-11-17 judges 2026-11-16, 00:00 .. 24:00). A day has
landed when every source partition it overlaps is there and its last event is at most
`monitoring.days.max_gap_hours` before its end (its first at most that long after its start); a day that
has not is never judged as a day (`DayNotLanded`, named).

Source partitions are UTC days: a day in another zone overlaps two of them and waits for both.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from retrainer.core.clock import as_utc, local_midnight
from retrainer.core.errors import Rejected
from retrainer.sources.partitions import NOT_PARQUET, days_overlapping, partition_key
from retrainer.storage import KeyNotFound, Storage


@dataclass(frozen=True)
class JudgedDays:
    """Whole local days `days` (in `zone`) of one monitor run, as the UTC window [start, end)."""

    days: tuple[date, ...]
    start: datetime
    end: datetime
    zone: str

    def describe(self) -> str:
        first, last = self.days[0].isoformat(), self.days[-1].isoformat()
        span = first if first == last else f"{first} .. {last}"
        return f"{span} ({self.zone}; {self.start.isoformat()} .. {self.end.isoformat()})"


def judged_days(as_of: datetime | str, window_days: int, zone: str) -> JudgedDays:
    """The `window_days` whole days in `zone` that end at the last local midnight at or before `as_of`:
    what a monitor run with this logical date judges. A day across a change of daylight saving time is as
    long as it is there (23 or 25 hours)."""
    if window_days <= 0:
        raise ValueError(f"monitoring.window_days must be at least 1, got {window_days}")
    moment = as_utc(as_of)
    today = pd.Timestamp(moment).tz_convert(zone).date()
    if local_midnight(today, zone) > moment:  # only where midnight was skipped and as_of is in the gap
        today -= timedelta(days=1)
    days = tuple(today - timedelta(days=n) for n in range(window_days, 0, -1))
    return JudgedDays(days, local_midnight(days[0], zone), local_midnight(today, zone), zone)


@dataclass(frozen=True)
class DayLanding:
    """Whether one judged day has fully landed; `problem` says why not (None when it has)."""

    day: date
    start: datetime
    end: datetime
    rows: int
    last_event: datetime | None
    missing_partitions: tuple[str, ...]
    problem: str | None

    @property
    def landed(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        return found | {
            "day": self.day.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "last_event": None if self.last_event is None else self.last_event.isoformat(),
            "missing_partitions": list(self.missing_partitions),
            "landed": self.landed,
        }


def _event_times(source: Storage, key: str, event_time: str) -> pd.Series:
    """The event times (UTC) of one partition, reading only that column. Raises KeyNotFound when it is
    missing, one of NOT_PARQUET (or KeyError: no such column) when it cannot be read."""
    table = pq.read_table(io.BytesIO(source.get_bytes(key)), columns=[event_time])
    return pd.to_datetime(table.column(event_time).to_pandas(), utc=True)


def landing(source: Storage, judged: JudgedDays, event_time: str, max_gap_hours: float) -> list[DayLanding]:
    """Each judged day's landing: its partitions present, its rows, its last event, and the problem if any
    (a partition missing, no event, or events stopping more than `max_gap_hours` before the day's end)."""
    tolerance = timedelta(hours=max_gap_hours)
    found = []
    for day in judged.days:
        start, end = local_midnight(day, judged.zone), local_midnight(day + timedelta(days=1), judged.zone)
        missing, unreadable, times = [], [], []
        for part in days_overlapping(start, end):
            try:
                moments = _event_times(source, partition_key(part), event_time)
            except KeyNotFound:
                missing.append(partition_key(part))
                continue
            except (*NOT_PARQUET, KeyError) as error:
                unreadable.append(f"{partition_key(part)} ({error})")
                continue
            times.append(moments[(moments >= start) & (moments < end)])
        moments = pd.concat(times) if times else pd.Series([], dtype="datetime64[ns, UTC]")
        last = as_utc(moments.max().to_pydatetime()) if len(moments) else None
        if missing:
            problem = f"no source partition {', '.join(missing)} under {source.root_uri}"
        elif unreadable:
            problem = f"source partition {', '.join(unreadable)} not readable as Parquet with {event_time!r}"
        elif last is None:
            problem = f"no event in its partition(s) under {source.root_uri}"
        elif end - last > tolerance:
            hours = (end - last).total_seconds() / 3600
            problem = (
                f"its events stop at {last.isoformat()}, {hours:.1f} h before the day's end "
                f"(monitoring.days.max_gap_hours: {max_gap_hours:g})"
            )
        elif (first := as_utc(moments.min().to_pydatetime())) - start > tolerance:  # a file of the afternoon
            hours = (first - start).total_seconds() / 3600
            problem = (
                f"its events start at {first.isoformat()}, {hours:.1f} h after the day's start "
                f"(monitoring.days.max_gap_hours: {max_gap_hours:g})"
            )
        else:
            problem = None
        found.append(DayLanding(day, start, end, len(moments), last, tuple(missing), problem))
    return found


class DayNotLanded(Rejected):
    """A day the monitor run would judge has not fully landed: it is not judged as a day (a partial day
    reads as drift: hours missing move every time-of-day feature)."""

    def __init__(self, model: str, judged: JudgedDays, days: list[DayLanding]) -> None:
        late = [d for d in days if not d.landed]
        named = "; ".join(
            f"day {d.day.isoformat()} ({judged.zone}) has not fully landed: {d.problem}" for d in late
        )
        super().__init__(
            f"monitor of {model}, judging {judged.describe()}: {named}. Not judged (a partial day's missing "
            "hours read as drift): deliver the day's events and clear the run's wait_for_days task; a model "
            f"whose nights are quiet may raise monitoring.days.max_gap_hours in models/{model}/params.yaml"
        )
        self.model, self.judged, self.days = model, judged, late


def days_report(judged: JudgedDays, days: list[DayLanding]) -> dict[str, Any]:
    """The run's days as stored and shown: the window, the zone, and each day's landing."""
    return {
        "zone": judged.zone,
        "start": judged.start.isoformat(),
        "end": judged.end.isoformat(),
        "landed": all(d.landed for d in days),
        "days": [d.to_dict() for d in days],
    }


def wait_or_refuse(
    model: str, judged: JudgedDays, days: list[DayLanding], now: datetime, wait_hours: float
) -> bool:
    """True when every judged day has landed; False while they may still land (before the judged window's
    end + `wait_hours`); DayNotLanded, naming each day and why, once that wait is over."""
    if all(d.landed for d in days):
        return True
    if as_utc(now) < judged.end + timedelta(hours=wait_hours):
        return False
    raise DayNotLanded(model, judged, days)
