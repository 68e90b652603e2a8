"""Train: run the DVC pipeline (`dvc.yaml`) on the training window (the rows of the validated batches whose
event time lies in it, each once, read from checked bytes: `training.window`) in a workspace of its own, push
data and models to the DVC remote, and publish the run's artifacts under the storage root.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from retrainer.core import artifacts, layout
from retrainer.core.clock import as_utc, run_key
from retrainer.core.feature_declarations import definitions_hash, derived_feature_names
from retrainer.core.models import ModelConfigError, features_suite_file
from retrainer.core.settings import Settings
from retrainer.core.timeouts import subprocess_seconds
from retrainer.features.events import history_days, stage_history
from retrainer.storage import Storage, sha256_file
from retrainer.training.engines import engine_of, scheduler_address
from retrainer.training.window import assemble_window
from retrainer.training.workspace import TrainingError, dvc, prepare_workspace, read_lock_hashes

log = logging.getLogger(__name__)


def train_run(
    settings: Settings,
    storage: Storage,
    params: dict[str, Any],
    as_of: datetime | str,
    source: Storage | None = None,
    trigger: str | None = None,
) -> dict:
    """Run the DVC pipeline on the training window ending at `as_of` (the run's interval end) and publish
    the results. `source`: where the history its derived features reach back to is read (the source
    partitions before the window); needed only by a model that declares derived features. `trigger`:
    `drift` for a run the drift monitor started (`run.trigger`: its adapt stage weights the rows toward the
    drifted days, `training.adapt`), None for any other.

    The window is assembled from checked bytes before DVC sees it: a batch whose bytes differ from what its
    validation judged stops the run with storage.ChecksumMismatch (a verdict, not retried). Returns the run
    manifest: the URIs and sha256 of every published file, the window and the sha256 of every batch it was
    read from, the data hash from `dvc.lock` and the metrics, small enough for XCom.
    """
    model = params["model"]["name"]
    key = run_key(as_of)
    params = {**params, "run": {**params.get("run", {}), "as_of": as_utc(as_of).isoformat()}}
    if trigger is not None:  # only then: a scheduled run's params.yaml stays as it was
        params["run"]["trigger"] = trigger
    if engine_of(params) == "dask":
        scheduler_address()  # a missing scheduler is named before any work, not after `dvc repro` starts
    workspace = prepare_workspace(settings, params, key)
    window = assemble_window(storage, model, as_of, params, workspace / artifacts.WINDOW)
    if not window["rows"]:
        raise TrainingError(
            f"no validated rows of {model} in the training window {window['start']} .. {window['end']}"
        )
    # Said before the minutes of `dvc repro`, so a person reading the live log knows what is running.
    log.info(
        "training window %s .. %s: %s rows from %d validated batch(es); workspace %s",
        window["start"],
        window["end"],
        f"{window['rows']:,}",
        len(window["batches"]),
        workspace,
    )
    history = _stage_history(source, params, window["start"], workspace)
    _stage_features_suite(settings, params, workspace)
    seconds = subprocess_seconds(params)  # each command; `dvc repro` runs every stage of dvc.yaml
    dvc(workspace, "add", "--quiet", artifacts.BATCHES_DIR, artifacts.HISTORY_DIR, seconds=seconds)
    log.info(
        "dvc repro: every stage of dvc.yaml (%s engine, up to %d trees; killed after %d min)",
        engine_of(params),
        params["train"]["xgboost"]["n_estimators"],
        seconds // 60,
    )
    started = time.monotonic()
    try:
        dvc(workspace, "repro", "--quiet", seconds=seconds)
    except TrainingError:
        _raise_broken_contract(workspace)  # a verdict on the features, not a failure to retry
        raise
    log.info("dvc repro took %.0f s; pushing data and models to DVC's remote", time.monotonic() - started)
    dvc(workspace, "push", "--quiet", seconds=seconds)

    files = {}
    adaptation = json.loads((workspace / artifacts.ADAPTATION_REPORT).read_text())
    for name in [*artifacts.PUBLISHED, *(artifacts.ADAPTED if adaptation["weighted"] else ())]:
        path = workspace / name
        uri = storage.put_file(layout.run_file_key(model, key, name), path)
        files[name] = {"uri": uri, "sha256": sha256_file(path)}
    lock_hashes = read_lock_hashes((workspace / "dvc.lock").read_text())
    manifest = {
        "model": model,
        "run_key": key,
        "as_of": params["run"]["as_of"],
        "workspace": str(workspace),
        "batches": window["batches"],
        "window": {k: window[k] for k in ("start", "end", "rows", "sha256")},
        "data_hash": lock_hashes[artifacts.BATCHES_DIR],
        "features": {
            "definitions_hash": definitions_hash(params),
            "derived": derived_feature_names(params),
            "history": history,
            "history_hash": lock_hashes.get(artifacts.HISTORY_DIR),
        },
        "files": files,
        "metrics": json.loads((workspace / artifacts.METRICS).read_text()),
        "prepare": json.loads((workspace / artifacts.PREPARE_REPORT).read_text()),
        "adaptation": adaptation,  # weighted or not and why; the weights' summary; the recent rows
        "fit": json.loads((workspace / artifacts.FIT_REPORT).read_text()),  # which challenger was kept
        # the hyper-parameter search: every trial's score and values, the chosen ones, the seed
        "tuning": json.loads((workspace / artifacts.TUNING_REPORT).read_text()),
    }
    manifest["manifest_uri"] = storage.put_text(
        layout.run_file_key(model, key, layout.MANIFEST_FILE), json.dumps(manifest, indent=2)
    )
    return manifest


def _stage_history(source: Storage | None, params: dict[str, Any], start: str, workspace: Path) -> list[dict]:
    """The source partitions before the window that its derived features reach back to, in the workspace's
    `data/history` with the list of what was read (`history.json`: key, sha256, rows; none for a model
    without derived features, so the directory is never empty)."""
    directory = workspace / artifacts.HISTORY_DIR
    directory.mkdir(parents=True, exist_ok=True)
    history = []
    if history_days(params, as_utc(start)):
        if source is None:
            raise ValueError("train_run needs the model's source to read the history of derived features")
        history = stage_history(source, params, as_utc(start), directory)
    (workspace / artifacts.HISTORY_REPORT).write_text(json.dumps(history, indent=2) + "\n")
    return history


def _stage_features_suite(settings: Settings, params: dict[str, Any], workspace: Path) -> None:
    """The features' contract into the workspace (`artifacts.FEATURES_SUITE`), for the featurize stage to
    judge its output by and DVC to hash: a changed suite reruns the stage. JSON null for a model without
    derived features; a model with them and no suite is refused (ModelConfigError naming the fix)."""
    path = features_suite_file(settings.project_dir, params)
    if path is not None and not path.exists():
        raise ModelConfigError(
            [
                f"{path}: no such file: the derived features of {params['model']['name']} have no contract "
                f"(write it: `retrainer suite scaffold --model {params['model']['name']} --as-of DATE`, then "
                "review it)"
            ]
        )
    (workspace / artifacts.FEATURES_SUITE).write_text(path.read_text() if path is not None else "null\n")


def _raise_broken_contract(workspace: Path) -> None:
    """Raise FeatureContractBroken when the featurize stage's report says its features broke their
    contract (the stage ran in DVC's process: its error reached here only as DVC's output)."""
    from retrainer.data.contracts import Failure
    from retrainer.features.stage import FeatureContractBroken

    report = workspace / artifacts.FEATURES_REPORT
    contract = json.loads(report.read_text()).get("contract") if report.exists() else None
    if contract and not contract["success"]:
        failures = [Failure(**failure) for failure in contract["failures"]]
        raise FeatureContractBroken(contract["suite"], str(workspace / artifacts.FEATURES), failures)
