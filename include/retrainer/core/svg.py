"""Small time-series charts as inline SVG for the platform's pages: no script, no URL, every text escaped.

A chart is drawn on a time axis shared by every chart of a page (`TimeAxis`): lines and dots, vertical
error bars (intervals), shaded bands, and vertical marks (events such as a deployment move); each point,
bar and mark carries a `<title>` tooltip with its exact value. A chart with nothing to draw says "no data
yet" instead of drawing an empty frame. Hand-written rather than matplotlib (`drift.svg`): a year of daily
points in six charts must render in well under a second, and matplotlib gives no per-point tooltip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape

WIDTH, HEIGHT = 1100, 230
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 30, 42  # the plot area's margins: axis labels and the title
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")
EMPTY = "no data yet"


def moment(value: datetime | date | str) -> datetime:
    """A UTC datetime from a datetime, a date (its midnight) or ISO text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class TimeAxis:
    """The time span every chart of a page shares, with its date ticks."""

    start: datetime
    end: datetime

    @classmethod
    def spanning(cls, moments: Sequence[datetime | date | str]) -> TimeAxis | None:
        """The span of `moments`, a day of margin on each side; None when there is none."""
        found = [moment(m) for m in moments if m is not None]
        if not found:
            return None
        return cls(min(found) - timedelta(days=1), max(found) + timedelta(days=1))

    def x(self, value: datetime | date | str) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (moment(value) - self.start).total_seconds() / span
        return LEFT + share * (WIDTH - LEFT - RIGHT)

    def ticks(self) -> list[datetime]:
        """Month starts over a long span, Mondays over a few months, days over a few weeks."""
        days = (self.end - self.start).days
        first = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        if days > 120:
            months = []
            year, month = first.year, first.month
            while (at := datetime(year, month, 1, tzinfo=UTC)) <= self.end:
                if at >= self.start:
                    months.append(at)
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return months
        step = 7 if days > 21 else 1
        at = first + timedelta(days=(-first.weekday()) % 7 if step == 7 else 0)
        found = []
        while at <= self.end:
            if at >= self.start:
                found.append(at)
            at += timedelta(days=step)
        return found


@dataclass
class Series:
    """Points of one quantity: `(when, value, tooltip)`; `None` values break the line. `band`: optional
    `(when, low, high)` drawn shaded behind it; `bars`: `(when, low, high, tooltip)` error bars."""

    name: str
    points: list[tuple[datetime | date | str, float | None, str]] = field(default_factory=list)
    line: bool = True
    band: list[tuple[datetime | date | str, float, float]] = field(default_factory=list)
    bars: list[tuple[datetime | date | str, float, float, str]] = field(default_factory=list)
    colour: str | None = None
    dash: bool = False


@dataclass(frozen=True)
class Mark:
    """A vertical line at a moment (a deployment move, a retraining), its label in the tooltip."""

    at: datetime | date | str
    label: str
    colour: str = "#6b7280"
    symbol: str = "▼"


def _colour(value: str) -> str:
    """A colour as a `#rrggbb` literal, else a neutral grey: nothing else reaches a style or attribute."""
    return value if re.fullmatch(r"#[0-9a-fA-F]{3,8}", value) else "#6b7280"


def _number(value: float) -> str:
    return f"{value:.1f}"


