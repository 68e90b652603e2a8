"""Quarantine: where batches that broke their data contract wait, with the reason, until someone acts.

Layout under the storage root, per model and run key (the logical date):
    quarantine/<model>/<run>/reason.json         every failed expectation: column, observed value, threshold
    quarantine/<model>/<run>/batch.parquet       a rejected batch moved here from batches/, with its manifest
    quarantine/<model>/<run>/source/<partition>  a copy of a source file that could not be read (the source
                                                 itself is left untouched)
    quarantine-events/<model>/<time>-<run>-<action>/event.json  who did what and why, never rewritten;
                                                 a released entry's reason.json and copies move in beside it

Nothing is deleted: a batch leaves quarantine only by moving back to `batches/`, and its reason moves to the
event that released it.
"""

from __future__ import annotations

import json
from typing import Any

from retrainer.core import clock, layout
from retrainer.storage import KeyNotFound, Storage


class NotQuarantined(LookupError):
    """No quarantine entry for this model and run."""


def record_event(storage: Storage, model: str, key: str, action: str, **details: Any) -> str:
    """Append one event (quarantined, released, superseded, release_refused); returns its folder's key."""
    at = clock.now()
    folder = layout.quarantine_event_prefix(model, key, action, clock.stamp(at))
    event = {"action": action, "model": model, "run_key": key, "at": at.isoformat(), **details}
    storage.put_text(
        f"{folder}/{layout.EVENT_FILE}", json.dumps(event, indent=2, default=str), if_absent=True
    )
    return folder


def quarantine_batch(
    storage: Storage, batch_prefix: str, model: str, key: str, reason: dict, by: str = "validate"
) -> str:
    """Move every file under `batch_prefix` to quarantine with `reason.json`; returns the quarantine URI.

    A rerun of the same logical date replaces that date's earlier quarantine entry (its event stays).
    """
    destination = layout.quarantine_prefix(model, key)
    storage.delete_prefix(destination)
    storage.move_prefix(batch_prefix, destination)
    uri = storage.uri(destination)
    storage.put_text(
        layout.quarantine_file_key(model, key), json.dumps(reason | {"quarantine_uri": uri}, indent=2)
    )
    record_event(storage, model, key, "quarantined", by=by, failures=reason.get("failures", []))
    return uri


def quarantine_source_files(
    storage: Storage, source: Storage, model: str, key: str, partition_keys: list[str], reason: dict
) -> str:
    """Copy the raw bytes of unusable source files into quarantine with `reason.json`; the source keeps
    its files. Returns the quarantine URI."""
    destination = layout.quarantine_prefix(model, key)
    storage.delete_prefix(destination)
    for partition in partition_keys:
        storage.put_bytes(layout.quarantine_source_key(model, key, partition), source.get_bytes(partition))
    uri = storage.uri(destination)
    storage.put_text(
        layout.quarantine_file_key(model, key), json.dumps(reason | {"quarantine_uri": uri}, indent=2)
    )
    record_event(storage, model, key, "quarantined", by="extract", failures=reason.get("failures", []))
    return uri


def reason(storage: Storage, model: str, key: str) -> dict:
    """The `reason.json` of a quarantined run."""
    try:
        return json.loads(storage.get_text(layout.quarantine_file_key(model, key)))
    except KeyNotFound:
        raise NotQuarantined(f"nothing in quarantine for model {model!r} and run {key!r}") from None


def list_quarantined(storage: Storage, model: str) -> list[dict]:
    """One summary per quarantined run, oldest logical date first."""
    entries = []
    for k in storage.list(layout.quarantine_area(model)):
        if not layout.is_quarantine_reason(k):
            continue
        entry = json.loads(storage.get_text(k))
        entries.append(
            {
                "run_key": entry["run_key"],
                "stage": entry.get("stage", "validate"),
                "rows": entry.get("rows"),
                "failures": len(entry["failures"]),
                "expectations": sorted(
                    {f"{f['expectation']}:{f['column'] or '-'}" for f in entry["failures"]}
                ),
                "quarantine_uri": entry["quarantine_uri"],
            }
        )
    return sorted(entries, key=lambda e: e["run_key"])


def events(storage: Storage, model: str) -> list[dict]:
    """Every quarantine event of the model, oldest first."""
    keys = [
        k for k in storage.list(layout.quarantine_events_area(model)) if k.endswith(f"/{layout.EVENT_FILE}")
    ]
    return [json.loads(storage.get_text(k)) for k in keys]


def archive(storage: Storage, model: str, key: str, action: str, **details: Any) -> str:
    """Move what is left of a quarantine entry into a new event folder (nothing is deleted)."""
    entry = reason(storage, model, key)
    folder = record_event(storage, model, key, action, previous_failures=entry["failures"], **details)
    storage.move_prefix(layout.quarantine_prefix(model, key), folder)
    return folder
