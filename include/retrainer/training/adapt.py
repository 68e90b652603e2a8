"""The `adapt` stage of `dvc.yaml`: what a drift-triggered retraining learns from the days that drifted.

The point-in-time horizon keeps only rows whose label is final, so every row younger than
`data.label_maturity_days` (the drifted days) is out of the training splits. A drift-triggered run
(`run.trigger: drift`, set by the train task from the Asset events that started it) with
`adaptation.enabled` weights the matured rows it trains on by how much they resemble those recent rows
(`retrainer.drift.domain.importance_weights`: a domain classifier's density ratio, clipped, mean 1), so the
model leans toward the new inputs without their labels, and keeps the recent rows as the drift reference
the new version is monitored against.

Out (`artifacts.ADAPTATION_DIR`): `adaptation.json` always (weighted or not, and why); for a weighted run
also `weights.parquet` (id, split, weight of each train and valid row, in the splits' order; its sha256 in
`adaptation.json`, checked by the fit before it is used) and `recent.parquet` (the recent rows' id, event
time and model inputs, no label: theirs are not final). A scheduled or manual run writes only the report,
and its fit is the unweighted fit of before, byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from retrainer.core import artifacts, frames
from retrainer.core.maturity import maturity_horizon
from retrainer.features import matrix
from retrainer.storage import sha256_file
from retrainer.training.stages import read_window_rows, with_derived_features, write_json
from retrainer.training.weights import (
    IMPORTANCE,
    SPLIT,
    WEIGHT,
    WEIGHTED_SPLITS,
    effective_sample_size,
    flattened,
)
from retrainer.training.window import rows_in_window, window_bounds_of

DRIFT = "drift"  # run.trigger of a retraining started by the drift monitor's Asset event


def adapting(params: dict[str, Any]) -> str | None:
    """Why this run is not weighted (a sentence for the lineage), or None when it is to be."""
    trigger = params.get("run", {}).get("trigger")
    if trigger != DRIFT:
        return f"{trigger or 'scheduled'} run: the matured rows, unweighted"
    if not params["adaptation"]["enabled"]:
        return "drift-triggered run with adaptation.enabled false: the matured rows, unweighted"
    if params["train"].get("engine", "local") != "local":
        return "drift-triggered run on train.engine dask: weights are not passed to the cluster, unweighted"
    return None


def adapt(batches_dir: Path, prepared_dir: Path, out_dir: Path, params: dict[str, Any]) -> dict:
    """Write the adaptation of the run (module docstring) to `out_dir` and return its report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"trigger": params.get("run", {}).get("trigger"), "weighted": False}
    if reason := adapting(params):
        write_json(out_dir / Path(artifacts.ADAPTATION_REPORT).name, report | {"reason": reason})
        return report | {"reason": reason}
    cols, settings = params["model"], params["adaptation"]
    start, end = window_bounds_of(params, params["run"]["as_of"])
    horizon = maturity_horizon(params["run"]["as_of"], params["data"]["label_maturity_days"])
    files = sorted(Path(batches_dir).glob("*.parquet"))
    window = with_derived_features(
        rows_in_window(read_window_rows(files, start, end, params), start, end, params), params
    )
    # The rows younger than the horizon: what prepare left out as not matured, i.e. the drifted days.
    keep = [cols["id_column"], cols["event_time"], *matrix.input_columns(params["features"])]
    recent = window.loc[window[cols["event_time"]] >= horizon, keep].reset_index(drop=True)
    del window
    recent_span = {"start": horizon.isoformat(), "end": end.isoformat(), "rows": len(recent)}
    if recent.empty:
        reason = "drift-triggered run with no rows younger than the horizon: the matured rows, unweighted"
        write_json(
            out_dir / Path(artifacts.ADAPTATION_REPORT).name,
            report | {"reason": reason, "recent": recent_span},
        )
        return report | {"reason": reason, "recent": recent_span}

    splits = {
        name: frames.to_frame(pq.read_table(prepared_dir / f"{name}.parquet", columns=keep))
        for name in WEIGHTED_SPLITS
    }
    rows = pd.concat(list(splits.values()), ignore_index=True)
    from retrainer.drift.domain import importance_weights  # sklearn/xgboost: only a weighted run pays for it

    weights, summary = importance_weights(
        rows,
        recent,
        matrix.input_columns(params["features"]),
        list(params["features"]["categorical"]),
        clip=settings["clip"],
        seed=params["train"]["seed"],
        max_rows=settings["max_rows"],
    )
    fitted = flattened(weights, settings["flatten"])  # what the weighted fit uses (training.weights)
    table = pd.DataFrame(
        {
            cols["id_column"]: rows[cols["id_column"]].to_numpy(),
            SPLIT: np.repeat(list(splits), [len(part) for part in splits.values()]),
            WEIGHT: fitted,
            IMPORTANCE: np.asarray(weights, dtype=np.float64),
        }
    )
    table.to_parquet(out_dir / Path(artifacts.WEIGHTS).name, index=False)
    recent.to_parquet(out_dir / Path(artifacts.RECENT).name, index=False)
    report |= {
        "weighted": True,
        "reason": "drift-triggered run: the matured rows weighted toward the rows younger than the horizon",
        "horizon": horizon.isoformat(),
        "recent": recent_span | {"sha256": sha256_file(out_dir / Path(artifacts.RECENT).name)},
        "weights": {
            "sha256": sha256_file(out_dir / Path(artifacts.WEIGHTS).name),
            "rows": {name: len(part) for name, part in splits.items()},
            "flatten": float(settings["flatten"]),  # the fit's weights: importance ** flatten, mean 1
            "min": float(np.min(fitted)),
            "max": float(np.max(fitted)),
            "effective_sample_size": effective_sample_size(fitted),
            "summary": summary,  # the domain classifier's, of the importance weights (clipped, unflattened)
        },
    }
    write_json(out_dir / Path(artifacts.ADAPTATION_REPORT).name, report)
    return report


