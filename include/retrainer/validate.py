"""Validate: hold a batch against its Great Expectations suite (JSON in `expectations/`) and batch checks.

Critical expectations decide: a batch failing one is moved to quarantine with a `reason.json`, and
`BatchRejected` names every failed expectation, column, observed value and threshold. Warning expectations
are reported only. A GX checkpoint runs the suite with the run's window and volume floor as suite
parameters, and its UpdateDataDocsAction builds the run's Data Docs, which are published under
`data-docs/<model>/<run>/`; GX's full validation result goes to `validations/<model>/<run>/`. Checks that
need more than the batch (a re-sent batch, the volume of recent batches, source time zones) are computed
here from the manifests and reported in the same Failure shape.

We call GX 1.x directly rather than through the Airflow GX provider: its operator configures GX at DAG
parse time, and its releases for Airflow >= 3.3 pull in GX 0.18 (see README, "Why GX is called directly").
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import statistics
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer import quarantine
from retrainer.config import as_utc
from retrainer.errors import Rejected
from retrainer.extract import BATCH_FILE, MANIFEST_FILE, batch_prefix
from retrainer.quarantine import REASON_FILE, Failure
from retrainer.storage import KeyNotFound, Storage, sha256_bytes

__all__ = [
    "REASON_FILE",
    "VALIDATION_FILE",
    "BatchRejected",
    "Failure",
    "SuiteError",
    "validate_batch",
    "validated_manifests",
]

VALIDATION_FILE = "validation.json"
DOCS_SITE = "run"
# GX copies tutorial images into every site that its validation pages never show (3.4 of its 4.3 MB).
DOCS_SKIPPED = ("static/images/glossary_scroller.gif", "static/images/iterative-dev-loop.png")

log = logging.getLogger(__name__)


class SuiteError(ValueError):
    """An expectation suite file is missing or malformed."""


class BatchRejected(Rejected):
    """A batch broke a critical expectation of its data contract."""

    def __init__(
        self,
        batch_uri: str,
        failures: list[Failure],
        quarantine_uri: str | None,
        data_docs_uri: str | None = None,
    ) -> None:
        self.batch_uri = batch_uri
        self.failures = failures
        self.quarantine_uri = quarantine_uri
        self.data_docs_uri = data_docs_uri
        lines = "\n".join(f"  - {failure.describe()}" for failure in failures)
        where = f"; moved to quarantine at {quarantine_uri}" if quarantine_uri else ""
        docs = f"\nData Docs: {data_docs_uri}" if data_docs_uri else ""
        super().__init__(
            f"batch {batch_uri} broke {len(failures)} critical expectation(s){where}:\n{lines}{docs}"
        )

    @property
    def columns(self) -> list[str]:
        return sorted({f.column for f in self.failures if f.column})


@dataclass(frozen=True)
class SuiteRun:
    """What one checkpoint run gave: the failed expectations, GX's own result, and the Data Docs site."""

    failures: list[Failure]
    result: dict
    docs_dir: Path | None
    docs_page: str | None  # the run's validation page, relative to docs_dir


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


