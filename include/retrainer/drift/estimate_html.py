"""The drift report's section on estimated performance (retrainer.monitoring.estimates): each day's
estimate from the scores with its interval, the breaches, the track record of past estimates against their
realised figures, the gaps flagged, and an inline SVG plot of estimate and realised PR-AUC over time."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from retrainer.drift.svg import inline_svg

NAMES = {"pr_auc": "PR-AUC", "recall": "recall at the threshold", "cost": "expected cost"}


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _figure(figure: dict, digits: int = 3) -> str:
    low, high = _num(figure["low"], digits), _num(figure["high"], digits)
    return f"{_num(figure['estimate'], digits)} [{low}, {high}]"


def plot(series: list[dict], floor: float | None) -> str:
    """Estimated PR-AUC (line, with its interval shaded) and realised PR-AUC (dots) per day, as SVG with
    no URL in it (matplotlib, the same settings as the drift plots); empty without a day."""
    if not series:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    settings = {"svg.hashsalt": "retrainer-estimate", "svg.fonttype": "path", "text.parse_math": False}
    with plt.rc_context(settings):
        fig, ax = plt.subplots(figsize=(8.5, 3.2))
        first = date.fromisoformat(series[0]["day"])
        x = [(date.fromisoformat(s["day"]) - first).days for s in series]  # a day not scored leaves a gap
        nan = float("nan")
        value = [nan if s["estimate"] is None else s["estimate"] for s in series]
        low = [nan if s["low"] is None else s["low"] for s in series]
        high = [nan if s["high"] is None else s["high"] for s in series]
        seen = [nan if s["realised"] is None else s["realised"] for s in series]
        ax.fill_between(x, low, high, alpha=0.25, label="interval")
        ax.plot(x, value, marker=".", label="estimated (scores only)")
        ax.plot(x, seen, "o", color="black", label="realised (matured labels)")
        missed = [i for i, s in enumerate(series) if s["realised"] is not None and s["low"] is not None
                  and not s["low"] <= s["realised"] <= s["high"]]  # fmt: skip
        if missed:
            ax.plot([x[i] for i in missed], [seen[i] for i in missed], "o", color="red", label="missed")
        if floor is not None:
            ax.axhline(floor, color="red", linestyle="--", linewidth=1, label="bound")
        step = max(1, len(series) // 8)
        ax.set_xticks(x[::step], [s["day"][5:] for s in series][::step])
        ax.set(ylabel="PR-AUC", title="Estimated vs realised PR-AUC per scored day")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the plot, not over it
        return inline_svg(fig)


def estimate_section(part: dict) -> str:
    """The section for a monitor run's `estimate` part; every day, version and figure escaped."""
    floor = part.get("min_pr_auc")
    rows = []
    for entry in part["days"]:
        figure = entry["estimate"]
        value = figure["pr_auc"]["estimate"]
        breach = floor is not None and value is not None and value < floor
        rows.append(
            f'<tr class="{"drift" if breach else ""}"><td>{escape(entry["day"])}</td>'
            f"<td>v{escape(str(entry['champion_version']))}</td>"
            f"<td>{_num(figure['expected_positives'], 1)}</td>"
            f"<td>{escape(_figure(figure['pr_auc']))}</td><td>{escape(_figure(figure['recall']))}</td>"
            f"<td>{escape(_figure(figure['cost'], 0))}</td></tr>"
        )
    record = part["track_record"]
    graded = "".join(
        f"<tr><td>{escape(NAMES[name])}</td><td>{f['days']}</td><td>{_num(f['mean_abs_error'])}</td>"
        f"<td>{_num(f['mean_error'])}</td><td>{_share(f['coverage'])}</td></tr>"
        for name, f in record["figures"].items()
    )
    gaps = "".join(
        f"<li><b>{escape(g['day'])}</b>: realised PR-AUC {_num(g['realised'])}, estimated "
        f"{_num(g['estimate'])} [{_num(g['low'])}, {_num(g['high'])}]</li>"
        for g in record["gaps"]
    )
    gap_text = (
        f'<div class="gap"><p><b>Estimate missed: realised PR-AUC outside the interval on '
        f"{len(record['gaps'])} day(s).</b> The scores no longer mean what they did (concept drift: fraud "
        f"changed in a way the inputs do not show); an estimate from the scores cannot see it, only the "
        f"matured labels can.</p><ul>{gaps}</ul></div>"
        if gaps
        else ""
    )
    confidence = part["settings"]["confidence"]
    table = (
        "<table><thead><tr><th>day</th><th>champion</th><th>expected positives</th><th>PR-AUC</th>"
        f"<th>recall at threshold</th><th>cost</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No scored day estimated in this run.</p>"
    )
    drawn = plot(record["series"], floor)
    figure = f'<figure aria-label="estimated vs realised PR-AUC">{drawn}</figure>' if drawn else ""
    not_scored = ", ".join(escape(d) for d in part.get("not_scored", []))
    not_scored = f" Not scored: {not_scored}." if not_scored else ""
    return f"""<h2>Estimated performance (from the scores, before labels)</h2>
<p>Verdict: <b>{escape(part["verdict"])}</b>; bound: estimated PR-AUC at least {_num(floor)}. Each score is
taken as the probability of fraud (calibrated scores); figures are estimate [{100 * confidence:.0f}%
interval] over {escape(str(part["settings"]["samples"]))} label draws.{not_scored}</p>
{table}
<h3>Track record since {escape(record["since"])} ({escape(str(record["weeks"]))} weeks)</h3>
<p>Days whose labels matured: the realised figure against the estimate (error = realised - estimate).</p>
<table><thead><tr><th>figure</th><th>days</th><th>mean abs. error</th><th>mean error</th>
<th>inside the interval</th></tr></thead><tbody>{graded}</tbody></table>
{gap_text}
{figure}
"""
