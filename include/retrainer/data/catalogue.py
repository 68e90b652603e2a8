"""The catalogue of validated batches: which batches of a model passed their contract, read by training
(its window) and by validation (the history a new batch is compared with)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from retrainer.core import layout
from retrainer.core.clock import as_utc
from retrainer.storage import KeyNotFound, Storage


def validated_manifests(storage: Storage, model: str) -> list[dict]:
    """Manifests (with their `manifest_uri`) of every batch of the model that passed validation, oldest
    logical date first. Training reads its window from these; validation compares a batch with them."""
    manifests = []
    for k in storage.list(layout.batches_area(model)):
        if not k.endswith(f"/{layout.VALIDATION_FILE}") or not json.loads(storage.get_text(k)).get("success"):
            continue
        manifest_key = k.replace(layout.VALIDATION_FILE, layout.MANIFEST_FILE)
        try:
            manifest = json.loads(storage.get_text(manifest_key))
        except KeyNotFound:
            continue
        manifests.append(manifest | {"manifest_uri": storage.uri(manifest_key)})
    return sorted(manifests, key=lambda m: m["run_key"])


def validated_history(storage: Storage, model: str, key: str) -> list[dict]:
    """Manifests of the model's validated batches other than run `key`, oldest logical date first."""
    return [m for m in validated_manifests(storage, model) if m["run_key"] != key]


def validated_batches(storage: Storage, model: str, as_of: datetime | str, days: int) -> list[dict]:
    """Manifests of the validated batches whose windows end within the `days` before `as_of` (a batch
    of a later logical date is never read: it did not exist yet)."""
    end = as_utc(as_of)
    start = end - timedelta(days=days)
    return [
        m
        for m in validated_manifests(storage, model)
        if start < as_utc(m["window_end"]) <= end and as_utc(m["window_start"]) < end
    ]
