"""Release: a quarantined batch goes back to `batches/` once an engineer has fixed it, and only if it now
passes its contract; every attempt, refused or not, is a quarantine event."""

from __future__ import annotations

import getpass
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from retrainer.core import layout
from retrainer.core.errors import Rejected
from retrainer.data import quarantine
from retrainer.data.contracts import BatchRejected
from retrainer.data.extract import describe_batch
from retrainer.data.learnt import released_suite
from retrainer.data.validate import validate_batch
from retrainer.sources.partitions import unreadable_partitions
from retrainer.storage import Storage, sha256_bytes


class ReleaseRefused(Rejected):
    """A quarantined batch cannot be released: it still breaks its contract or its source is unreadable."""


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
    The suite's learnt expectations (`data.learnt`) count as warnings for a released batch: a shift in
    what a column means is a person's call, made with `why`.
    """
    who = who or getpass.getuser()
    if not why.strip():
        raise ValueError("a release needs a reason (--reason)")
    quarantine.resume_moves(storage, model)  # a release a crash interrupted is finished first
    entry = quarantine.reason(storage, model, key)
    details = {"by": who, "why": why, "previous_failures": entry["failures"]}
    if entry.get("stage") == "extract":
        still_broken = unreadable_partitions(source, entry.get("source_partitions", []))
        if still_broken:
            quarantine.record_event(
                storage, model, key, "release_refused", **details, still_broken=still_broken
            )
            names = ", ".join(f"{p}: {e}" for p, e in still_broken.items())
            raise ReleaseRefused(f"run {key}: source files are still unreadable: {names}")
        folder = quarantine.archive(storage, model, key, "released", by=who, why=why)
        return {"action": "released", "run_key": key, "event_uri": storage.uri(folder), "by": who}

    manifest_key = layout.quarantine_file_key(model, key, layout.MANIFEST_FILE)
    manifest = json.loads(storage.get_text(manifest_key))
    data = storage.get_bytes(layout.quarantine_file_key(model, key, layout.BATCH_FILE))
    if (actual := sha256_bytes(data)) != manifest["sha256"]:
        # The engineer replaced the batch in quarantine: record what changed, then judge the new bytes.
        manifest = describe_batch(manifest, data) | {"replaced_sha256": manifest["sha256"]}
        details["replaced_sha256"] = manifest["replaced_sha256"]
        details["sha256"] = actual
    storage.put_text(manifest_key, json.dumps(manifest | {"released": {"by": who, "why": why}}, indent=2))
    names = (layout.BATCH_FILE, layout.MANIFEST_FILE)  # reason.json stays until the verdict
    pairs = [(layout.quarantine_file_key(model, key, n), layout.batch_file_key(model, key, n)) for n in names]
    quarantine.move_keys(storage, pairs, layout.batch_prefix(model, key))
    try:
        # Released, not silenced: the learnt expectations (what the column usually looks like) it broke are
        # reported as warnings; its shape must still hold. Once validated it is history the next refresh
        # learns from.
        with tempfile.TemporaryDirectory(prefix="release-") as scratch:
            report = validate_batch(
                storage,
                storage.uri(layout.batch_file_key(model, key, layout.MANIFEST_FILE)),
                released_suite(Path(suite_path), Path(scratch)),
                rules,
            )
    except BatchRejected as error:
        # validate moved it back with its new reason.json; the old failures are kept in this event
        failures = [asdict(f) for f in error.failures]
        quarantine.record_event(storage, model, key, "release_refused", **details, failures=failures)
        raise ReleaseRefused(
            f"run {key} still breaks its contract; it is back in quarantine.\n{error}"
        ) from error
    extra = {k: v for k, v in details.items() if k not in ("by", "why", "previous_failures")}
    folder = quarantine.archive(storage, model, key, "released", by=who, why=why, **extra)
    return {
        "action": "released",
        "run_key": key,
        "event_uri": storage.uri(folder),
        "by": who,
        "batch_uri": report["batch_uri"],
        "validation_uri": report["validation_uri"],
        "warnings": len(report["warnings"]),
    }
