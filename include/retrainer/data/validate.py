"""Validate: hold a batch against its data contract, the suite (`contracts`) and the batch checks.

Critical expectations decide: a batch failing one is moved to quarantine with a `reason.json`, and
`BatchRejected` names every failed expectation, column, observed value and threshold. Warning expectations
are reported only. The suite runs with the run's window and volume floor as suite parameters, and the
suite's Data Docs are published under `data-docs/<model>/<run>/`; GX's full validation result goes to
`validations/<model>/<run>/`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from retrainer.core import layout
from retrainer.core.clock import as_utc
from retrainer.data import quarantine
from retrainer.data.batch_checks import (
    duplicate_failures,
    missing_day_failures,
    time_zone_failures,
    volume_floor,
)
from retrainer.data.catalogue import validated_history
from retrainer.data.contracts import (
    BatchRejected,
    Failure,
    ParquetColumns,
    load_suite,
    run_suite,
    summary_table,
)
from retrainer.data.docs import publish_docs
from retrainer.data.resent import resent_day_failures
from retrainer.storage import ChecksumMismatch, Storage

log = logging.getLogger(__name__)


def _with_volume(failure: Failure, volume: dict) -> Failure:
    """A failed row count, with the recent volume its floor came from."""
    if failure.expectation != "expect_table_row_count_to_be_between":
        return failure
    return replace(failure, expected=failure.expected | {k: v for k, v in volume.items() if k != "min_rows"})


def validate_batch(
    storage: Storage, manifest_uri: str, suite_path: str | os.PathLike[str], rules: dict
) -> dict:
    """Validate the batch whose manifest extract wrote at `manifest_uri`.

    `rules` is the `validation` section of params.yaml. On success, writes `validation.json` beside the
    batch and returns it (warnings included). On a critical failure, moves the batch to
    `quarantine/<model>/<run key>/` with `reason.json` and raises BatchRejected. Either way the run's
    Data Docs page and GX result are published and named in the report.
    """
    manifest = json.loads(storage.get_text(storage.key_of(manifest_uri)))
    model, key = manifest["model"], manifest["run_key"]
    suite = load_suite(suite_path)
    history = validated_history(storage, model, key)
    volume = volume_floor(manifest, history, rules)
    docs_uri = docs_url = result_uri = None
    with tempfile.TemporaryDirectory(prefix="validate-") as scratch:
        # The copy read is the copy checked: streamed down, hashed, then read a few columns at a time.
        try:
            batch = storage.download_verified(
                layout.batch_file_key(model, key), Path(scratch) / "batch.parquet", manifest["sha256"]
            )
        except ChecksumMismatch as changed:
            # The batch changed after extract wrote its manifest: judge nothing, quarantine it.
            failures = [
                Failure("batch_checksum", "critical", None, changed.actual, {"sha256": changed.expected})
            ]
            run = None
        else:
            parameters = {
                "window_start": pd.Timestamp(manifest["window_start"]),
                "window_end": pd.Timestamp(manifest["window_end"]),
                "min_rows": volume["min_rows"],
            }
            site = Path(scratch) / "docs"
            run = run_suite(
                ParquetColumns(batch),
                suite,
                parameters,
                site,
                key,
                as_utc(manifest["window_end"]),
                markers={"batch_sha256": manifest["sha256"]},
            )
            publish_docs(storage, site, layout.data_docs_prefix(model, key))
    if run is not None:
        if run.docs_page:
            docs_key = f"{layout.data_docs_prefix(model, key)}/{run.docs_page}"
            docs_uri, docs_url = storage.uri(docs_key), layout.ui_url(docs_key)  # stored; opened in the UI
        result_uri = storage.put_text(layout.gx_result_key(model, key, suite.name), json.dumps(run.result))
        failures = [
            *(_with_volume(f, volume) for f in run.failures),
            *duplicate_failures(manifest, history),
            *resent_day_failures(manifest, history, rules),
            *time_zone_failures(manifest, rules),
            *missing_day_failures(manifest),
        ]
    critical = [f for f in failures if f.severity == "critical"]
    warnings = [f for f in failures if f.severity != "critical"]
    report = {
        "model": model,
        "run_key": key,
        "stage": "validate",
        "suite": suite.name,
        "batch_uri": manifest["batch_uri"],
        "batch_sha256": manifest["sha256"],
        "rows": manifest["rows"],
        "window_start": manifest["window_start"],
        "window_end": manifest["window_end"],
        "success": not critical,
        "evaluated_expectations": len(suite.expectations),
        "failures": [asdict(f) for f in critical],
        "warnings": [asdict(f) for f in warnings],
        "volume": volume,
        "data_docs_uri": docs_uri,
        "data_docs_url": docs_url,
        "gx_result_uri": result_uri,
    }
    log.info("%s", summary_table(suite.name, len(suite.expectations), critical, warnings))
    for warning in warnings:
        log.warning("contract warning for %s: %s", key, warning.describe())
    log.info("Data Docs of run %s: %s", key, docs_url)  # opened in the Airflow UI, never by its URI
    if critical:
        where = quarantine.quarantine_batch(storage, layout.batch_prefix(model, key), model, key, report)
        raise BatchRejected(manifest["batch_uri"], critical, where, docs_uri, docs_url)
    report["validation_uri"] = storage.put_text(
        layout.batch_file_key(model, key, layout.VALIDATION_FILE), json.dumps(report, indent=2)
    )
    released = manifest.get("released")  # `quarantine release` archives the entry itself
    if not released and storage.exists(layout.quarantine_file_key(model, key)):
        # An earlier attempt at this date was quarantined; this batch (from a fixed source) supersedes it.
        quarantine.archive(storage, model, key, "superseded", by="validate", why="a rerun of the date passed")
    return report
