"""The catalogue of validated batches: which batches of a model passed their contract, read by training
(its window), by the label check and by validation (the history a new batch is compared with).

A batch counts as validated only while its `validation.json` names the sha256 of the batch its manifest
describes; its bytes are streamed to a file by `download_validated_batch` (or read as a frame by
`read_validated_frame`), which refuse any other bytes."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from retrainer.core import layout
from retrainer.core.clock import as_utc
from retrainer.storage import KeyNotFound, Storage
from retrainer.storage.frames import read_verified

log = logging.getLogger(__name__)


def validated_manifests(storage: Storage, model: str) -> list[dict]:
    """Manifests (with their `manifest_uri` and `validation_uri`) of every batch of the model that passed
    validation, oldest run key first. A validation record that judged other bytes than the manifest's
    (`batch_sha256` differs from the manifest's `sha256`) does not count: the batch is left out, named in
    the log. Training reads its window from these; validation compares a batch with them."""
    manifests = []
    for k in storage.list(layout.batches_area(model)):
        if not k.endswith(f"/{layout.VALIDATION_FILE}"):
            continue
        validation = json.loads(storage.get_text(k))
        if not validation.get("success"):
            continue
        manifest_key = k.replace(layout.VALIDATION_FILE, layout.MANIFEST_FILE)
        try:
            manifest = json.loads(storage.get_text(manifest_key))
        except KeyNotFound:
            continue
        if validation.get("batch_sha256") != manifest.get("sha256"):
            log.warning(
                "ignoring %s: its validation judged sha256 %s, the batch's manifest names %s",
                storage.uri(k),
                validation.get("batch_sha256"),
                manifest.get("sha256"),
            )
            continue
        manifests.append(
            manifest | {"manifest_uri": storage.uri(manifest_key), "validation_uri": storage.uri(k)}
        )
    return sorted(manifests, key=lambda m: m["run_key"])


def validated_history(storage: Storage, model: str, key: str) -> list[dict]:
    """Manifests of the model's validated batches other than run `key`, oldest run key first."""
    return [m for m in validated_manifests(storage, model) if m["run_key"] != key]


def validated_batches(storage: Storage, model: str, end: datetime | str, days: int) -> list[dict]:
    """Manifests of the validated batches whose windows overlap the `days` before `end`, oldest first. A
    batch whose window ends after `end` is never read: it did not exist yet when the run's period closed."""
    end = as_utc(end)
    start = end - timedelta(days=days)
    return [
        m
        for m in validated_manifests(storage, model)
        if as_utc(m["window_end"]) <= end and as_utc(m["window_end"]) > start
    ]


def download_validated_batch(storage: Storage, manifest: dict, path: Path) -> Path:
    """A validated batch streamed to `path` (never whole in memory), refused (`ChecksumMismatch`, a verdict,
    the file removed) unless its bytes hash to the sha256 that its validation judged."""
    key = layout.batch_file_key(manifest["model"], manifest["run_key"])
    return storage.download_verified(key, path, manifest["sha256"], _validated(storage, key))


def read_validated_frame(storage: Storage, manifest: dict, columns: list[str] | None = None) -> pd.DataFrame:
    """A validated batch (or only `columns` of it) as a data frame, read from a checked copy, refused like
    `download_validated_batch`."""
    key = layout.batch_file_key(manifest["model"], manifest["run_key"])
    return read_verified(storage, key, manifest["sha256"], _validated(storage, key), columns)


def _validated(storage: Storage, key: str) -> str:
    return f"{storage.uri(key)} (validated batch)"