def run_suite(
    frame: pd.DataFrame,
    suite,
    parameters: dict[str, Any] | None = None,
    docs_dir: str | os.PathLike[str] | None = None,
    run_name: str | None = None,
    run_time: Any = None,
) -> SuiteRun:
    """Run `suite` on `frame` through a GX checkpoint; every failed expectation, critical and warning.

    `parameters` fill the suite's `{"$PARAMETER": name}` values. With `docs_dir`, the checkpoint's
    UpdateDataDocsAction builds a static Data Docs site there.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    actions = []
    if docs_dir is not None:
        context.add_data_docs_site(
            DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions.append(UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE]))
    suite = context.suites.add(suite)
    batch = context.data_sources.add_pandas("batches").add_dataframe_asset("batch")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=suite.name, data=batch.add_batch_definition_whole_dataframe("whole"), suite=suite
        )
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=suite.name, validation_definitions=[definition], actions=actions, result_format="SUMMARY"
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters or {},
        run_id=gx.RunIdentifier(run_name=run_name, run_time=run_time),
    )
    failures, page = [], None
    for identifier, validation in result.run_results.items():
        failures.extend(_failure(r) for r in validation.results if not r.success)
        if docs_dir is not None:
            for site in context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE):
                page = Path(site["site_url"].removeprefix("file://")).relative_to(Path(docs_dir).resolve())
    validations = [v.to_json_dict() for v in result.run_results.values()]
    return SuiteRun(
        failures, _jsonable(validations[0]), docs_dir and Path(docs_dir), page and page.as_posix()
    )


def _failure(result) -> Failure:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in {"batch_id", "column", "result_format"}}
    details = result.result or {}
    if "mostly" in type(config.to_domain_obj()).__fields__ and "mostly" not in kwargs:
        kwargs["mostly"] = 1.0  # GX's default: the share of rows that must pass; implicit in the suite
    if not kwargs:  # expect_column_to_exist: the column itself is the whole requirement
        kwargs = {"column": config.kwargs.get("column")}
    observed = details.get("observed_value")
    if observed is None and details.get("unexpected_count") is not None:  # a column map expectation
        observed = {"unexpected_percent": round(details.get("unexpected_percent") or 0.0, 3)}
    error = None
    for info in _exception_infos(result.exception_info):
        if info.get("raised_exception") and info.get("exception_message"):
            error = info["exception_message"].strip().splitlines()[-1]
            break
    return Failure(
        expectation=config.type,
        severity=str(getattr(config.severity, "value", config.severity)),
        column=config.kwargs.get("column") or config.kwargs.get("column_A"),
        observed=_jsonable(observed),
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


# --- checks across batches --------------------------------------------------------------------------------


def validated_manifests(storage: Storage, model: str) -> list[dict]:
    """Manifests (with their `manifest_uri`) of every batch of the model that passed validation, oldest
    logical date first. Training reads its window from these; validation compares a batch with them."""
    manifests = []
    for k in storage.list(f"batches/{model}"):
        if not k.endswith(f"/{VALIDATION_FILE}") or not json.loads(storage.get_text(k)).get("success"):
            continue
        manifest_key = k.replace(VALIDATION_FILE, MANIFEST_FILE)
        try:
            manifest = json.loads(storage.get_text(manifest_key))
        except KeyNotFound:
            continue
        manifests.append(manifest | {"manifest_uri": storage.uri(manifest_key)})
    return sorted(manifests, key=lambda m: m["run_key"])


def validated_history(storage: Storage, model: str, key: str) -> list[dict]:
    """Manifests of the model's validated batches other than run `key`, oldest logical date first."""
    return [m for m in validated_manifests(storage, model) if m["run_key"] != key]


def _window_days(manifest: dict) -> float:
    span = as_utc(manifest["window_end"]) - as_utc(manifest["window_start"])
    return span.total_seconds() / 86_400


def volume_floor(manifest: dict, history: list[dict], rules: dict) -> dict:
    """The fewest rows this batch may have: more than (1 - max_volume_drop) of what the median of the last
    `recent_batches` validated batches before it delivered per day of window; at least 1 without history."""
    earlier = [m for m in history if m["run_key"] < manifest["run_key"]][-rules["recent_batches"] :]
    evidence = {"min_rows": 1, "recent_runs": [m["run_key"] for m in earlier]}
    if not earlier:
        return evidence
    per_day = statistics.median(m["rows"] / _window_days(m) for m in earlier)
    expected = per_day * _window_days(manifest)
    floor = (1 - rules["max_volume_drop"]) * expected
    return evidence | {
        # round first: 0.1 * 2400 is 239.99999999999997 in floating point, and a 90% drop must fail
        "min_rows": max(1, math.floor(round(floor, 6)) + 1),
        "median_rows_per_day": per_day,
        "expected_rows": round(expected, 1),
        "max_volume_drop": rules["max_volume_drop"],
    }


def duplicate_failures(manifest: dict, history: list[dict]) -> list[Failure]:
    """A batch, or a day of it, with the same rows as another batch or another day: a re-sent delivery.

    The same day read again by an overlapping window is not a duplicate; the same rows under another day
    or as another whole batch are.
    """
    observed = []
    for other in history:
        if manifest.get("content_sha256") and manifest["content_sha256"] == other.get("content_sha256"):
            observed.append(f"whole batch = batch of run {other['run_key']}")
    seen: dict[str, list[str]] = {}
    for other in [*history, manifest]:
        for p in other.get("partitions", []):
            if p["rows"]:
                seen.setdefault(p["content_sha256"], []).append(f"{p['key']} (run {other['run_key']})")
    for p in manifest.get("partitions", []):
        same = [where for where in seen.get(p["content_sha256"], []) if not where.startswith(p["key"] + " ")]
        if p["rows"] and same:
            observed.append(f"{p['key']} = {same[0]}")
    if not observed:
        return []
    return [
        Failure(
            "expect_batch_content_to_be_new",
            "critical",
            None,
            observed,
            {"content_sha256": "different from every other day and every validated batch"},
        )
    ]


