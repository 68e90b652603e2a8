"""The data contract: an expectation suite (JSON in `expectations/`) run through GX, and the
`Failure` shape in which every broken expectation, of the suite or of the batch checks, is reported.

We call GX 1.x directly rather than through the Airflow GX provider: its operator configures GX at DAG
parse time, and its releases for Airflow >= 3.3 pull in GX 0.18 (see docs/concepts/contracts.md).
"""

from __future__ import annotations

import gc
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core import frames
from retrainer.core.errors import Rejected
from retrainer.data.gx_engine import json_safe_quantile_details, lighter_pandas_engine

DOCS_SITE = "run"
# At most this many values (rows x columns) in the frame GX is handed at once; GX copies that frame for
# every column map expectation. A batch within it is validated in one piece.
GROUP_CELLS = 1 << 24


def _import_gx():
    """Great Expectations, imported quietly. GX logs hundreds of INFO lines per run ("Skipping registering
    function ... because it is a closure", temporary directories), some while it is imported, and some
    of its modules set their loggers to INFO; they bury what matters in a task log. Its warnings show."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations."):
            logging.getLogger(name).setLevel(logging.NOTSET)  # inherit WARNING from the package logger
    json_safe_quantile_details()
    return gx


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
        data_docs_url: str | None = None,
    ) -> None:
        self.batch_uri = batch_uri
        self.failures = failures
        self.quarantine_uri = quarantine_uri
        self.data_docs_uri = data_docs_uri
        self.data_docs_url = data_docs_url  # the page through the Airflow UI (`layout.ui_url`)
        lines = "\n".join(f"  - {failure.describe()}" for failure in failures)
        where = f"; moved to quarantine at {quarantine_uri}" if quarantine_uri else ""
        # the page a person opens from the log or the alert: the UI's address, the storage URI only without it
        docs = f"\nData Docs: {data_docs_url or data_docs_uri}" if data_docs_url or data_docs_uri else ""
        super().__init__(
            f"batch {batch_uri} broke {len(failures)} critical expectation(s){where}:\n{lines}{docs}"
        )

    @property
    def columns(self) -> list[str]:
        return sorted({f.column for f in self.failures if f.column})


@dataclass(frozen=True)
class SuiteRun:
    """What one run of a suite gave: the failed expectations, GX's own result, and the Data Docs site."""

    failures: list[Failure]
    result: dict
    docs_dir: Path | None
    docs_page: str | None  # the run's validation page, relative to docs_dir


def load_suite(path: str | os.PathLike[str]):
    """A GX ExpectationSuite from its JSON file."""
    gx = _import_gx()
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


class FrameColumns:
    """The columns of a data frame already in memory."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame, self.names, self.rows = frame, list(frame.columns), len(frame)

    def read(self, names: list[str]) -> pd.DataFrame:
        return self.frame[names]


class ParquetColumns:
    """The columns of a Parquet file, read a few at a time: only the ones asked for are ever in memory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(path).metadata
        self.path, self.rows = Path(path), metadata.num_rows
        self.names = list(metadata.schema.to_arrow_schema().names)

    def read(self, names: list[str]) -> pd.DataFrame:
        return frames.read_parquet(self.path, columns=names)