def _nice_range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def _y_ticks(low: float, high: float, count: int = 5) -> list[float]:
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def time_chart(
    title: str,
    y_label: str,
    axis: TimeAxis | None,
    series: Sequence[Series],
    marks: Sequence[Mark] = (),
    y_range: tuple[float, float] | None = None,
) -> str:
    """One chart as HTML: a `<figure>` holding the SVG (title, date axis, `y_label` axis, a legend), or
    the title and "no data yet" when no series has a value. Every text is escaped here."""
    values = [v for s in series for _, v, _ in s.points if v is not None and math.isfinite(v)]
    values += [v for s in series for _, lo, hi in s.band for v in (lo, hi) if math.isfinite(v)]
    values += [v for s in series for _, lo, hi, _ in s.bars for v in (lo, hi) if math.isfinite(v)]
    heading = f"<figcaption>{escape(title)}</figcaption>"
    if axis is None or not values:
        return f"<figure class='chart'>{heading}<p class='empty'>{escape(title)}: {EMPTY}</p></figure>"
    low, high = y_range or _nice_range(values)
    low, high = min(low, *values), max(high, *values)
    bottom, top = HEIGHT - BOTTOM, TOP

    def y(value: float) -> float:
        return bottom - (value - low) / ((high - low) or 1.0) * (bottom - top)

    out = [
        f"<svg role='img' viewBox='0 0 {WIDTH} {HEIGHT}' width='100%' class='chart'>",
        f"<title>{escape(title)}</title>",
        f"<rect x='{LEFT}' y='{top}' width='{WIDTH - LEFT - RIGHT}' height='{bottom - top}' fill='#fafafa' "
        "stroke='#d1d5db'/>",
    ]
    for tick in _y_ticks(low, high):
        at = _number(y(tick))
        out.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{at}' y2='{at}' stroke='#e5e7eb'/>")
        out.append(
            f"<text x='{LEFT - 6}' y='{at}' text-anchor='end' dy='4' class='tick'>"
            f"{escape(_tick_label(tick))}</text>"
        )
    for tick in axis.ticks():
        at = _number(axis.x(tick))
        out.append(f"<line x1='{at}' x2='{at}' y1='{top}' y2='{bottom}' stroke='#eef0f3'/>")
        out.append(
            f"<text x='{at}' y='{bottom + 16}' text-anchor='middle' class='tick'>"
            f"{escape(tick.date().isoformat())}</text>"
        )
    out.append(
        f"<text x='{(LEFT + WIDTH - RIGHT) / 2}' y='{HEIGHT - 6}' text-anchor='middle' class='axis'>"
        "date (UTC)</text>"
    )
    out.append(
        f"<text transform='rotate(-90)' x='{-(top + bottom) / 2}' y='14' text-anchor='middle' "
        f"class='axis'>{escape(y_label)}</text>"
    )
    for mark in marks:
        at = _number(axis.x(mark.at))
        mark = Mark(mark.at, mark.label, _colour(mark.colour), mark.symbol)
        tip = escape(mark.label)
        out.append(
            f"<g class='mark'><title>{tip}</title><line x1='{at}' x2='{at}' y1='{top}' "
            f"y2='{bottom}' stroke='{mark.colour}' stroke-dasharray='4 3'/>"
            f"<text x='{at}' y='{top - 3}' text-anchor='middle' fill='{mark.colour}' class='sym'>"
            f"{escape(mark.symbol)}</text></g>"
        )
    legend = []
    for index, s in enumerate(series):
        colour = _colour(s.colour or PALETTE[index % len(PALETTE)])
        if s.band:
            upper = " ".join(f"{_number(axis.x(t))},{_number(y(hi))}" for t, _, hi in s.band)
            lower = " ".join(f"{_number(axis.x(t))},{_number(y(lo))}" for t, lo, _ in reversed(s.band))
            out.append(
                f"<polygon points='{upper} {lower}' fill='{colour}' fill-opacity='0.15' stroke='none'/>"
            )
        for t, lo, hi, tip in s.bars:
            at = _number(axis.x(t))
            out.append(
                f"<line x1='{at}' x2='{at}' y1='{_number(y(lo))}' y2='{_number(y(hi))}' "
                f"stroke='{colour}' stroke-width='2'><title>{escape(tip)}</title></line>"
            )
        if s.line:
            runs: list[list[str]] = [[]]
            for t, v, _ in s.points:
                if v is None or not math.isfinite(v):
                    runs.append([])
                    continue
                runs[-1].append(f"{_number(axis.x(t))},{_number(y(v))}")
            dash = " stroke-dasharray='5 3'" if s.dash else ""
            for run in (r for r in runs if len(r) > 1):
                out.append(
                    f"<polyline points='{' '.join(run)}' fill='none' stroke='{colour}' "
                    f"stroke-width='1.5'{dash}/>"
                )
        radius = 2.2 if s.line else 5.5  # a series of dots marks a few points: bigger
        for t, v, tip in s.points:
            if v is None or not math.isfinite(v):
                continue
            out.append(
                f"<circle cx='{_number(axis.x(t))}' cy='{_number(y(v))}' r='{radius}' fill='{colour}'>"
                f"<title>{escape(tip)}</title></circle>"
            )
        legend.append(f"<span class='key'><i style='background:{colour}'></i>{escape(s.name)}</span>")
    out.append("</svg>")
    return (
        f"<figure class='chart'>{heading}<div class='legend'>{''.join(legend)}</div>{''.join(out)}</figure>"
    )


def chart_style() -> str:
    """The CSS the charts of `time_chart` expect on their page."""
    return (
        "figure.chart { margin: 1rem 0 .3rem; } figcaption { font-weight: 600; }"
        " svg.chart text { font-size: 11px; fill: #374151; } svg.chart .sym { font-size: 10px; }"
        " .legend { font-size: .8rem; margin: .2rem 0; } .key { margin-right: 1rem; }"
        " .key i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem;"
        " vertical-align: middle; } p.empty { color: #6b7280; font-style: italic; }"
    )
