"""The drift report for people: one self-contained HTML page rendered from the JSON report alone
(verdict, ranked root cause, per-feature table, reference-vs-current plots as inline SVG, no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

from retrainer.drift.estimate_html import estimate_section
from retrainer.drift.svg import inline_svg as _svg


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool | int):
        return str(value)
    return f"{value:.{digits}f}" if abs(value) >= 10**-digits or value == 0 else f"{value:.2e}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        f'<tr class="{escape(css)}">' + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
        for row, css in zip(rows, classes or [""] * len(rows), strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _feature_rows(data: dict) -> tuple[list[list[str]], list[str]]:
    rows, classes = [], []
    for f in data["features"]:
        test = f.get("test")
        distance = f["distance"]
        rows.append(
            [
                str(f["rank"]),
                f"<b>{escape(f['feature'])}</b>" if f["verdict"] == "drift" else escape(f["feature"]),
                escape(str(f["kind"])),
                escape(f["verdict"]),
                _num(f["psi"]),
                _pct(f["contribution"]),
                f"{escape(distance['name'])} {_num(distance['value'])}",
                "–" if not test else f"{escape(str(test['name']))} {_num(test['p_adjusted'])}",
                _pct(f["missing_share"]["current"]),
                _pct(f["unseen"]["share"]) if "unseen" in f else "–",
                escape(", ".join(f["exceeds"])) or "–",
            ]
        )
        classes.append("drift" if f["verdict"] == "drift" else "")
    return rows, classes


def figures(plots: dict) -> dict[str, str]:
    """Reference vs current distribution of each plotted feature, {feature: svg}."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to text only
    from matplotlib import pyplot as plt

    svgs = {}
    # Feature names and category levels are data: drawn as plain text (matplotlib escapes it in the SVG),
    # never parsed as mathtext, where a level like `$\x$` would stop the whole report with a parse error.
    settings = {"svg.hashsalt": "retrainer-drift", "svg.fonttype": "path", "text.parse_math": False}
    with plt.rc_context(settings):
        for name, plot in plots.items():
            fig, ax = plt.subplots(figsize=(5.6, 3.4))
            if plot["kind"] == "histogram":
                edges = plot["edges"]
                for side, style in (("reference", {"alpha": 0.45}), ("current", {"alpha": 0.45})):
                    ax.stairs(plot[side], edges, fill=True, label=side, **style)
                ax.set(xlabel=name, ylabel="density")
            else:
                labels = plot["labels"]
                keep = [i for i, _ in enumerate(labels) if plot["reference"][i] or plot["current"][i]]
                x = range(len(keep))
                ax.bar([i - 0.2 for i in x], [plot["reference"][i] for i in keep], 0.4, label="reference")
                ax.bar([i + 0.2 for i in x], [plot["current"][i] for i in keep], 0.4, label="current")
                ax.set_xticks(list(x), [labels[i] for i in keep], rotation=45, ha="right")
                ax.set(ylabel="share of rows")
            ax.set_title(f"{name}: reference vs current")
            ax.legend()
            svgs[name] = _svg(fig)
    return svgs


def _multivariate_item(part: dict) -> str:
    """The joint test in one list item: AUC against its permutation threshold and floor, and the features
    the classifier relied on (names are data: escaped)."""
    relied = ", ".join(f"{escape(str(f['feature']))} ({_num(f['importance'])})" for f in part["features"])
    if part.get("auc") is None:
        return (
            f"<li>Joint and shape drift (classifier two-sample test): <b>{escape(part['verdict'])}</b> "
            f"({escape(str(part.get('reason', '')))})</li>"
        )
    return (
        f"<li>Joint and shape drift (a classifier telling current from reference rows): "
        f"<b>{escape(part['verdict'])}</b> (held-out AUC {_num(part['auc'])}; drift needs it above "
        f"{_num(part['threshold'])}, the {_num(100 * (1 - part['alpha']), 1)}th percentile of "
        f"{escape(str(part['permutations']))} label permutations, and at least {_num(part['min_auc'])}; "
        f"permutation p {_num(part['p_value'])})"
        + (f"; relied on (AUC lost when shuffled): {relied}" if relied else "")
        + "</li>"
    )


def _days_item(judged: dict) -> str:
    """The whole days the monitor judged (retrainer.monitoring.days), each landed, and any partition missing
    from the labels' lookback (named, not skipped without a word)."""
    each = ", ".join(
        f"{escape(d['day'])} ({d['rows']} events, the last at {escape(str(d['last_event']))})"
        for d in judged["days"]
    )
    missing = judged.get("lookback_missing_partitions") or []
    gone = f"; missing from the labels' lookback: {escape(', '.join(missing))}" if missing else ""
    return f"<li>Days judged, whole days in {escape(judged['zone'])}, each fully landed: {each}{gone}</li>"


