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

import getpass
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from retrainer.errors import Rejected
from retrainer.storage import KeyNotFound, Storage

REASON_FILE = "reason.json"
EVENT_FILE = "event.json"
SOURCE_DIR = "source"


@dataclass(frozen=True)
class Failure:
    """One failed expectation, in the words an engineer needs to fix the batch."""

    expectation: str
    severity: str
    column: str | None
    observed: Any
    expected: dict[str, Any]
    unexpected_count: int | None = None
    unexpected_examples: list[Any] = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        bounds = ", ".join(f"{k}={v!r}" for k, v in self.expected.items() if k != "column_set")
        text = f"{self.expectation} on {where}"
        if self.error:
            return f"{text}: {self.error}"
        text += f": observed {self.observed!r}"
        if self.unexpected_count:
            text += f" ({self.unexpected_count} unexpected rows, e.g. {self.unexpected_examples[:3]!r})"
        return f"{text}; expected {bounds}" if bounds else text


class NotQuarantined(LookupError):
    """No quarantine entry for this model and run."""


class ReleaseRefused(Rejected):
    """A quarantined batch cannot be released: it still breaks its contract or its source is unreadable."""


def quarantine_prefix(model: str, key: str) -> str:
    return f"quarantine/{model}/{key}"


def _now() -> datetime:
    return datetime.now(UTC)


def record_event(storage: Storage, model: str, key: str, action: str, **details: Any) -> str:
    """Append one event (quarantined, released, superseded, release_refused); returns its folder's key."""
    at = _now()
    folder = f"quarantine-events/{model}/{at:%Y%m%dT%H%M%S%fZ}-{key}-{action}"
    event = {"action": action, "model": model, "run_key": key, "at": at.isoformat(), **details}
    storage.put_text(f"{folder}/{EVENT_FILE}", json.dumps(event, indent=2, default=str), if_absent=True)
    return folder


def quarantine_batch(storage: Storage, batch_prefix: str, model: str, key: str, reason: dict) -> str:
    """Move every file under `batch_prefix` to quarantine with `reason.json`; returns the quarantine URI.

    A rerun of the same logical date replaces that date's earlier quarantine entry (its event stays).
    """
    destination = quarantine_prefix(model, key)
    storage.delete_prefix(destination)
    storage.move_prefix(batch_prefix, destination)
    uri = storage.uri(destination)
    storage.put_text(f"{destination}/{REASON_FILE}", json.dumps(reason | {"quarantine_uri": uri}, indent=2))
    record_event(storage, model, key, "quarantined", by="validate", failures=reason.get("failures", []))
    return uri


def quarantine_source_files(
    storage: Storage, source: Storage, model: str, key: str, partition_keys: list[str], reason: dict
) -> str:
    """Copy the raw bytes of unusable source files into quarantine with `reason.json`; the source keeps
    its files. Returns the quarantine URI."""
    destination = quarantine_prefix(model, key)
    storage.delete_prefix(destination)
    for partition in partition_keys:
        storage.put_bytes(f"{destination}/{SOURCE_DIR}/{partition}", source.get_bytes(partition))
    uri = storage.uri(destination)
    storage.put_text(f"{destination}/{REASON_FILE}", json.dumps(reason | {"quarantine_uri": uri}, indent=2))
    record_event(storage, model, key, "quarantined", by="extract", failures=reason.get("failures", []))
    return uri


def reason(storage: Storage, model: str, key: str) -> dict:
    """The `reason.json` of a quarantined run."""
    try:
        return json.loads(storage.get_text(f"{quarantine_prefix(model, key)}/{REASON_FILE}"))
    except KeyNotFound:
        raise NotQuarantined(f"nothing in quarantine for model {model!r} and run {key!r}") from None


def list_quarantined(storage: Storage, model: str) -> list[dict]:
    """One summary per quarantined run, oldest logical date first."""
    entries = []
    for k in storage.list(f"quarantine/{model}"):
        if not k.endswith(f"/{REASON_FILE}") or k.count("/") != 3:
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
    keys = [k for k in storage.list(f"quarantine-events/{model}") if k.endswith(f"/{EVENT_FILE}")]
    return [json.loads(storage.get_text(k)) for k in keys]


