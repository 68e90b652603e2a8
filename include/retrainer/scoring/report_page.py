"""A scored day's report (`scores/<model>/date=<day>/report.json`, `scoring.report.day_report`) as a page a
person reads in the Airflow UI (the registry plugin's `/scores/<model>/<day>/report.html`): the headline
figures of champion and challenger, the breaches of the run's health bounds, then every stored figure.

Pure: stored JSON in, HTML out. Every value is escaped (the report is stored data, read back as whatever it
holds) and the page holds no script, so the plugin serves it under its NO_SCRIPT policy.
"""

from __future__ import annotations

import json
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

from retrainer.core import layout
from retrainer.registry.ui import NotServed, check_model
from retrainer.scoring.health import describe
from retrainer.storage import KeyNotFound, Storage

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2937; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .3rem .7rem; text-align: left; font-size: .85rem;
         vertical-align: top; }
th { background: #f3f4f6; } .failed { color: #b91c1c; } .ok { color: #047857; } pre { font-size: .8rem; }
"""

# The figures a person checks first, in the order they read them.
HEADLINE = (
    "day", "mode", "share", "rows", "champion", "challenger", "decided_by", "champion_alert_rate",
    "challenger_alert_rate", "alert_rate_ratio", "agreement", "challenger_psi", "challenger_error_rate",
    "decided_by_challenger", "deployment_revision", "as_of",
)  # fmt: skip


def _shown(value: Any) -> str:
    """A stored value as text: floats to four significant digits, the rest as JSON."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _flat(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, leaf) pairs of a nested report; lists stay whole leaves."""
    if not isinstance(tree, dict) or not tree:
        return [(prefix, tree)]
    pairs: list[tuple[str, Any]] = []
    for key, value in tree.items():
        pairs += _flat(value, f"{prefix}.{key}" if prefix else str(key))
    return pairs


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><td>{escape(k)}</td><td>{escape(_shown(v))}</td></tr>" for k, v in pairs)


def _breach(breach: Any) -> str:
    try:
        return describe(breach)
    except (KeyError, TypeError, ValueError):  # a breach stored by an older or newer writer: as stored
        return _shown(breach)


def render_day_report(model: str, report: dict[str, Any]) -> str:
    """The page of one scored day's report of `model` (the dict `day_report` stored)."""
    day = str(report.get("day", "?"))
    breaches = report.get("breaches") or []
    verdict = (
        f"<p class='failed'>{len(breaches)} figure(s) out of bounds:</p><ul>"
        + "".join(f"<li>{escape(_breach(b))}</li>" for b in breaches)
        + "</ul>"
        if breaches
        else "<p class='ok'>Every health figure within its bounds.</p>"
    )
    headline = [(k, report[k]) for k in HEADLINE if k in report]
    performance = _flat(report.get("performance"), "performance") if report.get("performance") else []
    # storage URIs are addresses for machines, no link a person opens from this page
    everything = [
        (k, v)
        for k, v in _flat(report)
        if k.split(".", 1)[0] not in {*HEADLINE, "alert", "breaches", "performance"}
        and not k.endswith("_uri")
    ]
    alert = f"<h2>Alert posted</h2><pre>{escape(str(report['alert']))}</pre>" if report.get("alert") else ""
    title = f"Scoring report: {model} {day}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{verdict}"
        f"<h2>Champion and challenger</h2><table><tr><th>figure</th><th>value</th></tr>{_rows(headline)}"
        f"{_rows(performance)}</table>{alert}"
        f"<h2>Every figure</h2><table><tr><th>figure</th><th>value</th></tr>{_rows(everything)}</table>"
        "</body></html>"
    )


def day_page(storage: Storage, project_dir: Path, model: str, day: str) -> str:
    """The page of a configured model's scored day (`day` as YYYY-MM-DD), read from its stored report;
    NotServed (the plugin's 404) naming the model and day when it is not a day or was not scored."""
    check_model(project_dir, model)
    try:
        day = date.fromisoformat(day).isoformat()
    except ValueError:
        raise NotServed(f"{day!r} is not a day (YYYY-MM-DD) the registry serves") from None
    key = layout.scores_file_key(model, day, layout.SCORE_REPORT_FILE)
    try:
        report = json.loads(storage.get_text(key))
    except KeyNotFound:
        raise NotServed(
            f"no scoring report of {model!r} for {day} ({key}): that day was not scored"
        ) from None
    return render_day_report(model, report)
