"""The gate report for people: Markdown (for logs and the approval step) and a self-contained HTML page
with the precision-recall and cost curves, stored with the registry version.

The figures are drawn with matplotlib (Agg backend) as inline SVG, not as Vega-Lite: the page must render
years later from the registry alone, offline, without fetching a JavaScript library. The same curve data
is also declared as DVC plots (`dvc plots diff`) for comparing runs in DVC's own tools.
"""

from __future__ import annotations

import io
from html import escape
from typing import Any

from retrainer.core.artifacts import RAW_COLUMNS
from retrainer.core.markup import text
from retrainer.evaluation import calibration_report
from retrainer.evaluation.gates import FAILED, INSUFFICIENT, METRIC_NAMES
from retrainer.registry.aliases import CHALLENGER, CHAMPION

MODELS = ("challenger", "champion", "baseline", "rule")
RELIABILITY = "Reliability on the holdout"  # the title of the calibration's figure


def _num(value: Any, digits: int = 4, signed: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool | int):
        return str(value)
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _verdict(verdict: str) -> str:
    # Plain words: they read the same in a terminal, in Markdown and in a browser without emoji fonts.
    return {"passed": "passed", FAILED: "**FAILED**", INSUFFICIENT: "_insufficient data_"}[verdict]


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of cells that are Markdown already: text from data went through `text`, which
    also escapes its `|`, so a cell cannot split in two."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    """The gate report (the JSON of `tasks.evaluate`) as Markdown: verdict, gates, interval, money,
    slices and the models' metrics. Every text from data or configuration (model name, slice names made
    of category levels, gate details, the positives' word) is escaped (`core.markup.text`): it renders as
    itself, never as HTML, a link or an image."""
    champion = report["metrics"].get(CHAMPION)
    # the model's word for rows labelled 1 (model.positives)
    positives = text(report.get("positives", "positives"))
    headline = METRIC_NAMES[report.get("headline_metric", "pr_auc")]
    slice_metric = report["slices"].get("metric", "roc_auc")
    verdict = "PASSED every gate" if report["passed"] else "REJECTED"
    failed = [g for g in report["gates"] if g["verdict"] == FAILED]
    parts = [
        f"# Gate report: {text(report['model'])} run {text(report['run_key'])}",
        f"**Challenger {verdict}**"
        + (f" ({len(failed)} failed gate(s): {', '.join(_gate_label(g) for g in failed)})" if failed else "")
        + (
            f"; compared with champion version {text(report['champion_version'])}."
            if champion
            else "; no champion yet."
        ),
    ]

    overall = [g for g in report["gates"] if g["slice"] is None]
    parts += [
        "## Gates",
        _table(
            ["gate", "value", "threshold", "verdict", "detail"],
            [
                [
                    text(g["name"]),
                    _num(g["value"]),
                    _num(g["threshold"]),
                    _verdict(g["verdict"]),
                    text(g["detail"]),
                ]
                for g in overall
            ],
        ),
    ]

    interval = report["non_regression"]
    parts.append("## Non-regression against the champion")
    if interval:
        parts.append(
            f"{headline} challenger − champion: **{interval['estimate']:+.4f}**, "
            f"{interval['confidence']:.0%} paired bootstrap interval "
            f"**[{interval['low']:+.4f}, {interval['high']:+.4f}]** "
            f"({interval['resamples']} resamples of the holdout rows, seed {interval['seed']}); the interval "
            + ("excludes zero." if interval["excludes_zero"] else "includes zero: no difference is shown.")
        )
    else:
        parts.append("No champion yet: nothing to compare with.")

    costs = report["costs"]
    parts += [
        "## Money",
        f"Expected cost = missed {positives}' amount + {costs['review_cost_per_alert']:g} × alerts, on the "
        "holdout, each model at its own decision threshold (chosen on validation data; the champion's is "
        "stored with its registry version).",
        _table(
            ["model", "threshold", "alerts", f"missed {positives}", "review cost", "expected cost"],
            [
                [
                    text(model),
                    _num(c["threshold"]),
                    str(c["alerts"]),
                    _money(c["missed_fraud_amount"]),
                    _money(c["review_cost"]),
                    _money(c["total"]),
                ]
                for model, c in costs["models"].items()
            ],
        ),
    ]
    if costs["saved_vs_champion"] is not None:
        saved = costs["saved_vs_champion"]
        parts.append(
            f"**Saved against the champion: {_money(saved)}**"
            if saved >= 0
            else f"**Costs {_money(-saved)} more than the champion**"
        )

    slices = report["slices"]
    by_slice: dict[str, dict[str, dict]] = {}
    for gate in report["gates"]:
        if gate["slice"] is not None:
            by_slice.setdefault(gate["slice"], {})[gate["name"]] = gate
    parts += [
        "## Slices",
        f"Judged on {METRIC_NAMES[slice_metric]}; a slice with fewer than {slices['min_positives']} "
        f"{positives} is not judged. "
        f"Intervals are {slices['confidence']:.1%} (Bonferroni over the judged slices).",
        _table(
            [
                "slice",
                "rows",
                positives,
                "challenger",
                "champion",
                "difference",
                "interval",
                "floor",
                "regression",
            ],
            [
                [
                    text(row["slice"]),
                    str(row["rows"]),
                    str(row["positives"]),
                    _num(row[f"{CHALLENGER}_{slice_metric}"]),
                    _num(row.get(f"{CHAMPION}_{slice_metric}")),
                    _num(row["delta"], signed=True),
                    "–"
                    if row["delta_low"] is None
                    else f"[{row['delta_low']:+.4f}, {row['delta_high']:+.4f}]",
                    _verdict(by_slice[row["slice"]]["min_slice_roc_auc"]["verdict"]),
                    _verdict(by_slice[row["slice"]]["no_slice_regression"]["verdict"]),
                ]
                for row in slices["rows"]
            ],
        ),
        "## Models on the holdout",
        _table(
            ["model", "PR-AUC", "ROC-AUC", f"recall at {report['fpr_target']:.0%} FPR", positives, "rows"],
            [
                [
                    text(model),
                    _num(m["pr_auc"]),
                    _num(m["roc_auc"]),
                    _num(m["recall_at_fpr"]),
                    str(m["positives"]),
                    str(m["rows"]),
                ]
                for model, m in report["metrics"].items()
            ],
        ),
    ]
    if report.get(RAW_COLUMNS):  # only a model that declares derived features has it
        parts += _raw_columns(report[RAW_COLUMNS])
    if report.get("calibration"):  # ECE and Brier score, raw and calibrated (none before calibration)
        parts += calibration_report.markdown(report["calibration"], positives)
    return "\n\n".join(parts) + "\n"


def _raw_columns(comparison: dict) -> list[str]:
    """The section "Declared features against the raw columns alone": the challenger beside the same
    XGBoost fitted on the raw columns only (`evaluation.holdout.raw_columns_comparison`). Not a gate."""
    parts = ["## Declared features against the raw columns alone"]
    columns = ", ".join(text(c) for c in comparison.get("columns") or []) or "none"
    if not comparison["comparable"]:
        return [*parts, f"Not comparable: {text(comparison.get('reason', ''))}."]
    return [
        *parts,
        "The same XGBoost (same params, seed and splits), fitted again on the raw columns alone "
        f"({columns}), on the holdout. Informative: not a gate.",
        _table(
            ["model", "features", "PR-AUC", "ROC-AUC"],
            [
                [
                    f"challenger: declared features ({comparison['derived']} derived)",
                    str(comparison["challenger_features"]),
                    _num(comparison["challenger_pr_auc"]),
                    _num(comparison["challenger_roc_auc"]),
                ],
                [
                    "raw columns alone",
                    str(comparison["features"]),
                    _num(comparison["pr_auc"]),
                    _num(comparison["roc_auc"]),
                ],
            ],
        ),
        f"**Declared features vs raw columns alone: PR-AUC {_num(comparison['challenger_pr_auc'])} against "
        f"{_num(comparison['pr_auc'])}, lift {_num(comparison['lift'], signed=True)}**",
    ]


def _gate_label(gate: dict) -> str:
    name = text(gate["name"])
    return f"{name} [slice {text(gate['slice'])}]" if gate["slice"] else name


def figures(curves: dict, calibration: dict | None = None) -> dict[str, str]:
    """The precision-recall and cost curves as SVG text, {title: svg}, and the reliability diagram of the
    report's `calibration` section if given."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to files only
    from matplotlib import pyplot as plt

    with plt.rc_context({"svg.hashsalt": "retrainer-report"}):  # stable element ids: same data, same page
        svgs = _figures(curves, plt)
        if calibration:
            svgs[RELIABILITY] = _svg(calibration_report.reliability_figure(calibration, plt))
        return svgs