def archive(storage: Storage, model: str, key: str, action: str, **details: Any) -> str:
    """Move what is left of a quarantine entry into a new event folder (nothing is deleted)."""
    entry = reason(storage, model, key)
    folder = record_event(storage, model, key, action, previous_failures=entry["failures"], **details)
    storage.move_prefix(quarantine_prefix(model, key), folder)
    return folder


def release(
    storage: Storage,
    source: Storage,
    model: str,
    key: str,
    suite_path: str | os.PathLike[str],
    rules: dict,
    why: str,
    who: str | None = None,
) -> dict:
    """Release a quarantined run after an engineer fixed it; returns the release event.

    A rejected batch is moved back to `batches/` and validated again, as it now stands, against the
    current suite and rules (the engineer may have fixed `batch.parquet` in quarantine, or changed the
    suite or `params.yaml`). If it passes it stays in `batches/`, marked released, so a rerun of the date
    keeps it instead of extracting again; if not, validation puts it back in quarantine with the new
    reasons and ReleaseRefused is raised. For unreadable source files, every quarantined partition must be
    readable Parquet at the source by now (fix the source, then release or simply rerun the date).
    """
    from retrainer import extract, validate
    from retrainer.storage import sha256_bytes

    who = who or getpass.getuser()
    if not why.strip():
        raise ValueError("a release needs a reason (--reason)")
    entry = reason(storage, model, key)
    prefix = quarantine_prefix(model, key)
    details = {"by": who, "why": why, "previous_failures": entry["failures"]}
    if entry.get("stage") == "extract":
        still_broken = extract.unreadable_partitions(source, entry.get("source_partitions", []))
        if still_broken:
            record_event(storage, model, key, "release_refused", **details, still_broken=still_broken)
            names = ", ".join(f"{p}: {e}" for p, e in still_broken.items())
            raise ReleaseRefused(f"run {key}: source files are still unreadable: {names}")
        folder = archive(storage, model, key, "released", by=who, why=why)
        return {"action": "released", "run_key": key, "event_uri": storage.uri(folder), "by": who}

    manifest_key = f"{prefix}/{extract.MANIFEST_FILE}"
    manifest = json.loads(storage.get_text(manifest_key))
    data = storage.get_bytes(f"{prefix}/{extract.BATCH_FILE}")
    if (actual := sha256_bytes(data)) != manifest["sha256"]:
        # The engineer replaced the batch in quarantine: record what changed, then judge the new bytes.
        manifest = extract.describe_batch(manifest, data) | {"replaced_sha256": manifest["sha256"]}
        details["replaced_sha256"] = manifest["replaced_sha256"]
        details["sha256"] = actual
    batch_prefix = extract.batch_prefix(model, key)
    storage.put_text(manifest_key, json.dumps(manifest | {"released": {"by": who, "why": why}}, indent=2))
    for name in (extract.BATCH_FILE, extract.MANIFEST_FILE):  # reason.json stays until the verdict
        storage.put_bytes(f"{batch_prefix}/{name}", storage.get_bytes(f"{prefix}/{name}"))
        storage.delete(f"{prefix}/{name}")
    try:
        report = validate.validate_batch(
            storage, storage.uri(f"{batch_prefix}/{extract.MANIFEST_FILE}"), suite_path, rules
        )
    except validate.BatchRejected as error:
        # validate moved it back with its new reason.json; the old failures are kept in this event
        failures = [asdict(f) for f in error.failures]
        record_event(storage, model, key, "release_refused", **details, failures=failures)
        raise ReleaseRefused(
            f"run {key} still breaks its contract; it is back in quarantine.\n{error}"
        ) from error
    extra = {k: v for k, v in details.items() if k not in ("by", "why", "previous_failures")}
    folder = archive(storage, model, key, "released", by=who, why=why, **extra)
    return {
        "action": "released",
        "run_key": key,
        "event_uri": storage.uri(folder),
        "by": who,
        "batch_uri": report["batch_uri"],
        "validation_uri": report["validation_uri"],
        "warnings": len(report["warnings"]),
    }
