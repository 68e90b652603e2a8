"""The one clock of the platform and the time arithmetic of runs: data intervals, run keys, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from retrainer.core.errors import NoDataInterval


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


def last_complete_week(moment: datetime | str) -> tuple[datetime, datetime]:
    """The calendar week (Monday 00:00 UTC to the next Monday) that ended last at or before `moment`."""
    end = as_utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)
    end -= timedelta(days=end.weekday())
    return end - timedelta(days=7), end


def week_ending(moment: datetime | str) -> tuple[datetime, datetime]:
    """The seven days that end at the start of `moment`'s day (UTC): a week not tied to the calendar."""
    end = as_utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=7), end


def data_interval(
    start: datetime | str | None,
    end: datetime | str | None,
    run: str | None = None,
    run_after: datetime | str | None = None,
) -> tuple[datetime, datetime]:
    """The run's data interval as UTC datetimes. A run Airflow gave none (started by a drift Asset event, or
    triggered without a logical date) covers the last complete week before it was due (`run_after`), like a
    manual run; without `run_after` either, NoDataInterval: no run reads a window of its own invention."""
    if (start is None or end is None) and run_after is not None:
        return last_complete_week(run_after)
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