def _part_summary(report: dict) -> str:
    items = [_days_item(report["days"])] if report.get("days") else []
    if prediction := report.get("prediction"):
        rate = prediction.get("alert_rate", {})
        current, holdout = rate.get("current", {}).get("rate"), rate.get("holdout", {}).get("rate")
        limits = prediction["thresholds"]
        items.append(
            f"<li>Prediction drift: <b>{escape(prediction['verdict'])}</b> (score PSI "
            f"{_num(prediction.get('psi'))}, threshold {_num(limits['psi'])}; alert rate {_pct(current)} vs "
            f"holdout {_pct(holdout)}, ratio {_num(rate.get('ratio'))}, allowed "
            f"x{_num(limits['max_alert_rate_ratio'])})</li>"
        )
    if multivariate := report.get("multivariate"):
        items.append(_multivariate_item(multivariate))
    if performance := report.get("performance"):
        window = performance.get("window") or {}
        # "matured": events older than the label maturity horizon, whose labels are all in
        items.append(
            f"<li>Performance on matured labels (events {escape(str(window.get('start')))} to "
            f"{escape(str(window.get('end')))}, older than the label maturity horizon; judged "
            f"{escape(performance['as_of'])}): "
            f"<b>{escape(performance['verdict'])}</b> (PR-AUC {_num(performance['pr_auc'])} vs holdout "
            f"{_num(performance['holdout_pr_auc'])}, allowed drop {_num(performance['max_pr_auc_drop'])} "
            f"beyond the sample's noise; "
            f"{performance['positives']} positives of {performance['rows']['matured']} matured rows, "
            f"at least {performance['min_positives']} and both classes needed)</li>"
        )
    if slices := report.get("slices"):
        judged = [e for e in slices["slices"] if e["roc_auc"] is not None]
        worst = ", ".join(
            f"{escape(e['slice'])} {_num(e['roc_auc'])} vs {_num(e['holdout_roc_auc'])}"
            for e in sorted(judged, key=lambda e: -e["drop"])[:3]
        )
        items.append(
            f"<li>Performance per slice (ROC-AUC on the same matured rows vs the holdout's slice): "
            f"<b>{escape(slices['verdict'])}</b> ({len(judged)} of {len(slices['slices'])} slices judged, "
            f"allowed drop {_num(slices['max_roc_auc_drop'])}; lowest: {worst or 'none'})</li>"
        )
    if persistence := report.get("persistence"):
        confirmed = "confirmed" if persistence["confirmed"] else "not confirmed"
        items.append(
            f"<li>Persistence: drifted {persistence['streak']} run(s) in a row, "
            f"{persistence['required']} required: <b>{confirmed}</b></li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _no_single_feature(report: dict) -> str:
    """The root cause when no feature drifted alone: the joint test's features, if it drifted."""
    joint = report.get("multivariate") or {}
    if joint.get("verdict") == "drift" and joint.get("root_cause"):
        names = ", ".join(escape(str(name)) for name in joint["root_cause"])
        return f"<p>No feature drifted alone; the joint test relied on: {names}.</p>"
    return "<p>No feature drifted.</p>"


def render_html(report: dict, title: str | None = None) -> str:
    """One self-contained HTML page for a `drift_check` report (or a bare `data_drift` report). Every text
    from data or configuration (feature names, category levels, the run, the title) is HTML-escaped."""
    data = report.get("data", report)
    verdict = report.get("verdict", data["verdict"])
    title = title or f"Drift report{' ' + report['run'] if report.get('run') else ''}"
    cause = data["root_cause"]
    by_name = {f["feature"]: f for f in data["features"]}
    cause_items = "".join(
        f"<li><b>{escape(name)}</b>: PSI {_num(by_name[name]['psi'])} "
        f"({_pct(by_name[name]['contribution'])} of the total), {escape(by_name[name]['distance']['name'])} "
        f"{_num(by_name[name]['distance']['value'])}</li>"
        for name in cause
    )
    rows, classes = _feature_rows(data)
    header = [
        "rank",
        "feature",
        "kind",
        "verdict",
        "PSI",
        "share of PSI",
        "distance",
        "test (BH-adjusted p)",
        "missing",
        "unseen",
        "over threshold",
    ]
    thresholds = ", ".join(f"{escape(k)} ≥ {_num(v)}" for k, v in data["thresholds"].items())
    tests = data["tests"]
    plots = "\n".join(
        f'<figure aria-label="{escape(name)}">{svg}</figure>' for name, svg in figures(data["plots"]).items()
    )
    as_of = f" · as of {escape(report['as_of'])}" if report.get("as_of") else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 80rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }}
th {{ background: #f4f4f4; }}
tr.drift td {{ background: #fdecea; }}
div.gap {{ background: #fdecea; border-left: 4px solid #c0392b; padding: 0.25rem 1rem; }}
figure {{ display: inline-block; margin: 0.5rem; }}
</style></head>
<body>
<h1>{escape(title)}</h1>
<p>Verdict: <b>{escape(verdict)}</b>{as_of} · reference {escape(str(data["rows"]["reference"]))} rows,
current {escape(str(data["rows"]["current"]))} rows</p>
{_part_summary(report)}
{estimate_section(report["estimate"]) if report.get("estimate") else ""}
<h2>Root cause</h2>
{f"<ol>{cause_items}</ol>" if cause else _no_single_feature(report)}
<h2>Features</h2>
<p>Drift when an effect size reaches its threshold ({thresholds}). Tests run only where the smaller side
has at most {escape(str(tests["max_rows_for_tests"]))} rows ({escape(str(tests["features_tested"]))}
feature(s) here); their p-values are {escape(tests["correction"])}-adjusted and must also be below
{_num(tests["alpha"])}.</p>
{_table(header, rows, classes)}
<h2>Distributions of the top features</h2>
{plots}
</body></html>
"""