def run_suite(
    data: pd.DataFrame | FrameColumns | ParquetColumns,
    suite,
    parameters: dict[str, Any] | None = None,
    docs_dir: str | os.PathLike[str] | None = None,
    run_name: str | None = None,
    run_time: Any = None,
    markers: dict[str, str] | None = None,
) -> SuiteRun:
    """Run `suite` on `data` with GX; every failed expectation, critical and warning.

    GX's pandas engine copies the whole frame it is given for every column map expectation (it drops the
    column's nulls by masking every row of every column), so a big batch is never handed to it whole:
    each expectation runs on the columns it names, read a group of columns at a time (`_column_groups`),
    and the expectations of the table itself (row count, column set) on a frame holding the file's column
    names and row count but no values. A small batch is one group, the whole file. The results are put
    back in the suite's order as one validation result, which the Data Docs site renders as one page.
    `parameters` fill the suite's `{"$PARAMETER": name}` values; with `docs_dir`, a static Data Docs site
    is built there. `markers` (e.g. the sha256 of the file judged) replace GX's fingerprint of the first
    group's frame among the result's batch markers.
    """
    gx = _import_gx()
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    if isinstance(data, pd.DataFrame):
        data = FrameColumns(data)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
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
    run_id = gx.RunIdentifier(run_name=run_name, run_time=run_time)
    configurations = [e.configuration for e in suite.expectations]
    results: list[Any] = [None] * len(configurations)
    meta: dict = {}
    batch_id = None
    groups = _column_groups(configurations, data.names, data.rows)
    for number, (columns, positions) in enumerate(groups):
        part = context.suites.add(
            gx.ExpectationSuite(
                name=f"{suite.name}.{number}",
                expectations=[configurations[i].to_domain_obj() for i in positions],
            )
        )
        frame = (
            _schema_frame(data.names, data.rows)
            if columns is None
            else data.read([c for c in columns if c in data.names])
        )
        # A data source (so an execution engine and its metric cache) per group: nothing computed on one
        # group's frame is reused for, or kept alive by, the next.
        source = context.data_sources.add_pandas("batches")  # deleted after the group
        whole = source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("whole")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=part.name, data=whole, suite=part)
        )
        with lighter_pandas_engine(fingerprints=not markers):
            validated = definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=parameters or {},
                result_format="SUMMARY",
                run_id=run_id,
            )
        del frame, whole
        context.validation_definitions.delete(part.name)
        context.data_sources.delete(source.name)
        if len(groups) > 1:
            gc.collect()  # GX's batch objects hold their frame in reference cycles: free it before the next
        meta, batch_id = meta or dict(validated.meta), batch_id or validated.batch_id
        by_id = {e.id: i for e, i in zip(part.expectations, positions, strict=True)}
        for result in validated.results:
            results[by_id[result.expectation_config.id]] = result
    if markers:
        meta["batch_markers"] = {"ge_load_time": meta["batch_markers"].get("ge_load_time"), **markers}
    statistics = calc_validation_statistics(results)
    merged = ExpectationSuiteValidationResult(
        success=statistics.success,
        results=results,
        suite_name=suite.name,
        suite_parameters=parameters or {},
        statistics={k: v for k, v in statistics._asdict().items() if k != "success"},
        meta=meta,
        batch_id=batch_id,
    )
    failures = [_failure(r) for r in results if not r.success]
    page = None
    if docs_dir is not None:
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
            run_id=run_id,
            batch_identifier=batch_id,
        )
        from retrainer.data.docs import for_docs

        context.validation_results_store.set(identifier, for_docs(merged))  # data values shown as text
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=[identifier])
        for site in context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE):
            page = Path(site["site_url"].removeprefix("file://")).relative_to(Path(docs_dir).resolve())
    return SuiteRun(
        failures, _jsonable(merged.to_json_dict()), docs_dir and Path(docs_dir), page and page.as_posix()
    )


def _column_groups(
    configurations, names: list[str], rows: int
) -> list[tuple[tuple[str, ...] | None, list[int]]]:
    """The suite's expectations in groups that each read at most GROUP_CELLS values (rows x columns), in
    the suite's order: (the columns the group reads, the positions of its expectations in the suite).

    A batch that fits is one group reading every column of the file. Otherwise the expectations naming the
    same columns stay together, packed into groups of at most GROUP_CELLS (a column alone when one column
    is bigger), and those of the table itself form a group of their own (columns None)."""
    named: dict[tuple[str, ...] | None, list[int]] = {}
    for position, configuration in enumerate(configurations):
        kwargs = configuration.kwargs
        columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        columns += list(kwargs.get("column_list") or [])
        named.setdefault(tuple(dict.fromkeys(columns)) or None, []).append(position)
    if rows * len(names) <= GROUP_CELLS:
        return [(tuple(names), list(range(len(configurations))))]
    groups: list[tuple[tuple[str, ...] | None, list[int]]] = []
    if None in named:
        groups.append((None, named.pop(None)))
    columns: tuple[str, ...] = ()
    positions: list[int] = []
    for unit, at in named.items():
        wider = tuple(dict.fromkeys(columns + unit))
        if columns and rows * len(wider) > GROUP_CELLS:
            groups.append((columns, sorted(positions)))
            wider, positions = unit, []
        columns, positions = wider, positions + at
    if positions:
        groups.append((columns, sorted(positions)))
    return groups


def _schema_frame(names: list[str], rows: int) -> pd.DataFrame:
    """A frame with the batch's column names and row count and no values (all columns share one int8
    array of null codes): what the expectations of the table itself need, at one byte a row."""
    empty = pd.Categorical.from_codes(np.full(rows, -1, dtype=np.int8), categories=pd.Index([], dtype=object))
    return pd.DataFrame({name: empty for name in names}, copy=False)


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


def summary_table(suite: str, evaluated: int, failures: list[Failure], warnings: list[Failure]) -> str:
    """The contract's verdict as a few aligned lines for a task log: one row per failed expectation."""
    rows = [("critical", f) for f in failures] + [("warning", f) for f in warnings]
    head = (
        f"contract {suite!r}: {evaluated} expectations, {len(failures)} critical failure(s), "
        f"{len(warnings)} warning(s)"
    )
    if not rows:
        return head + "; every expectation held"
    table = [("severity", "expectation", "column", "observed", "expected")] + [
        (
            severity,
            f.expectation,
            f.column or "(table)",
            _short(f.error or f.observed),
            _short(", ".join(f"{k}={v}" for k, v in f.expected.items() if k != "column_set")),
        )
        for severity, f in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    return "\n".join([head, *lines])


def _short(value: Any, width: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"