def lineage(run: dict) -> dict[str, Any]:
    """What a version was trained on, from its run manifest: the window, the horizon, the rows kept and
    left out, the weights (their sha256 and the domain classifier's summary, or why there are none), which
    challenger the fit kept (`selection`: the weighted or the unweighted fit, both figures, why) and the
    drift reference it is monitored against (a drift-triggered run's recent inputs, whichever was kept)."""
    prepare, adaptation = run.get("prepare", {}), run.get("adaptation") or {}
    files = run.get("files", {})
    adapted = bool(adaptation.get("weighted"))  # the adapt stage weighed the rows (recent rows published)
    selection = run.get("fit")  # None for a run published before the fit chose
    weighted = adapted and (selection or {"weighted": True})["weighted"]
    if adapted:
        reference = {
            "kind": "recent inputs",
            "what": "the window's rows younger than the horizon, the inputs the version was adapted to",
            **adaptation["recent"],
            "uri": files.get(artifacts.RECENT, {}).get("uri"),
        }
    else:
        reference = {
            "kind": "validation and holdout splits",
            "what": "the matured rows the version was judged on",
            "rows": sum(prepare.get("splits", {}).get(s, {}).get("rows", 0) for s in ("valid", "holdout"))
            or None,
        }
    why = adaptation.get("reason") or "run published without an adapt stage: unweighted"
    return {
        "trigger": adaptation.get("trigger"),
        "window": run.get("window"),
        "maturity_horizon": prepare.get("maturity_horizon"),
        "rows": {
            "in_window": prepare.get("rows_in"),
            "labelled": prepare.get("rows_labelled"),
            "not_matured": prepare.get("rows_not_matured"),
            "label_pending": prepare.get("rows_label_pending"),
            "splits": prepare.get("splits"),
        },
        "weighted": weighted,  # the kept challenger was fitted with the weights
        "weights": adaptation.get("weights") if adapted else None,  # computed, kept or not
        "selection": selection if adapted else None,
        "why": f"{why}; {selection['reason']}" if adapted and selection else why,
        "reference": reference,
    }


def describe(trained_on: dict) -> str:
    """A version's `trained_on` lineage in one sentence for a person (plain text: escape it for Markdown)."""
    rows, horizon = trained_on.get("rows") or {}, trained_on.get("maturity_horizon")
    matured = f"{rows.get('labelled')} matured rows (events before {horizon})"
    weights, reference = trained_on.get("weights"), trained_on["reference"]
    if not weights:
        return f"{matured}, unweighted; drift reference: its validation and holdout rows"
    summary = weights.get("summary") or {}
    fitted = sum((weights.get("rows") or {}).values())
    ess = weights.get("effective_sample_size", summary.get("effective_sample_size", 0))
    how = (
        f"weighted toward the {reference['rows']} rows younger than the horizon (domain classifier AUC "
        f"{summary.get('auc', float('nan')):.3f}, weights {weights['min']:.2f}..{weights['max']:.2f}"
        + (f" = density ratio ** {weights['flatten']:g}" if "flatten" in weights else "")
        + f", effective sample size {ess:.0f} of {fitted})"
    )
    selection = trained_on.get("selection")
    if selection and "iw_pr_auc" in selection:
        iw = selection["iw_pr_auc"]
        figures = (
            f"importance-weighted valid PR-AUC {iw['weighted']:.3f} weighted, "
            f"{iw['unweighted']:.3f} unweighted"
        )
        fit = (
            f"{matured}, {how}; kept over the unweighted fit ({figures})"
            if trained_on.get("weighted")
            else f"{matured}, unweighted: the fit {how} was not kept ({figures})"
        )
    elif selection:
        fit = f"{matured}, unweighted: {selection['reason']}"
    else:
        fit = f"{matured}, {how}"
    return f"{fit}; drift reference: those {reference['rows']} recent rows"
