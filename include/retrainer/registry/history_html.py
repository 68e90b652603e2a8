"""A model's history page (the registry plugin's `/registry/history?model=<name>`): six charts over one
shared time axis, with the deployment moves marked on each, and under each chart its exact values in a
table. Built from `registry.history.model_history`; inline SVG (`core.svg`), no script, every value escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from retrainer.core.svg import EMPTY, Mark, Series, TimeAxis, chart_style, time_chart
from retrainer.registry.page import STYLE

ROLLBACK_COLOUR, MOVE_COLOUR, RETRAIN_COLOUR = "#b91c1c", "#2563eb", "#7c3aed"
METRIC_NAMES = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC"}


def _f(value: Any, digits: int = 4) -> str:
    """A number with `digits` decimals, `-` for none."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _table(header: Sequence[str], rows: list[Sequence[Any]], summary: str) -> str:
    """A collapsed table of exact values: every cell escaped."""
    if not rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<details><summary>{escape(summary)}</summary><table><tr>{head}</tr>{body}</table></details>"


def move_marks(moves: list[dict]) -> list[Mark]:
    """Each deployment move as a mark: rollbacks red, other moves blue."""
    marks = []
    for m in moves:
        share = f" ({m['share']}%)" if m.get("mode") == "canary" else ""
        label = (
            f"{m['at']}: {m['what']} v{m.get('version')}{share} by {m.get('actor') or '-'}: "
            f"{m.get('reason') or ''}"
        )
        rollback = m["event"] == "deployment_rolled_back"
        marks.append(Mark(m["at"], label, ROLLBACK_COLOUR if rollback else MOVE_COLOUR, "▼"))
    return marks


def _section(chart: str, table: str) -> str:
    return f"<section class='plot'>{chart}{table}</section>"


def versions_chart(h: dict, axis: TimeAxis | None, marks: list[Mark]) -> str:
    name = METRIC_NAMES.get(h["metric"], h["metric"])
    points, champion = h["versions"], h["champion"]

    def tip(p: dict) -> str:
        interval = (
            f", interval [{_f(p['low'])}, {_f(p['high'])}] vs v{p['versus']}" if p["low"] is not None else ""
        )
        aliases = f" ({', '.join(p['aliases'])})" if p["aliases"] else ""
        return f"v{p['version']}{aliases}: {name} {_f(p['value'])}{interval}, trained to {p['at']}"

    series = [
        Series(
            f"{name} on its holdout (bar: paired bootstrap interval vs the champion then)",
            [(p["at"], p["value"], tip(p)) for p in points if p["at"]],
            bars=[(p["at"], p["low"], p["high"], tip(p)) for p in points if p["at"] and p["low"] is not None],
        ),
        Series(
            f"champion (v{champion})" if champion else "champion",
            [(p["at"], p["value"], tip(p)) for p in points if p["champion"] and p["at"]],
            line=False,
            colour="#f59e0b",
        ),
    ]
    rows = [
        (
            f"v{p['version']}",
            ", ".join(p["aliases"]),
            p["at"],
            _f(p["value"]),
            _f(p["low"]),
            _f(p["high"]),
            f"v{p['versus']}" if p["versus"] else "-",
            p["trigger"] or "-",
        )
        for p in reversed(points)
    ]
    table = _table(
        ["version", "aliases", "trained to", name, "interval low", "interval high", "vs", "trigger"],
        rows,
        "values: versions",
    )
    title = f"Headline metric ({name}) of every version, champion marked"
    return _section(time_chart(title, name, axis, series, marks), table)


def _day_series(days: list[dict], key: str, label: str, fmt: Callable[[dict], str]) -> Series:
    return Series(label, [(d["day"], d[key], f"{d['day']}: {label} {fmt(d)}") for d in days])


