"""Evaluate: hold a run's challenger against every gate on its holdout, beside the baselines and the
champion, and write the gate report (`gates.json`, `report.md`, `report.html`) next to the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core import artifacts, calibration, layout
from retrainer.core.artifacts import RAW_COLUMNS
from retrainer.data.published import read_run, read_run_file, read_run_frame
from retrainer.deployment.state import champion_version as deployed_champion
from retrainer.evaluation import report as report_pages
from retrainer.evaluation.costs import amounts_of, choose_threshold
from retrainer.evaluation.gates import Assessment, GateFailed, assess
from retrainer.evaluation.holdout import calibrated, raw_scores
from retrainer.evaluation.slices import slice_masks
from retrainer.features import matrix
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.store import Registry
from retrainer.storage import Storage
from retrainer.training.models import LinearBaseline, load_xgboost, score_xgboost


@dataclass(frozen=True)
class Champion:
    version: int
    scores: np.ndarray  # on this run's holdout
    threshold: float
    threshold_source: str


def champion_on(
    registry: Registry, holdout: pd.DataFrame, valid: Callable[[], pd.DataFrame], params: dict[str, Any]
) -> Champion | None:
    """The champion scored on this run's holdout, with its decision threshold; None if there is none yet.

    The threshold is the one stored with the champion's version. A version registered before thresholds
    were stored gets one chosen the same way on this run's validation split (`valid()`), and says so.
    Its scores are calibrated by the calibration stored with its version (none: its raw scores), the scale
    its threshold was chosen on.
    """
    if (champion_version := deployed_champion(registry)) is None:  # the record: what scores
        return None
    record = registry.get(champion_version)
    booster = load_xgboost(registry.read_file(champion_version, artifacts.MODEL_FILE))
    mapping = calibration.of_version(registry, record)
    feature_params = record["params"]["features"]

    def score(frame: pd.DataFrame) -> np.ndarray:
        return mapping.apply(score_xgboost(booster, matrix.build_matrix(frame, feature_params)))

    threshold = (record.get("decision") or {}).get("threshold")
    source = f"version {record['version']}"
    if threshold is None:
        frame = valid()
        costs = params["costs"]
        threshold = choose_threshold(
            frame[params["model"]["label"]],
            score(frame),
            amounts_of(frame, costs["amount_column"]),
            costs["review_cost"],
        )
        source = "chosen on this run's validation split (its version stores none)"
    return Champion(record["version"], score(holdout), float(threshold), source)


def assess_challenger(
    holdout: pd.DataFrame,
    scores: dict[str, Any],
    run_metrics: dict,
    champion: tuple[Any, float] | None,
    params: dict[str, Any],
) -> Assessment:
    """The gates for a run: `scores` from `score_models` on its holdout, its thresholds from the metrics
    the `measure` stage wrote (`run_metrics`), and the champion's holdout scores and own threshold, if any."""
    scores = dict(scores)
    thresholds = {name: run_metrics[name]["decision_threshold"] for name in scores}
    if champion is not None:
        scores[CHAMPION], thresholds[CHAMPION] = champion
    return assess(
        holdout[params["model"]["label"]].to_numpy(),
        amounts_of(holdout, params["costs"]["amount_column"]),
        scores,
        thresholds,
        slice_masks(holdout, params["slices"]),
        params,
    )


def evaluate_run(storage: Storage, run_manifest_uri: str, params: dict[str, Any]) -> dict:
    """Hold the challenger against the gates on this run's holdout: floors, the scikit-learn baseline and
    the rule, the champion (paired bootstrap), every slice and the expected cost.

    Writes the gate report (`gates.json` for machines, `report.md` and `report.html` for people) next to
    the run, with the sha256 of `gates.json` (returned as `gates_sha256` and recorded beside the run, for
    register), and raises GateFailed, naming each failed gate and slice, if any gate fails.
    """
    run = read_run(storage, run_manifest_uri)
    model = params["model"]["name"]

    def read_frame(split: str) -> pd.DataFrame:
        return read_run_frame(storage, run, artifacts.prepared(split))

    holdout = read_frame("holdout")
    booster = load_xgboost(read_run_file(storage, run, artifacts.MODEL))
    baseline = LinearBaseline.from_json(read_run_file(storage, run, artifacts.BASELINE))
    mapping = calibration.of_files(
        run["files"],
        artifacts.CALIBRATION,
        lambda name: read_run_file(storage, run, name),
        f"{artifacts.CALIBRATION} of run {run['run_key']}",
    )
    raw = raw_scores(holdout, booster, baseline, params)
    scores = calibrated(raw, mapping)  # what the thresholds of the measure stage were chosen on
    champion = champion_on(Registry(storage, model), holdout, lambda: read_frame("valid"), params)
    assessment = assess_challenger(
        holdout, scores, run["metrics"], champion and (champion.scores, champion.threshold), params
    )
    report = {
        "model": model,
        "run_key": run["run_key"],
        # the bytes judged (read_run_file checked them against the run manifest): register refuses others
        "challenger_sha256": run["files"][artifacts.MODEL]["sha256"],
        "holdout_sha256": run["files"][artifacts.prepared("holdout")]["sha256"],
        "champion_version": champion and champion.version,
        "champion_threshold_source": champion and champion.threshold_source,
        "decision": {
            "threshold": run["metrics"][CHALLENGER]["decision_threshold"],
            "chosen_on": "validation split, minimising expected cost",
            "review_cost": params["costs"]["review_cost"],
        },
        **assessment.report,
    }
    # How far the challenger's scores are from the holdout's positive rates, before and after calibration
    report["calibration"] = calibration.assessment(
        holdout[params["model"]["label"]].to_numpy(), raw[CHALLENGER], scores[CHALLENGER], mapping
    )
    if (comparison := run["metrics"].get(RAW_COLUMNS)) is not None:  # declared features vs raw columns
        report[RAW_COLUMNS] = comparison
    key = run["run_key"]
    pages = {
        layout.REPORT_MD: report_pages.render_markdown(report),
        layout.REPORT_HTML: report_pages.render_html(report, assessment.curves),
    }
    # register reads the report back by this sha256; the registry plugin checks the page against its own
    uri, gates_sha256 = write_sealed(storage, model, key, report, pages)
    report_url = layout.run_report_url(model, key)  # the page a person opens, in the Airflow UI
    if not report["passed"]:
        raise GateFailed(assessment.gates, report_url)
    return {
        "gates_uri": uri,
        "gates_sha256": gates_sha256,
        "report_url": report_url,
        "passed": True,
        "champion_version": report["champion_version"],
        "pr_auc_vs_champion": report["non_regression"],
        "saved_vs_champion": report["costs"]["saved_vs_champion"],
    }