def _figures(curves: dict, plt) -> dict[str, str]:
    svgs = {}
    pr, cost = curves["pr"], curves["cost"]
    models = [m for m in MODELS if m in pr[0]]

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for model in models:
        ax.plot([r["recall"] for r in pr], [r[model] for r in pr], label=model, drawstyle="steps-post")
    ax.set(xlabel="recall", ylabel="precision (interpolated)", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("Precision-recall on the holdout")
    ax.grid(alpha=0.3)
    ax.legend()
    svgs["Precision-recall on the holdout"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for model in models:
        line = ax.plot([r["alerts"] for r in cost], [r[model] for r in cost], label=model)[0]
        if (alerts := curves["decision_alerts"].get(model)) is not None:
            ax.axvline(max(alerts, 1), color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set(xlabel="alerts (dotted: at each model's decision threshold)", ylabel="expected cost")
    ax.set_title("Expected cost on the holdout")
    ax.grid(alpha=0.3)
    ax.legend()
    svgs["Expected cost on the holdout"] = _svg(fig)
    return svgs


def _svg(fig) -> str:
    from matplotlib import pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Date": None})  # no timestamp: the same run, the same page
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG sits inside HTML


def render_html(report: dict, curves: dict) -> str:
    """One self-contained HTML page: the Markdown report rendered, then the figures inline."""
    from markdown_it import MarkdownIt

    # Raw HTML off: the Markdown is ours, and any tag in it came from data (a category level in a slice
    # name, say) that `text` should have escaped already; this page is served inside the Airflow UI.
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(render_markdown(report))
    svgs = figures(curves, report.get("calibration"))
    plots = "\n".join(f'<figure aria-label="{escape(title)}">{svg}</figure>' for title, svg in svgs.items())
    title = escape(f"Gate report: {report['model']} run {report['run_key']}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }}
figure {{ display: inline-block; margin: 0.5rem; }}
</style></head>
<body>
{body}
<h2>Curves</h2>
{plots}
</body></html>
"""
