"""Quarantine: where batches that broke their data contract wait, with the reason, until someone acts.

Layout under the storage root, per model and run key (the logical date):
    quarantine/<model>/<run>/reason.json         every failed expectation: column, observed value, threshold
    quarantine/<model>/<run>/batch.parquet       a rejected batch moved here from batches/, with its manifest
    quarantine/<model>/<run>/source/<partition>  a copy of a source file that could not be read (the source
                                                 itself is left untouched)
    quarantine-events/<model>/<time>-<run>-<action>/event.json  who did what and why, never rewritten;
                                                 a released entry's reason.json and copies move in beside it

Nothing is deleted: a batch leaves quarantine only by moving back to `batches/`, and its reason moves to the
event that released it; a rerun of the same date that is rejected again supersedes the earlier entry, which
moves, intact, to a `superseded` event. A move copies then deletes object by object; it first writes its
journal (`move.json` in the folder moved into), so a move a crash interrupted is finished by the next
quarantine operation of the model (`resume_moves`), and the journal removed last.
Records name the entry by its key (`quarantine_key`) as well as its URI, for a root copied elsewhere.
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

    A rerun of the same logical date supersedes that date's earlier quarantine entry (it moves to events).
    """
    destination = _fresh_entry(storage, model, key, by=by)
    move_keys(storage, _pairs(storage, batch_prefix, destination), destination)
    return _write_reason(storage, model, key, reason, by=by)


def quarantine_source_files(
    storage: Storage, source: Storage, model: str, key: str, partition_keys: list[str], reason: dict
) -> str:
    """Copy the raw bytes of unusable source files into quarantine with `reason.json`; the source keeps
    its files. Returns the quarantine URI."""
    _fresh_entry(storage, model, key, by="extract")
    for partition in partition_keys:
        storage.put_bytes(layout.quarantine_source_key(model, key, partition), source.get_bytes(partition))
    return _write_reason(storage, model, key, reason, by="extract")


def _fresh_entry(storage: Storage, model: str, key: str, by: str) -> str:
    """The quarantine folder of a run, emptied by superseding whatever an earlier run of the date left."""
    resume_moves(storage, model)
    destination = layout.quarantine_prefix(model, key)
    if storage.list(destination):
        archive(storage, model, key, "superseded", by=by, why="the date was rerun and rejected again")
    return destination


def _write_reason(storage: Storage, model: str, key: str, reason: dict, by: str) -> str:
    destination = layout.quarantine_prefix(model, key)
    uri = storage.uri(destination)
    storage.put_text(
        layout.quarantine_file_key(model, key),
        json.dumps(reason | {"quarantine_uri": uri, "quarantine_key": destination}, indent=2),
    )
    record_event(storage, model, key, "quarantined", by=by, failures=reason.get("failures", []))
    return uri


def _pairs(storage: Storage, src: str, dst: str) -> list[tuple[str, str]]:
    """(source key, destination key) of every object under the folder `src`, moved under `dst`."""
    src = src.rstrip("/") + "/"
    return [
        (k, f"{dst.rstrip('/')}/{k[len(src) :]}") for k in storage.list(src) if not layout.is_move_journal(k)
    ]


def move_keys(storage: Storage, pairs: list[tuple[str, str]], destination: str) -> list[str]:
    """Move objects (copy, then delete the source) under a journal in `destination`; returns the new keys.

    Interrupted anywhere, the move is finished by `resume_moves`: a source still present is copied again
    (it is the authoritative copy until deleted), one already deleted was copied before.
    """
    journal = layout.move_journal_key(destination)
    storage.put_text(journal, json.dumps({"moves": pairs, "at": clock.now().isoformat()}))
    _finish(storage, pairs)
    storage.delete(journal)
    return [new for _, new in pairs]


def _finish(storage: Storage, pairs: list[tuple[str, str]]) -> None:
    for old, new in pairs:
        try:
            data = storage.get_bytes(old)
        except KeyNotFound:
            continue  # moved before the interruption
        storage.put_bytes(new, data)
        storage.delete(old)


def resume_moves(storage: Storage, model: str) -> int:
    """Finish every move of the model's quarantine that a crash interrupted; returns how many."""
    areas = (layout.quarantine_area(model), layout.quarantine_events_area(model), layout.batches_area(model))
    journals = [k for area in areas for k in storage.list(area) if layout.is_move_journal(k)]
    for journal in journals:
        _finish(storage, [tuple(pair) for pair in json.loads(storage.get_text(journal))["moves"]])
        storage.delete(journal)
    return len(journals)


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
    """Move what is left of a quarantine entry into a new event folder (nothing is deleted). An entry a
    crash left without its `reason.json` is archived too, with `previous_failures` null."""
    resume_moves(storage, model)
    try:
        previous = reason(storage, model, key)["failures"]
    except NotQuarantined:
        previous = None
    folder = record_event(storage, model, key, action, previous_failures=previous, **details)
    move_keys(storage, _pairs(storage, layout.quarantine_prefix(model, key), folder), folder)
    return folder
