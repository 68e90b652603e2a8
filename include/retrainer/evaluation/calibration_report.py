"""The gate report's calibration section: how far the challenger's scores are from the positive rates they
claim on the holdout, uncalibrated and calibrated (`core.calibration.assessment`): ECE and Brier score in
Markdown, and a reliability diagram (matplotlib; `evaluation.report` inlines it as SVG, no JavaScript)."""

from __future__ import annotations

from typing import Any

from retrainer.core.markup import text

SIDES = {"uncalibrated": "raw model", "calibrated": "calibrated"}
FLOOR = 1e-4  # the log axes' lower end: a bin without positives (rate 0) is drawn on it


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(section: dict[str, Any], positives: str = "positives") -> list[str]:
    """The section "Calibration" as Markdown paragraphs and a table, from the gate report's `calibration`
    (`core.calibration.assessment`). `positives`: the model's word for rows labelled 1, escaped already."""
    method = section["method"]
    fitted = section.get("fitted_on") or {}
    if method == "off":
        how = "Scores are the model's raw ones (`train.calibration: off`)."
        if section.get("reason"):
            how = f"Not calibrated: {text(section['reason'])}."
    else:
        how = (
            f"Scores are calibrated ({text(method)}, fitted on the {fitted.get('rows', 0):,} validation "
            f"rows, {fitted.get('positives', 0):,} {positives}); the decision threshold is chosen on the "
            "calibrated scale, and since the map is strictly increasing it alerts the same rows as before "
            "calibration."
        )
    rows = [
        [
            name,
            _num(section[side]["ece"]),
            _num(section[side]["brier"], 5),
            _num(section[side]["mean_score"], 5),
            _num(section["positive_rate"], 5),
        ]
        for side, name in SIDES.items()
    ]
    table = "\n".join(
        [
            f"| scores | ECE | Brier score | mean score | rate of {positives} |",
            "|---|---|---|---|---|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    )
    return [
        "## Calibration",
        how,
        f"On the {section['rows']:,} holdout rows, in {section['bins']} bins of equal rows by score: ECE "
        f"is the rows' mean distance between a bin's mean score and its rate of {positives} (0: a score "
        f"of 0.02 means 2 % {positives}); the Brier score is the mean squared error of the scores (lower "
        "is better). The reliability diagram below draws each bin on log axes (a bin without "
        f"{positives} sits on the lower edge).",
        table,
    ]


def reliability_figure(section: dict[str, Any], plt) -> Any:
    """The reliability diagram of the gate report's `calibration` (a matplotlib figure, drawn with `plt`):
    each bin's positive rate against its mean score, raw and calibrated, on log axes (rare positives put
    most bins near 0), the diagonal being perfect calibration."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot([FLOOR, 1], [FLOOR, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    for side, name in SIDES.items():
        if section["method"] == "off" and side == "calibrated":
            continue  # the same points twice
        table = section[side]["reliability"]
        ax.plot(
            [max(b["mean_score"], FLOOR) for b in table],
            [max(b["positive_rate"], FLOOR) for b in table],
            marker="o",
            label=f"{name} (ECE {_num(section[side]['ece'])})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlim=(FLOOR, 1), ylim=(FLOOR, 1), xlabel="mean score of the bin")
    ax.set_ylabel("positive rate of the bin")
    ax.set_title("Reliability on the holdout (bins of equal rows)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