def time_zone_failures(manifest: dict, rules: dict) -> list[Failure]:
    """Timestamp columns that arrived in another time zone than the contract's, or with none (naive)."""
    wrong: dict[str, dict[str, str]] = {}
    for p in manifest.get("partitions", []):
        for column, zone in p.get("time_zones", {}).items():
            if zone != rules["time_zone"]:
                wrong.setdefault(column, {})[p["key"]] = zone or "none (naive local time)"
    return [
        Failure(
            "expect_column_time_zone_to_be", "critical", column, by_file, {"time_zone": rules["time_zone"]}
        )
        for column, by_file in wrong.items()
    ]


# --- the stage --------------------------------------------------------------------------------------------


def _with_volume(failure: Failure, volume: dict) -> Failure:
    """A failed row count, with the recent volume its floor came from."""
    if failure.expectation != "expect_table_row_count_to_be_between":
        return failure
    return replace(failure, expected=failure.expected | {k: v for k, v in volume.items() if k != "min_rows"})


def publish_docs(storage: Storage, site: Path, prefix: str) -> None:
    """Upload a Data Docs site built in a local directory to `prefix` (local or S3, one code path)."""
    storage.delete_prefix(prefix)  # a rerun of the same date replaces its pages
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site).as_posix()
        if path.is_file() and relative not in DOCS_SKIPPED:
            storage.put_file(f"{prefix}/{relative}", path)


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
    prefix = batch_prefix(model, key)
    data = storage.get_bytes(f"{prefix}/{BATCH_FILE}")
    suite = load_suite(suite_path)
    history = validated_history(storage, model, key)
    volume = volume_floor(manifest, history, rules)
    docs_uri = result_uri = None
    if (actual := sha256_bytes(data)) != manifest["sha256"]:
        # The batch changed after extract wrote its manifest: judge nothing, quarantine it.
        failures = [Failure("batch_checksum", "critical", None, actual, {"sha256": manifest["sha256"]})]
    else:
        parameters = {
            "window_start": pd.Timestamp(manifest["window_start"]),
            "window_end": pd.Timestamp(manifest["window_end"]),
            "min_rows": volume["min_rows"],
        }
        with tempfile.TemporaryDirectory(prefix="gx-docs-") as site:
            run = run_suite(
                pd.read_parquet(io.BytesIO(data)),
                suite,
                parameters,
                site,
                key,
                as_utc(manifest["window_end"]),
            )
            publish_docs(storage, Path(site), f"data-docs/{model}/{key}")
        docs_uri = storage.uri(f"data-docs/{model}/{key}/{run.docs_page}") if run.docs_page else None
        result_uri = storage.put_text(f"validations/{model}/{key}/{suite.name}.json", json.dumps(run.result))
        failures = [
            *(_with_volume(f, volume) for f in run.failures),
            *duplicate_failures(manifest, history),
            *time_zone_failures(manifest, rules),
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
        "gx_result_uri": result_uri,
    }
    for warning in warnings:
        log.warning("contract warning for %s: %s", key, warning.describe())
    log.info("Data Docs of run %s: %s", key, docs_uri)
    if critical:
        where = quarantine.quarantine_batch(storage, prefix, model, key, report)
        raise BatchRejected(manifest["batch_uri"], critical, where, docs_uri)
    report["validation_uri"] = storage.put_text(f"{prefix}/{VALIDATION_FILE}", json.dumps(report, indent=2))
    released = manifest.get("released")  # `quarantine release` archives the entry itself
    if not released and storage.exists(f"{quarantine.quarantine_prefix(model, key)}/{REASON_FILE}"):
        # An earlier attempt at this date was quarantined; this batch (from a fixed source) supersedes it.
        quarantine.archive(storage, model, key, "superseded", by="validate", why="a rerun of the date passed")
    return report