def health_charts(h: dict, axis: TimeAxis | None, marks: list[Mark]) -> str:
    days = h["days"]
    rates = [
        _day_series(
            days, "champion_alert_rate", "champion alert rate", lambda d: _f(d["champion_alert_rate"])
        ),
        _day_series(
            days, "challenger_alert_rate", "challenger alert rate", lambda d: _f(d["challenger_alert_rate"])
        ),
    ]
    psi = [
        _day_series(
            days, "worst_psi", "worst feature PSI", lambda d: f"{_f(d['worst_psi'])} ({d['worst_feature']})"
        )
    ]
    load = [
        _day_series(days, "rows", "rows scored", lambda d: _f(d["rows"], 0)),
    ]
    seconds = [_day_series(days, "seconds", "seconds", lambda d: _f(d["seconds"], 2))]
    rows = [
        (
            d["day"],
            d["mode"] or "-",
            f"v{d['champion']}",
            f"v{d['challenger']}" if d["challenger"] else "-",
            _f(d["champion_alert_rate"]),
            _f(d["challenger_alert_rate"]),
            _f(d["worst_psi"]),
            d["worst_feature"] or "-",
            _f(d["rows"], 0),
            _f(d["seconds"], 2),
            d["breaches"],
        )
        for d in reversed(days)
    ]
    table = _table(
        [
            "day",
            "mode",
            "champion",
            "challenger",
            "champion alert rate",
            "challenger alert rate",
            "worst PSI",
            "feature",
            "rows",
            "seconds",
            "breaches",
        ],
        rows,
        "values: scored days",
    )
    return (
        _section(time_chart("Daily scoring: alert rates", "alert rate", axis, rates, marks), "")
        + _section(time_chart("Daily scoring: worst feature PSI", "PSI", axis, psi, marks), "")
        + _section(time_chart("Daily scoring: rows scored", "rows", axis, load, marks), "")
        + _section(time_chart("Daily scoring: seconds", "seconds", axis, seconds, marks), table)
    )


def drift_chart(h: dict, axis: TimeAxis | None, marks: list[Mark]) -> str:
    runs = h["drift"]

    def tip(r: dict) -> str:
        started = f"; retraining registered v{r['started_version']}" if r["started_version"] else ""
        signal = (
            "; retraining signalled"
            if r["retrain"]
            else ("; suppressed (cool-down)" if r["suppressed"] else "")
        )
        return (
            f"{r['run']}: {r['verdict']}, worst feature {r['worst_feature']} PSI {_f(r['max_psi'])}, "
            f"scores PSI {_f(r['prediction_psi'])}{signal}{started}"
        )

    series = [
        Series("worst feature PSI", [(r["at"], r["max_psi"], tip(r)) for r in runs if r["at"]]),
        Series(
            "scores PSI",
            [(r["at"], r["prediction_psi"], tip(r)) for r in runs if r["at"]],
            colour="#059669",
        ),
        Series(
            "drift confirmed",
            [(r["at"], r["max_psi"], tip(r)) for r in runs if r["at"] and r["confirmed"]],
            line=False,
            colour="#dc2626",
        ),
    ]
    retrain = [Mark(r["at"], tip(r), RETRAIN_COLOUR, "R") for r in runs if r["at"] and r["retrain"]]
    rows = [
        (
            r["run"],
            r["verdict"],
            ", ".join(r["kinds"]) or "-",
            r["worst_feature"] or "-",
            _f(r["max_psi"]),
            _f(r["prediction_psi"]),
            "yes" if r["retrain"] else ("suppressed" if r["suppressed"] else "no"),
            f"v{r['started_version']}" if r["started_version"] else "-",
        )
        for r in reversed(runs)
    ]
    table = _table(
        ["monitor run", "verdict", "kinds", "worst feature", "PSI", "scores PSI", "retraining", "version"],
        rows,
        "values: monitor runs",
    )
    title = "Drift per monitor run: confirmed drifts (red) and the retrainings they started (R)"
    return _section(time_chart(title, "PSI", axis, series, [*marks, *retrain]), table)


