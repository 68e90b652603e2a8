"""The comparison page of two versions (`registry.compare.comparison`) as one HTML page: inline, no
script (the plugin serves it under its NO_SCRIPT policy), every value from a record or report escaped.

In: the comparison dict. Out: the page's HTML text. Links are relative to the plugin's root (the page is
served at `/registry/compare`), built from `core.layout` with the model name percent-encoded.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

from retrainer.core import layout
from retrainer.registry.page import STYLE

MONEY = ("missed_fraud_amount", "review_cost", "total", "saved_vs_champion")  # `costs` rows, in currency
EXTRA_STYLE = """
.passed { color: #047857; } .insufficient { color: #92400e; }
h3 { margin-top: 1.8rem; } .note { color: #4b5563; font-size: .85rem; } td.changed { font-weight: 600; }
"""


def fmt(value: Any, sign: str = "", places: int = 4) -> str:
    """A value as a person reads it: `-` for none, `places` decimals (two with thousands above 1000) for a
    float, JSON for a list or a mapping, else its text. Not escaped: the caller escapes."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:{sign},.2f}" if abs(value) >= 1000 else f"{value:{sign}.{places}f}"
    if isinstance(value, int):
        return f"{value:{sign},}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _td(value: Any, css: str = "", places: int = 4) -> str:
    klass = f" class='{css}'" if css else ""
    return f"<td{klass}>{escape(fmt(value, places=places))}</td>"


def _row(*values: Any) -> str:
    """A table row of plain cells, one per value (escaped by `_td`)."""
    return "<tr>" + "".join(_td(v) for v in values) + "</tr>"


def _table(header: list[str], rows: list[str], empty: str = "nothing to show") -> str:
    if not rows:
        return f"<p class='note'>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _side_by_side(
    rows: list[dict], a: str, b: str, first: str, difference: bool = True, money: tuple[str, ...] = ()
) -> str:
    """Rows {name, a, b, difference} as a table, a value that differs between the two marked; the
    difference column only where asked; the rows named in `money` with two decimals."""
    body = []
    for r in rows:
        places = 2 if r["name"] in money else 4
        css = "changed" if r["a"] != r["b"] else ""
        cells = _td(r["name"]) + _td(r["a"], css, places) + _td(r["b"], css, places)
        if difference:
            cells += f"<td>{escape(fmt(r['difference'], '+', places))}</td>"
        body.append(f"<tr>{cells}</tr>")
    return _table([first, a, b, *([f"{a} - {b}"] if difference else [])], body)


def _verdict_css(verdict: Any) -> str:
    return {"passed": "passed", "failed": "failed"}.get(str(verdict), "insufficient")


def _gates(rows: list[dict], a: str, b: str) -> str:
    def side(found: dict | None) -> str:
        if found is None:
            return "<td>not held to it</td><td></td><td></td>"
        css = _verdict_css(found["verdict"])
        return _td(found["verdict"], css) + _td(found["value"]) + _td(found["threshold"])

    body = ["<tr>" + _td(r["gate"]) + side(r["a"]) + side(r["b"]) + "</tr>" for r in rows]
    header = ["gate", f"{a} verdict", f"{a} value", f"{a} bound", f"{b} verdict", f"{b} value", f"{b} bound"]
    return _table(header, body, "no gate recorded")


def _slices(rows: list[dict], a: str, b: str) -> str:
    def side(found: dict | None) -> str:
        if found is None:
            return "<td>not in its report</td><td></td><td></td>"
        judged = "" if found["judged"] else " (not judged)"
        delta = fmt(found["delta"], "+")
        if found.get("delta_low") is not None:
            delta += f" [{fmt(found['delta_low'], '+')}, {fmt(found['delta_high'], '+')}]"
        return (
            f"<td>{escape(fmt(found['rows']))} / {escape(fmt(found['positives']))}{escape(judged)}</td>"
            + f"<td>{escape(str(found['metric']))} {escape(fmt(found['value']))}</td>"
            + f"<td>{escape(delta)}</td>"
        )

    body = ["<tr>" + _td(r["slice"]) + side(r["a"]) + side(r["b"]) + "</tr>" for r in rows]
    header = ["slice", f"{a} rows / positives", f"{a} value", f"{a} vs its champion"]
    header += [f"{b} rows / positives", f"{b} value", f"{b} vs its champion"]
    return _table(header, body, "no slice in either gate report")


def _intervals(intervals: dict, a: str, b: str) -> str:
    def line(found: dict | None) -> str:
        if not found:
            return "no champion when it was judged: no interval"
        level = found.get("confidence")
        level_text = f"{level:.0%} " if isinstance(level, float) else ""
        against = found.get("champion_version")
        whom = f"v{fmt(against)}" if against is not None else "the champion of then (no gate report names it)"
        return (
            f"{fmt(found.get('estimate'), '+')}, {level_text}interval [{fmt(found.get('low'), '+')}, "
            f"{fmt(found.get('high'), '+')}] against {whom}"
        )

    paired = intervals.get("paired")
    if paired:
        text = f"paired bootstrap difference {a} - {b} on v{paired['holdout_of']}'s holdout: " + line(paired)
    else:
        text = (
            f"{a} and {b} were not judged against each other: their figures come from different holdouts, "
            "so their difference has no paired interval"
        )
    return (
        f"<p>{escape(text)}</p><ul><li>{escape(a)}: {escape(line(intervals.get('a')))}</li>"
        f"<li>{escape(b)}: {escape(line(intervals.get('b')))}</li></ul>"
    )


def _params(rows: list[dict], a: str, b: str) -> str:
    body = [_row(r["key"], json.dumps(r["a"], default=str), json.dumps(r["b"], default=str)) for r in rows]
    return _table(["key", a, b], body, "no param, tuning, imbalance or calibration setting differs")


def _features(found: dict, a: str, b: str) -> str:
    def items(names: list[str]) -> str:
        return "".join(f"<li><code>{escape(n)}</code></li>" for n in names) or "<li>none</li>"

    return (
        f"<p>{escape(a)}: {len(found['a'])} feature(s); {escape(b)}: {len(found['b'])} feature(s)</p>"
        f"<p>in {escape(a)}, not in {escape(b)} (added)</p><ul>{items(found['added'])}</ul>"
        f"<p>in {escape(b)}, not in {escape(a)} (removed)</p><ul>{items(found['removed'])}</ul>"
    )


def _batches(found: dict, a: str, b: str) -> str:
    names = list(found["a"] | found["b"])
    body = [_row(n, found["a"].get(n), found["b"].get(n)) for n in names]
    return _table(["batch", f"{a} sha256", f"{b} sha256"], body, "no batch recorded")


def _history(found: dict, name: str) -> str:
    answers = [
        _row(
            x.get("recorded_at"),
            x.get("kind"),
            x.get("option"),
            x.get("actor"),
            x.get("comment") or x.get("reason"),
        )
        for x in found["answer"]
    ]
    approvals = [_row(e["at"], e["event"], e["option"], e["actor"], e["reason"]) for e in found["approvals"]]
    moves = [
        _row(e["at"], e["event"], e["alias"] or e["mode"], e["share"], e["actor"], e["reason"])
        for e in found["moves"]
    ]
    return (
        f"<h4>{escape(name)}: approval</h4>"
        + _table(["at", "answer", "option", "by", "why"], answers + approvals, "no approval recorded")
        + f"<h4>{escape(name)}: deployment</h4>"
        + _table(["at", "event", "alias / mode", "share %", "by", "why"], moves, "never deployed")
    )


def render(found: dict[str, Any]) -> str:
    """The whole page of a comparison (`registry.compare.comparison`)."""
    model, champion = found["model"], found["champion"]
    va, vb = found["a"]["version"], found["b"]["version"]
    a, b = f"v{va}", f"v{vb}"

    def named(version: int) -> str:
        return f"v{version}" + (" (champion)" if version == champion else "")

    def report(version: int) -> str:
        route = layout.GATE_REPORT_ROUTE.format(version=int(version), model=quote(model, safe=""))
        return f'<a href="{escape(route)}">gate report v{int(version)}</a>'

    problems = "".join(f"<p class='failed'>{escape(p)}</p>" for p in found["problems"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(model)}: {escape(a)} against {escape(b)}</title>"
        f"<style>{STYLE}{EXTRA_STYLE}</style></head><body>"
        f"<h1>{escape(model)}: {escape(named(va))} against {escape(named(vb))}</h1>"
        f"<p><a href='./'>model registry</a> · {report(va)} · {report(vb)} · {escape(a)} as of "
        f"{escape(fmt(found['a']['as_of']))}, {escape(b)} as of {escape(fmt(found['b']['as_of']))}</p>"
        f"{problems}"
        "<h3>Metrics (each on its own holdout)</h3>"
        + _side_by_side(found["metrics"], a, b, "metric")
        + _intervals(found["intervals"], a, b)
        + "<h3>Gates</h3>"
        + _gates(found["gates"], a, b)
        + "<h3>Slices</h3>"
        + _slices(found["slices"], a, b)
        + "<h3>Costs (each on its own holdout, at its own threshold)</h3>"
        + _side_by_side(found["costs"], a, b, "cost", money=MONEY)
        + "<h3>Params diff (params, tuning, imbalance, calibration)</h3>"
        + _params(found["params"], a, b)
        + "<h3>Training window and rows</h3>"
        + _side_by_side(found["window"], a, b, "", difference=True)
        + "<h3>Data</h3>"
        + _side_by_side(found["data"], a, b, "", difference=False)
        + _batches(found["batches"], a, b)
        + "<h3>Features</h3>"
        + _features(found["features"], a, b)
        + "<h3>Calibration (holdout)</h3>"
        + _side_by_side(found["calibration"], a, b, "", difference=True)
        + "<h3>Approval and deployment (audit log)</h3>"
        + _history(found["history"]["a"], a)
        + _history(found["history"]["b"], b)
        + "</body></html>"
    )
