"""The data warnings of a version: what the validation of each batch it was trained on warned about (a
failed warning-level expectation, a batch check's warning), recorded in its lineage when it is registered
and shown on the registry page under "Data warnings"."""

from __future__ import annotations

import json
import logging

from retrainer.core import layout
from retrainer.data.contracts import Failure
from retrainer.storage import KeyNotFound, Storage

log = logging.getLogger(__name__)


def of_batches(storage: Storage, model: str, batches: list[dict]) -> list[dict]:
    """For each batch of a training run (`batches`: the run's, each with `run_key` and `sha256`) whose
    `validation.json` judged those bytes and holds warnings: `{"run_key", "validation_uri", "warnings":
    [{"expectation", "column", "text"}]}` (`text`: the warning as the task log describes it). Batches
    without warnings are left out; a batch whose validation is gone or judged other bytes is named in the
    log and left out (its warnings cannot be told)."""
    found = []
    for batch in batches:
        if not batch.get("run_key"):
            continue  # a run recorded before its batches named their run key
        key = layout.batch_file_key(model, batch["run_key"], layout.VALIDATION_FILE)
        try:
            validation = json.loads(storage.get_text(key))
        except KeyNotFound:
            log.warning(
                "no validation of batch %s at %s: its warnings are not recorded", batch["run_key"], key
            )
            continue
        if validation.get("batch_sha256") != batch.get("sha256"):
            log.warning("%s judged other bytes than batch %s trained on", storage.uri(key), batch["run_key"])
            continue
        warnings = [Failure(**w) for w in validation.get("warnings") or []]
        if warnings:
            found.append(
                {
                    "run_key": batch["run_key"],
                    "validation_uri": storage.uri(key),
                    "warnings": [
                        {"expectation": w.expectation, "column": w.column, "text": w.describe()}
                        for w in warnings
                    ],
                }
            )
    return found
