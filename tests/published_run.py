"""A training run published under a storage root as `training.train.train_run` leaves it (files keyed by
run, a manifest naming their sha256), without DVC: for fast tests of the stages after training."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from retrainer.core import layout
from retrainer.storage import Storage

AS_OF = "2026-11-23T00:00:00+00:00"


def publish_run(
    storage: Storage,
    model: str,
    run_key: str,
    files: dict[str, bytes],
    metrics: dict[str, Any],
    batches: list[dict] | None = None,
) -> dict:
    """Publish `files` ({published name: bytes}, names of `core.artifacts.PUBLISHED`) as run `run_key` of
    `model`, and its manifest; returns the manifest (with `manifest_uri`). `batches`: the batches it was
    trained on, as `training.window` records them (default: one empty manifest)."""
    published = {}
    for name, data in files.items():
        uri = storage.put_bytes(layout.run_file_key(model, run_key, name), data)
        published[name] = {"uri": uri, "sha256": hashlib.sha256(data).hexdigest()}
    if batches is None:
        batches = [
            {"manifest_uri": storage.put_text(f"batches/{model}/{run_key}/{layout.MANIFEST_FILE}", "{}")}
        ]
    manifest = {
        "model": model,
        "run_key": run_key,
        "as_of": AS_OF,
        "batches": batches,
        "window": {"start": "2026-09-28T00:00:00+00:00", "end": AS_OF, "rows": 1},
        "data_hash": f"{run_key}.dir",
        "files": published,
        "metrics": metrics,
        "prepare": {"maturity_horizon": "2026-11-02T00:00:00+00:00"},
    }
    manifest["manifest_uri"] = storage.put_text(
        layout.run_file_key(model, run_key, layout.MANIFEST_FILE), json.dumps(manifest)
    )
    return manifest


def gate_report(run_key: str, model_bytes: bytes, metrics: dict[str, Any], gates: list[dict]) -> dict:
    """A gate report of run `run_key` as evaluate writes it, judging the model `model_bytes`."""
    return {
        "passed": all(gate["passed"] for gate in gates),
        "run_key": run_key,
        "challenger_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "champion_version": None,
        "metrics": metrics,
        "decision": {"threshold": 0.5},
        "non_regression": None,
        "costs": {},
        "gates": gates,
    }