def weeks_chart(h: dict, axis: TimeAxis | None, marks: list[Mark]) -> str:
    weeks = h["weeks"]

    def tip(w: dict) -> str:
        return (
            f"week of {w['week']}: PR-AUC {_f(w['pr_auc'])} [{_f(w['low'])}, {_f(w['high'])}] on "
            f"{w['rows']} matured rows ({w['positives']} positives), holdout {_f(w['holdout_pr_auc'])}"
        )

    series = [
        Series(
            "PR-AUC on matured labels (bar: interval)",
            [(w["week"], w["pr_auc"], tip(w)) for w in weeks],
            bars=[(w["week"], w["low"], w["high"], tip(w)) for w in weeks if w["low"] is not None],
        ),
        Series(
            "holdout PR-AUC of the champion",
            [(w["week"], w["holdout_pr_auc"], tip(w)) for w in weeks],
            dash=True,
            colour="#6b7280",
        ),
    ]
    rows = [
        (
            w["week"],
            w["run"],
            _f(w["pr_auc"]),
            _f(w["low"]),
            _f(w["high"]),
            _f(w["holdout_pr_auc"]),
            w["rows"],
            w["positives"],
            w["verdict"],
        )
        for w in reversed(weeks)
    ]
    table = _table(
        ["week", "monitor run", "PR-AUC", "low", "high", "holdout", "rows", "positives", "verdict"],
        rows,
        "values: weeks",
    )
    return _section(time_chart("Matured-label performance per week", "PR-AUC", axis, series, marks), table)


def estimates_chart(h: dict, axis: TimeAxis | None, marks: list[Mark]) -> str:
    days = h["estimates"]

    def tip(e: dict) -> str:
        realised = (
            f", realised {_f(e['realised'])}" if e["realised"] is not None else ", labels not matured yet"
        )
        return f"{e['day']}: estimated PR-AUC {_f(e['estimate'])} [{_f(e['low'])}, {_f(e['high'])}]{realised}"

    series = [
        Series(
            "estimated PR-AUC (band: interval)",
            [(e["day"], e["estimate"], tip(e)) for e in days],
            band=[
                (e["day"], e["low"], e["high"])
                for e in days
                if e["low"] is not None and e["high"] is not None
            ],
        ),
        Series("realised PR-AUC", [(e["day"], e["realised"], tip(e)) for e in days]),
    ]
    rows = [
        (
            e["day"],
            f"v{e['champion_version']}",
            _f(e["estimate"]),
            _f(e["low"]),
            _f(e["high"]),
            _f(e["realised"]),
            {True: "yes", False: "no", None: "-"}[e["within"]],
        )
        for e in reversed(days)
    ]
    table = _table(
        ["day", "champion", "estimate", "low", "high", "realised", "inside"], rows, "values: estimates"
    )
    title = "Estimated vs realised performance per day"
    return _section(time_chart(title, "PR-AUC", axis, series, marks), table)


def moves_table(h: dict) -> str:
    moves = h["moves"]
    if not moves:
        return f"<p class='empty'>Deployment moves: {EMPTY}</p>"
    rows = [
        (
            m["at"],
            m["what"],
            f"v{m['version']}" if m["version"] is not None else "-",
            m["mode"] or "-",
            m["share"] if m["share"] is not None else "-",
            m["actor"] or "-",
            m["reason"] or "",
        )
        for m in reversed(moves)
    ]
    head = "".join(f"<th>{escape(x)}</th>" for x in ("at", "move", "version", "mode", "share", "by", "why"))
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table id='moves'><tr>{head}</tr>{body}</table>"


def axis_of(h: dict) -> TimeAxis | None:
    """The one time axis of the page: from the first to the last dated thing of any kind."""
    moments = [p["at"] for p in h["versions"]] + [d["day"] for d in h["days"]] + [r["at"] for r in h["drift"]]
    moments += (
        [w["week"] for w in h["weeks"]] + [e["day"] for e in h["estimates"]] + [m["at"] for m in h["moves"]]
    )
    return TimeAxis.spanning([m for m in moments if m])


def render(h: dict) -> str:
    """The whole history page of one model (`model_history`'s data)."""
    axis, marks = axis_of(h), move_marks(h["moves"])
    model = escape(h["model"])
    back = "./"  # the registry page, relative to /registry/history
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>History: {model}</title><style>{STYLE}{chart_style()}</style></head><body>"
        f"<h1>History of {model}</h1>"
        f"<p><a href='{escape(back)}'>model registry</a>. "
        "Every chart shares one time axis; deployment moves are marked on each (blue ▼, rollbacks red ▼); "
        "hover a point for its exact value, or open the values under a chart.</p>"
        + versions_chart(h, axis, marks)
        + health_charts(h, axis, marks)
        + drift_chart(h, axis, marks)
        + weeks_chart(h, axis, marks)
        + estimates_chart(h, axis, marks)
        + "<h2>Deployment moves</h2>"
        + moves_table(h)
        + "</body></html>"
    )
