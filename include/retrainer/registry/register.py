"""Register: a gated challenger becomes an immutable registry version with its full lineage. The first
model to pass every gate becomes champion; later ones become challenger and wait for promotion."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from retrainer.core import artifacts, layout
from retrainer.core.artifacts import RAW_COLUMNS
from retrainer.core.settings import Settings
from retrainer.data.published import read_run, read_run_file
from retrainer.registry import data_warnings
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.gate_report import NotGated, judge, read_verified, sealed_sha256
from retrainer.registry.lineage import feature_definitions, git_revision, package_versions, training_choices
from retrainer.registry.reconcile import settle_aliases
from retrainer.registry.store import Registry
from retrainer.storage import Storage
from retrainer.training import adapt
from retrainer.training.workspace import read_lock_hashes

# The params.yaml sections that make a model and its decision threshold. The others (validation, gates,
# slices, evaluate) judge data or models; changing them must not turn a rerun into a new version.
MODEL_SECTIONS = ("model", "data", "split", "features", "train", "costs", "run")


def idempotency_key(model: str, run: dict, params: dict, revision: str | None = None) -> str:
    """Same model, run, training data, model-making params and code revision: the same version, however
    often it reruns."""
    making = {section: params.get(section) for section in MODEL_SECTIONS}
    if (params.get("run") or {}).get("trigger"):  # a drift-triggered run's weights are made by these
        making["adaptation"] = params.get("adaptation")
    payload = json.dumps(
        [model, run["run_key"], run["data_hash"], making, revision], sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def lineage_of(
    run: dict, run_manifest_uri: str, gates: dict, files: dict[str, bytes], settings: Settings, airflow_run_id
) -> dict[str, Any]:
    """Where a version came from: data hashes, batches, window, code, packages, params, feature
    definitions, metrics (with, for a model declaring derived features, the same model on its raw columns
    alone), gates."""
    run_params = yaml.safe_load(files["params.yaml"])
    lineage = {
        "run_key": run["run_key"],
        "as_of": run["as_of"],
        "airflow_run_id": airflow_run_id,
        "data_hash": run["data_hash"],
        "dvc_lock_hashes": read_lock_hashes(files["dvc.lock"].decode()),
        "batches": run["batches"],
        "training_window": {
            **run.get("window", {}),  # start, end, rows and the sha256 of the rows trained on
            "days": run_params["data"]["training_window_days"],
            "label_maturity_days": run_params["data"]["label_maturity_days"],
            "maturity_horizon": run["prepare"]["maturity_horizon"],
        },
        "git": git_revision(settings.project_dir),
        "packages": package_versions(),
        "params": run_params,
        "features": feature_definitions(run_params),  # the params the run trained with, as published
        "metrics": {
            **gates["metrics"],
            CHAMPION: gates["metrics"].get(CHAMPION)
            and {"version": gates["champion_version"], **gates["metrics"][CHAMPION]},
        },
        # what a later challenger is compared with: this model at its own threshold
        "decision": gates["decision"],
        "non_regression": gates["non_regression"],
        "costs": gates["costs"],
        "gates": gates["gates"],
        "run_manifest_uri": run_manifest_uri,
    }
    if gates.get(RAW_COLUMNS) is not None:  # declared features against the raw columns alone
        lineage[RAW_COLUMNS] = gates[RAW_COLUMNS]
    if (calibrated := gates.get("calibration")) is not None:  # the map, and ECE/Brier before and after
        sides = ("uncalibrated", "calibrated")  # without their reliability tables: in the gate report
        lineage["calibration"] = {k: v for k, v in calibrated.items() if k not in sides} | {
            side: {k: calibrated[side][k] for k in ("ece", "brier", "mean_score")} for side in sides
        }
    return lineage


def labels_matured_uri(model: str) -> str:
    """The Asset a follow-up request is emitted on; `retrain_<model>` is scheduled on it."""
    return f"retrainer://labels-matured/{model}"


def is_follow_up_event(event: dict) -> bool:
    """An asset event (as `registry.register.trigger_of` records it) asking for a follow-up retraining."""
    return str(event.get("asset", "")).startswith("retrainer://labels-matured/")


def trigger_of(run_type: Any = None, asset_events: Any = None) -> dict:
    """Why a retraining ran, for its lineage: `drift` with the evidence of each triggering asset event
    (Airflow's `triggering_asset_events`: asset -> events, read by duck typing), else `schedule` or
    `manual`."""
    events = [
        {
            "asset": getattr(asset, "uri", str(asset)),
            "extra": dict(getattr(event, "extra", None) or {}),
            "source_dag_id": getattr(event, "source_dag_id", None),
            "source_run_id": getattr(event, "source_run_id", None),
            "timestamp": str(getattr(event, "timestamp", "")) or None,
        }
        for asset, asset_events_ in dict(asset_events or {}).items()
        for event in asset_events_
    ]
    kind = str(getattr(run_type, "value", run_type) or "manual")
    trigger = {
        "kind": "drift" if events else ("schedule" if kind == "scheduled" else kind),
        "asset_events": events,
    }
    return trigger | follow_up_trigger(events)


def follow_up_trigger(events: list[dict]) -> dict:
    """What `trigger_of` adds when a labels-matured event (monitoring.follow_up) started the run: kind
    `follow-up` (unless drift evidence came with it), `follow_up_of` (the drift-triggered version it
    follows up) and a `reason` for a person ("follow-up of v3")."""
    asked = [e for e in events if is_follow_up_event(e)]
    versions = sorted({e["extra"]["follows_up"] for e in asked if e["extra"].get("follows_up") is not None})
    if not versions:
        return {}
    found = {"follow_up_of": versions[-1], "reason": "follow-up of " + ", ".join(f"v{v}" for v in versions)}
    return found | ({"kind": "follow-up"} if len(asked) == len(events) else {})


def register_run(
    settings: Settings,
    storage: Storage,
    run_manifest_uri: str,
    gates_uri: str,
    airflow_run_id: str | None = None,
    trigger: dict | None = None,
    gates_sha256: str | None = None,
) -> dict:
    """Register the gated challenger of a run with its lineage (`trigger`: why the run happened, from
    `trigger_of`); returns the version, small for XCom.

    The gate report is read only if it hashes to `gates_sha256` (evaluate's XCom; None: the sha256
    evaluate recorded beside the run), else ChecksumMismatch; NotGated unless every gate in it passed
    and its top level agrees. The version records the report's sha256 (`gates_sha256`)."""
    run = read_run(storage, run_manifest_uri)
    model = run["model"]
    # The bytes evaluate wrote (its XCom's sha256, else the record beside the run), judged gate by gate.
    gates_sha256 = gates_sha256 or sealed_sha256(storage, model, run["run_key"], gates_uri)
    gates_bytes, gates = read_verified(storage, gates_uri, gates_sha256)
    judge(gates_uri, gates)
    if gates.get("run_key") != run["run_key"]:
        raise NotGated(gates_uri, f"it judged run {gates.get('run_key')}, not {run['run_key']}")
    model_sha256 = run["files"][artifacts.MODEL]["sha256"]
    if gates.get("challenger_sha256") != model_sha256:
        raise NotGated(
            gates_uri,
            f"it judged model bytes {gates.get('challenger_sha256')}, the run's model is {model_sha256}",
        )
    files = {name: read_run_file(storage, run, published) for published, name in artifacts.REGISTERED.items()}
    for published, name in artifacts.REGISTERED_IF_PUBLISHED.items():  # the score calibration
        if published in run["files"]:
            files[name] = read_run_file(storage, run, published)
    files[layout.GATES_FILE] = gates_bytes
    for name in (layout.REPORT_MD, layout.REPORT_HTML):  # the report written with this gates.json
        files[name] = storage.get_bytes(layout.run_file_key(model, run["run_key"], name))
    lineage = lineage_of(run, run_manifest_uri, gates, files, settings, airflow_run_id)
    lineage["trigger"] = trigger or trigger_of()
    lineage["trained_on"] = adapt.lineage(run)  # rows, weights, horizon and drift reference of the version
    lineage.update(training_choices(run))  # the hyper-parameter search (every trial) and class imbalance
    lineage["gates_sha256"] = gates_sha256  # the gate report judged, bound to its bytes
    # Keys relative to the storage root, which still read back from a root copied elsewhere.
    lineage["run_manifest_key"] = storage.key_of(run_manifest_uri)
    lineage["batch_keys"] = [storage.key_of(batch["manifest_uri"]) for batch in run["batches"]]
    # what the validation of each batch trained on warned about, shown on the registry page
    lineage["data_warnings"] = data_warnings.of_batches(storage, model, run["batches"])
    registry = Registry(storage, model)
    record, created = registry.register(
        files, lineage, idempotency_key(model, run, lineage["params"], lineage["git"]["commit"])
    )
    # Always, not only when created: a rerun after a crash finishes what the crash left.
    moved = settle_aliases(registry, record["version"])
    return {
        "model": model,
        "version": record["version"],
        "record_uri": storage.uri(layout.registry_version_key(model, record["version"])),
        "created": created,
        "alias_moved": moved,
        "aliases": registry.aliases_by_version().get(record["version"], []),
        "pr_auc": record["metrics"][CHALLENGER]["pr_auc"],
        "recall_at_fpr": record["metrics"][CHALLENGER]["recall_at_fpr"],
        "data_hash": record["data_hash"],
        # the validated batches it was trained on, named by the retraining's lineage (OpenLineage)
        "batches": [{"run_key": b.get("run_key"), "sha256": b.get("sha256")} for b in run["batches"]],
    }


def asset_event(registered: dict) -> dict:
    """What the registered-model Asset event carries, so the Assets page links an event to a version."""
    return {k: registered[k] for k in ("model", "version", "record_uri", "created")}
