"""Validate: hold a batch against its Great Expectations suite (JSON in `expectations/`).

Critical expectations decide: a batch failing one is moved to quarantine with a `reason.json`, and
`BatchRejected` names every failed expectation and column. Warning expectations are reported only.
We call GX 1.x directly rather than through the Airflow GX provider: its operator configures GX at DAG
parse time, and its releases for Airflow >= 3.3 pull in GX 0.18 (see README, "Why GX is called directly").
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.errors import Rejected
from retrainer.extract import BATCH_FILE, batch_prefix
from retrainer.storage import Storage, sha256_bytes

VALIDATION_FILE = "validation.json"
REASON_FILE = "reason.json"


class SuiteError(ValueError):
    """An expectation suite file is missing or malformed."""


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


class BatchRejected(Rejected):
    """A batch broke a critical expectation of its data contract."""

    def __init__(self, batch_uri: str, failures: list[Failure], quarantine_uri: str | None) -> None:
        self.batch_uri = batch_uri
        self.failures = failures
        self.quarantine_uri = quarantine_uri
        lines = "\n".join(f"  - {failure.describe()}" for failure in failures)
        where = f"; moved to quarantine at {quarantine_uri}" if quarantine_uri else ""
        super().__init__(f"batch {batch_uri} broke {len(failures)} critical expectation(s){where}:\n{lines}")

    @property
    def columns(self) -> list[str]:
        return sorted({f.column for f in self.failures if f.column})


def load_suite(path: str | os.PathLike[str]):
    """A GX ExpectationSuite from its JSON file."""
    import great_expectations as gx

    path = Path(path)
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"expectation suite not found: {path}") from None
    except json.JSONDecodeError as error:
        raise SuiteError(f"expectation suite {path} is not valid JSON: {error}") from None
    if not isinstance(spec, dict) or not spec.get("name") or not isinstance(spec.get("expectations"), list):
        raise SuiteError(f"expectation suite {path} needs a 'name' and a list of 'expectations'")
    return gx.ExpectationSuite(**spec)


def run_suite(frame: pd.DataFrame, suite) -> list[Failure]:
    """Every failed expectation of `suite` on `frame`, critical and warning alike."""
    import great_expectations as gx

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    suite = context.suites.add(suite)
    batch = context.data_sources.add_pandas("batches").add_dataframe_asset("batch")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=suite.name, data=batch.add_batch_definition_whole_dataframe("whole"), suite=suite
        )
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=[definition], result_format="SUMMARY")
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    failures = []
    for validation in result.run_results.values():
        failures.extend(_failure(r) for r in validation.results if not r.success)
    return failures


def _failure(result) -> Failure:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in {"batch_id", "column", "result_format"}}
    details = result.result or {}
    error = None
    for info in _exception_infos(result.exception_info):
        if info.get("raised_exception") and info.get("exception_message"):
            error = info["exception_message"].strip().splitlines()[-1]
            break
    return Failure(
        expectation=config.type,
        severity=str(getattr(config.severity, "value", config.severity)),
        column=config.kwargs.get("column") or config.kwargs.get("column_A"),
        observed=_jsonable(details.get("observed_value")),
        expected=_jsonable(kwargs),
        unexpected_count=details.get("unexpected_count"),
        unexpected_examples=_jsonable(details.get("partial_unexpected_list") or [])[:5],
        error=error,
    )


def _exception_infos(info) -> list[dict]:
    """GX reports one exception dict, or a dict of them keyed by metric."""
    if not info:
        return []
    if "raised_exception" in info:
        return [info]
    return [value for value in info.values() if isinstance(value, dict)]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def validate_batch(storage: Storage, manifest_uri: str, suite_path: str | os.PathLike[str]) -> dict:
    """Validate the batch whose manifest extract wrote at `manifest_uri`.

    On success, writes `validation.json` beside the batch and returns it. On a critical failure, moves
    the batch to `quarantine/<model>/<run key>/` with `reason.json` and raises BatchRejected.
    """
    manifest = json.loads(storage.get_text(storage.key_of(manifest_uri)))
    model, key = manifest["model"], manifest["run_key"]
    prefix = batch_prefix(model, key)
    data = storage.get_bytes(f"{prefix}/{BATCH_FILE}")
    suite = load_suite(suite_path)
    if (actual := sha256_bytes(data)) != manifest["sha256"]:
        # The batch changed after extract wrote its manifest: judge nothing, quarantine it.
        failures = [Failure("batch_checksum", "critical", None, actual, {"sha256": manifest["sha256"]})]
    else:
        failures = run_suite(pd.read_parquet(io.BytesIO(data)), suite)
    critical = [f for f in failures if f.severity == "critical"]
    report = {
        "model": model,
        "run_key": key,
        "suite": suite.name,
        "batch_uri": manifest["batch_uri"],
        "batch_sha256": manifest["sha256"],
        "rows": manifest["rows"],
        "success": not critical,
        "evaluated_expectations": len(suite.expectations),
        "failures": [asdict(f) for f in critical],
        "warnings": [asdict(f) for f in failures if f.severity != "critical"],
    }
    if critical:
        destination = f"quarantine/{model}/{key}"
        storage.delete_prefix(destination)  # a rerun of the same date replaces its earlier quarantine
        storage.move_prefix(prefix, destination)
        report["quarantine_uri"] = storage.uri(destination)
        storage.put_text(f"{destination}/{REASON_FILE}", json.dumps(report, indent=2))
        raise BatchRejected(manifest["batch_uri"], critical, report["quarantine_uri"])
    report["validation_uri"] = storage.put_text(f"{prefix}/{VALIDATION_FILE}", json.dumps(report, indent=2))
    return report
