"""The health of one scoring run, held against `scoring.health` in params.yaml:

    input     per feature of the champion: missing share, out-of-range share (numbers outside the range
              its training reference spanned), unseen-category share (categories its reference never
              had), and drift against that reference (PSI, `retrainer.drift.data_drift`)
    output    rows, empty or NaN scores, alert rate, score quantiles
    software  seconds, rows per second, peak RSS of the scoring process, model load seconds

Each figure past its bound is a breach that names the figure, its value, the bound and the feature where
one applies; `score_<model>` alerts on them (Airflow's `HttpNotifier`, connection `retrainer_alerts`).
The training reference is the champion's own validation and holdout rows, as its training run published
them: what the model was judged on; for a version a drift-triggered run adapted to the drifted days, the
recent inputs it was adapted to (`training.adapt`).
"""

from __future__ import annotations

import resource
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core import artifacts
from retrainer.data.published import read_run, read_run_frame
from retrainer.drift import data_drift
from retrainer.drift.metrics import jsonable
from retrainer.features.matrix import numeric_inputs
from retrainer.registry.store import Registry

UPPER, LOWER = "max", "min"  # a bound's way: a figure above its max, or below its min, is a breach


def training_reference(registry: Registry, version: int | str) -> pd.DataFrame | None:
    """The rows a version is monitored against: the validation and holdout splits its training run
    published (the rows it was judged on), or for a version a drift-triggered run adapted to the drifted
    days, the recent inputs it was adapted to (`training.adapt`); read through their recorded sha256. None
    for a version that names no published run."""
    record = registry.get(version)
    if not record.get("run_manifest_uri"):
        return None
    run = read_run(registry.storage, record["run_manifest_uri"])
    if artifacts.RECENT in run["files"]:
        return read_run_frame(registry.storage, run, artifacts.RECENT)
    parts = [read_run_frame(registry.storage, run, artifacts.prepared(s)) for s in ("valid", "holdout")]
    return pd.concat(parts, ignore_index=True)


def input_health(
    reference: pd.DataFrame | None, current: pd.DataFrame, feature_params: dict, drift: dict | None = None
) -> dict:
    """Per feature of the model: the missing share of `current` and, against `reference` (its training
    reference; None when there is none, and then only missing values are judged), the out-of-range and
    unseen-category shares and the feature's drift."""
    numeric, categorical = numeric_inputs(feature_params), list(feature_params["categorical"])
    names = [*numeric, *categorical]
    rows = len(current)
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        column = current[name] if name in current else pd.Series([np.nan] * rows, dtype=float)
        entry: dict[str, Any] = {"missing_share": float(column.isna().mean()) if rows else 0.0}
        if reference is not None and name in numeric:
            low, high = reference[name].min(), reference[name].max()
            values = pd.to_numeric(column, errors="coerce")
            outside = int(((values < low) | (values > high)).sum())
            entry |= {"out_of_range_share": outside / rows if rows else 0.0, "range": [low, high]}
        elif reference is not None:
            present = column.dropna().astype(str)
            unseen = present[~present.isin(set(reference[name].dropna().astype(str)))]
            entry |= {
                "unseen_category_share": len(unseen) / rows if rows else 0.0,
                "unseen_categories": sorted(unseen.unique().tolist())[:10],
            }
        found[name] = entry
    present = [name for name in names if name in current]  # an absent column is all missing, above
    if reference is not None and rows and present:
        kinds = [name for name in categorical if name in present]
        drifted = data_drift(reference[present], current[present], drift, features=present, categorical=kinds)
        for result in drifted["features"]:
            found[result["feature"]] |= {"psi": result["psi"], "drift": result["verdict"]}
    return jsonable({"rows": rows, "reference": reference is not None, "features": found})


def output_health(
    scores: pd.DataFrame, score_column: str = "score", decision_column: str = "decision"
) -> dict:
    """What the run gave: rows, empty or NaN scores, the alert rate and the score quantiles."""
    values = scores[score_column].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    return {
        "rows": int(len(values)),
        "nan_scores": int(len(values) - len(finite)),
        "alert_rate": float(scores["decision"].mean()) if len(values) else None,
        "score_quantiles": {
            f"p{round(q * 100)}": float(np.quantile(finite, q)) for q in (0.1, 0.5, 0.9, 0.99)
        }
        if len(finite)
        else {},
    }


def peak_rss_mib() -> float:
    """The peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def software_health(seconds: float, rows: int, peak_rss_mib: float, model_load_seconds: float) -> dict:
    """How the run went as software: duration, throughput, memory, and the time to load its model(s)."""
    return {
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
        "peak_rss_mib": round(peak_rss_mib, 1),
        "model_load_seconds": round(model_load_seconds, 3),
    }


def breaches(health: dict, bounds: dict[str, Any]) -> list[dict]:
    """Every figure of `health` past its bound in `bounds` (`scoring.health`), worst first per kind."""
    found = []

    def check(figure: str, value: Any, limit: Any, way: str, feature: str | None = None) -> None:
        if value is None or limit is None:
            return
        if (way == UPPER and value > limit) or (way == LOWER and value < limit):
            found.append({"figure": figure, "feature": feature, "value": value, way: limit})

    for name, entry in health["input"]["features"].items():
        check("missing_share", entry["missing_share"], bounds.get("max_missing_share"), UPPER, name)
        check(
            "out_of_range_share",
            entry.get("out_of_range_share"),
            bounds.get("max_out_of_range_share"),
            UPPER,
            name,
        )
        check(
            "unseen_category_share",
            entry.get("unseen_category_share"),
            bounds.get("max_unseen_category_share"),
            UPPER,
            name,
        )
        check("psi", entry.get("psi"), bounds.get("max_feature_psi"), UPPER, name)
    output, software = health["output"], health["software"]
    check("nan_scores", output["nan_scores"], bounds.get("max_nan_scores"), UPPER)
    low, high = bounds.get("alert_rate") or (None, None)
    check("alert_rate", output["alert_rate"], low, LOWER)
    check("alert_rate", output["alert_rate"], high, UPPER)
    check("rows_per_second", software["rows_per_second"], bounds.get("min_rows_per_second"), LOWER)
    check("peak_rss_mib", software["peak_rss_mib"], bounds.get("max_peak_rss_mib"), UPPER)
    check("model_load_seconds", software["model_load_seconds"], bounds.get("max_model_load_seconds"), UPPER)
    return found


def describe(breach: dict) -> str:
    """One breach as a person reads it: `amount: missing_share 0.12 > max 0.05`."""
    where = f"{breach['feature']}: " if breach.get("feature") else ""
    way, sign = (UPPER, ">") if UPPER in breach else (LOWER, "<")
    value = breach["value"]
    shown = f"{value:.4g}" if isinstance(value, float) else value
    return f"{where}{breach['figure']} {shown} {sign} {way} {breach[way]}"


def alert_text(model: str, day: str, found: list[dict], report_url: str) -> str:
    """The alert a scoring run with breaches posts: what moved, by how much, against which bound, and the
    day's report in the Airflow UI (`report_url`)."""
    lines = [f"{model} scoring of {day}: {len(found)} figure(s) out of bounds"]
    lines += [f"- {describe(b)}" for b in found]
    return "\n".join([*lines, f"report: {report_url}"])
