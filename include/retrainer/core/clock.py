"""The one clock of the platform and the time arithmetic of runs: logical dates, run keys, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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


def run_key(as_of: datetime | str) -> str:
    """The storage key of a run: its logical date, so a rerun of the same date writes the same keys."""
    return as_utc(as_of).strftime("%Y-%m-%dT%H%M%SZ")


def stamp(moment: datetime) -> str:
    """A sortable, path-safe form of a moment, for keys of append-only events (20261116T030000123456Z)."""
    return as_utc(moment).strftime("%Y%m%dT%H%M%S%fZ")


def window_bounds(as_of: datetime | str, days: int) -> tuple[datetime, datetime]:
    """The half-open window [as_of - days, as_of) that a run with this logical date reads."""
    if days <= 0:
        raise ValueError(f"window must be at least one day, got {days}")
    end = as_utc(as_of)
    return end - timedelta(days=days), end
