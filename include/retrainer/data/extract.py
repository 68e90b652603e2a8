"""Extract: the transactions of one run's window (its data interval), as one batch Parquet plus a manifest.

A batch is keyed by model and the end of its window (`batches/<model>/<run key>/`), so a rerun of the same
period overwrites the same keys; a re-extract first removes the old `validation.json`, so no record of a
validation outlives the bytes it judged. The manifest is written after the batch and carries its sha256,
and for each source partition its row count, file and content hashes, the time zones of its timestamps and a
sketch of its rows without ids and timestamps (`resent`), which validation uses to catch re-sent files, days
re-sent under new ids and mixed time zones. Extract judges no contract, with two
exceptions: a source file that cannot be read at all is copied to quarantine and the run is rejected, and a
day of the window missing from the source is named (MissingSourcePartition, or a warning by configuration).
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.core import layout
from retrainer.core.clock import as_utc, run_key
from retrainer.core.errors import BeforeModelStart, Rejected
from retrainer.data import quarantine
from retrainer.data.batch_file import BatchWriter, ContentHash, content_sha256, describe_file, row_hashes
from retrainer.data.contracts import Failure
from retrainer.data.resent import day_sketch
from retrainer.sources.partitions import NOT_PARQUET, days_overlapping, partition_key
from retrainer.storage import KeyNotFound, Storage, sha256_bytes, sha256_file

__all__ = ["content_sha256", "describe_batch", "extract_batch", "read_window", "write_window"]

UTC_NAME = "UTC"

log = logging.getLogger(__name__)


class ExtractError(RuntimeError):
    """The source could not provide the window's transactions."""


class UnreadableSourceFile(ExtractError, Rejected):
    """Source partitions that are not readable Parquet (corrupt, truncated, empty, another format).

    `problems` maps each file's URI to what the Parquet reader said about it.
    """

    def __init__(self, problems: dict[str, str], quarantine_uri: str | None = None) -> None:
        self.problems = problems
        self.quarantine_uri = quarantine_uri
        where = f"; copied to quarantine at {quarantine_uri}" if quarantine_uri else ""
        lines = "\n".join(f"  - {uri}: {' '.join(reason.split())}" for uri, reason in problems.items())
        super().__init__(f"{len(problems)} source file(s) are not readable Parquet{where}:\n{lines}")


class IncompatibleSourceFiles(ExtractError, Rejected):
    """Source partitions whose columns have types that cannot be put in one batch (e.g. text vs numbers)."""

    def __init__(self, types: dict[str, dict[str, str]], quarantine_uri: str | None = None) -> None:
        self.types = types
        self.quarantine_uri = quarantine_uri
        where = f"; copied to quarantine at {quarantine_uri}" if quarantine_uri else ""
        lines = "\n".join(f"  - column {column!r}: {by_file}" for column, by_file in types.items())
        super().__init__(f"source files disagree on column types{where}:\n{lines}")


class MissingSourcePartition(ExtractError, Rejected):
    """Days of the window with no partition at the source (`data.missing_days: fail`, or every day of it:
    no source partitions at all). A verdict on the source, not retried: waiting minutes changes nothing."""

    def __init__(self, days: list[date], source_root: str, start: datetime, end: datetime) -> None:
        self.days = days
        names = ", ".join(d.isoformat() for d in days)
        every = len(days) == len(days_overlapping(start, end))
        fix = (
            "no source partitions at all: deliver them, or run a window the source holds"
            if every
            else "deliver them and rerun, or set data.missing_days: warn in the model's params"
        )
        super().__init__(
            f"{len(days)} day(s) of the window {start.isoformat()} .. {end.isoformat()} have no partition "
            f"under {source_root}: {names}; {fix}"
        )


def _to_utc(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """Timestamp columns converted to UTC, and the time zone each had (None: no zone, taken as UTC)."""
    zones = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if not pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        tz = getattr(dtype, "tz", None)
        zones[column] = str(tz) if tz is not None else None
        if tz is None:
            frame[column] = frame[column].dt.tz_localize(UTC_NAME)
        elif str(tz) != UTC_NAME:
            frame[column] = frame[column].dt.tz_convert(UTC_NAME)
    return frame, zones


@dataclass
class _Partition:
    """A day's source file, copied to local disk, and what its rows become in the batch."""

    day: date
    key: str
    path: Path
    schema: pa.Schema  # of its rows as the batch receives them (timestamps in UTC)
    dtypes: dict[str, str]  # their pandas dtypes, to name columns whose types cannot be joined


def _stage_window(
    source: Storage, start: datetime, end: datetime, into: Path, missing_days: str
) -> tuple[list[_Partition], list[date]]:
    """Copy every daily partition overlapping [start, end) to `into` (streamed) and read its schema (the
    footer only); returns them and the days with no partition. Raises UnreadableSourceFile naming every
    unreadable file, and MissingSourcePartition naming every missing day unless `missing_days` is "warn"."""
    if missing_days not in ("fail", "warn"):
        raise ValueError(f"data.missing_days must be 'fail' or 'warn', not {missing_days!r}")
    staged, problems, missing = [], {}, []
    for day in days_overlapping(start, end):
        key = partition_key(day)
        try:
            path = source.download(key, into / f"{day.isoformat()}.parquet")
        except KeyNotFound:
            missing.append(day)
            continue
        try:
            empty, _ = _to_utc(pq.read_schema(path).empty_table().to_pandas())
        except NOT_PARQUET as error:
            problems[key] = str(error)
            continue
        schema = pa.Schema.from_pandas(empty, preserve_index=False).remove_metadata()
        staged.append(_Partition(day, key, path, schema, {c: str(t) for c, t in empty.dtypes.items()}))
    if problems:
        raise UnreadableSourceFile({source.uri(k): v for k, v in problems.items()})
    if missing and (missing_days == "fail" or not staged):  # an empty window: nothing to warn about
        raise MissingSourcePartition(missing, source.root_uri, start, end)
    for day in missing:
        log.warning("no source partition for %s under %s (data.missing_days: warn)", day, source.root_uri)
    return staged, missing


def _batch_schema(staged: list[_Partition]) -> pa.Schema:
    """One schema for every partition's rows (missing columns become nulls, integers widen to floats);
    IncompatibleSourceFiles names columns whose types cannot be joined (e.g. text and numbers)."""
    try:
        return pa.unify_schemas([p.schema for p in staged], promote_options="permissive")
    except (pa.ArrowException, TypeError, ValueError):
        types = {}
        for column in dict.fromkeys(c for p in staged for c in p.dtypes):
            kinds = {p.key: p.dtypes[column] for p in staged if column in p.dtypes}
            if len({_type_family(k) for k in kinds.values()}) > 1:
                types[column] = kinds
        raise IncompatibleSourceFiles(types) from None


def _window_rows(frame: pd.DataFrame, day: date, start: datetime, end: datetime, event_time: str):
    """The partition's rows in the window. Rows of a partially covered day that fall outside it are left
    out; rows whose event date is not their partition's day are kept whatever their time, so that
    validation names them (a stale or future timestamp must not vanish silently)."""
    if event_time in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[event_time]):
        ts = frame[event_time]
        midnight = pd.Timestamp(day, tz=UTC_NAME)
        on_its_day = (ts >= midnight) & (ts < midnight + timedelta(days=1))
        keep = ~on_its_day | ((ts >= start) & (ts < end))
        frame = frame.loc[keep].reset_index(drop=True)
    # A missing or mistyped event time is left for validation to name; extract does not judge it.
    return frame


def write_window(
    source: Storage,
    start: datetime,
    end: datetime,
    target: Path,
    event_time: str = "event_ts",
    missing_days: str = "fail",
    id_columns: tuple[str, ...] | list[str] = (),
) -> tuple[dict, list[dict], list[date]]:
    """Write the rows of every daily partition overlapping [start, end) to the Parquet file `target`, one
    row group per partition, holding one partition at a time; returns the file's rows, sha256 and content
    hash, one description per partition (with its rows' sketch without `id_columns` and timestamps,
    `resent.day_sketch`, which names a day re-sent under new ids), and the days that have no partition.

    Raises UnreadableSourceFile, MissingSourcePartition (`_stage_window`) and IncompatibleSourceFiles.
    """
    with tempfile.TemporaryDirectory(prefix="retrainer-extract-") as tmp:
        staged, missing = _stage_window(source, start, end, Path(tmp), missing_days)
        writer = BatchWriter(target, _batch_schema(staged))
        partitions, problems = [], {}
        try:
            for part in staged:
                try:
                    frame = pq.read_table(part.path).to_pandas()
                except NOT_PARQUET as error:
                    problems[part.key] = str(error)
                    continue
                frame, zones = _to_utc(frame)
                frame = _window_rows(frame, part.day, start, end, event_time)
                hashes = row_hashes(frame)
                writer.write(pa.Table.from_pandas(frame, preserve_index=False), hashes)
                partitions.append(
                    {
                        "key": part.key,
                        "rows": len(frame),
                        "file_sha256": sha256_file(part.path),
                        "content_sha256": ContentHash(frame.columns).update_hashes(hashes).hexdigest(),
                        "time_zones": zones,
                        "day": part.day.isoformat(),
                        "resend": day_sketch(frame, id_columns, event_time),
                    }
                )
                del frame, hashes
        except BaseException:
            writer.abort()
            raise
        written = writer.close()
    if problems:
        raise UnreadableSourceFile({source.uri(k): v for k, v in problems.items()})
    return written, partitions, missing


def read_window(
    source: Storage, start: datetime, end: datetime, event_time: str = "event_ts", missing_days: str = "fail"
) -> tuple[pd.DataFrame, list[dict], list[date]]:
    """The rows `write_window` would write for [start, end), as one frame (for a profile of a clean week,
    `retrainer suite scaffold`; extract itself never holds the window), one description per partition and
    the days that have no partition."""
    with tempfile.TemporaryDirectory(prefix="retrainer-window-") as tmp:
        path = Path(tmp) / "window.parquet"
        _, partitions, missing = write_window(source, start, end, path, event_time, missing_days)
        frame = pq.read_table(path).to_pandas()
    return frame, partitions, missing


def _type_family(dtype: str) -> str:
    for family in ("int", "float", "bool", "datetime"):
        if family in dtype:
            return "number" if family in ("int", "float") else family
    return dtype


def describe_batch(manifest: dict, data: bytes) -> dict:
    """`manifest` with the rows, columns and sha256 of the batch bytes `data` (after a fix by hand)."""
    return manifest | describe_file(io.BytesIO(data)) | {"sha256": sha256_bytes(data)}


def _source_failures(error: ExtractError, source: Storage) -> tuple[list[Failure], list[str]]:
    if isinstance(error, UnreadableSourceFile):
        keys = [source.key_of(uri) for uri in error.problems]
        failures = [
            Failure(
                "expect_source_file_to_be_readable_parquet",
                "critical",
                None,
                reason,
                {"file": source.uri(key), "format": "Apache Parquet"},
            )
            for key, reason in zip(keys, error.problems.values(), strict=True)
        ]
        return failures, keys
    assert isinstance(error, IncompatibleSourceFiles)
    failures, keys = [], set()
    for column, by_file in error.types.items():
        families = [_type_family(t) for t in by_file.values()]
        majority = max(set(families), key=families.count)
        odd = {k: t for k, t in by_file.items() if _type_family(t) != majority}
        keys.update(odd)
        failures.append(
            Failure(
                "expect_source_files_to_agree_on_column_type", "critical", column, odd, {"type": majority}
            )
        )
    return failures, sorted(keys)


def _released_batch(storage: Storage, prefix: str) -> dict | None:
    """The manifest of a batch an engineer released from quarantine for this date, if it is intact."""
    try:
        manifest = json.loads(storage.get_text(f"{prefix}/{layout.MANIFEST_FILE}"))
        data = storage.get_bytes(f"{prefix}/{layout.BATCH_FILE}")
    except KeyNotFound:
        return None
    if manifest.get("released") and sha256_bytes(data) == manifest["sha256"]:
        return manifest | {"manifest_uri": storage.uri(f"{prefix}/{layout.MANIFEST_FILE}")}
    return None


def check_start(start: datetime, end: datetime, first_day: date | str | None) -> None:
    """Refuse (BeforeModelStart) a window that begins before the model's first day of data, naming the
    first run key whose window of the same length fits."""
    if first_day is None:
        return
    first = as_utc(str(first_day))
    if start < first:
        fits = first + (end - start)
        raise BeforeModelStart(
            f"the run's window {start.isoformat()} .. {end.isoformat()} begins before the model's first day "
            f"of data, {first.date()} (data.start_date in the model's params): nothing would be read. Use a "
            f"logical date on or after {fits.date()} (run key {run_key(fits)})"
        )


def extract_batch(
    source: Storage,
    storage: Storage,
    model: str,
    start: datetime | str,
    end: datetime | str,
    *,
    missing_days: str = "fail",
    first_day: date | str | None = None,
    event_time: str = "event_ts",
    id_columns: tuple[str, ...] | list[str] = (),
) -> dict:
    """Write the batch of the window [start, end) and its manifest under the storage root, keyed by the
    window's end (`clock.run_key`); returns the manifest as a dict. `id_columns` (the model's
    `model.id_column`) are left out of each day's content sketch, so a day re-sent under new ids is named.

    A batch released from quarantine for this run is kept as it is rather than extracted again. Source
    files that cannot be read are copied to `quarantine/<model>/<run>/source/` with a `reason.json`, and
    UnreadableSourceFile (or IncompatibleSourceFiles) is raised; the source is left untouched. A window
    that begins before `first_day` is refused (BeforeModelStart); a missing day is MissingSourcePartition
    unless `missing_days` is "warn", and then it is listed in the manifest. The window is cut on the
    model's `event_time` column.
    """
    start, end = as_utc(start), as_utc(end)
    check_start(start, end, first_day)
    key = run_key(end)
    prefix = layout.batch_prefix(model, key)
    if released := _released_batch(storage, prefix):
        log.info("keeping the batch released from quarantine for %s: %s", key, released["released"])
        return released
    with tempfile.TemporaryDirectory(prefix="retrainer-batch-") as tmp:
        local = Path(tmp) / layout.BATCH_FILE
        try:
            written, partitions, missing = write_window(
                source, start, end, local, event_time, missing_days, id_columns
            )
        except (UnreadableSourceFile, IncompatibleSourceFiles) as error:
            failures, keys = _source_failures(error, source)
            reason = {
                "model": model,
                "run_key": key,
                "stage": "extract",
                "success": False,
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
                "source_root": source.root_uri,
                "source_partitions": keys,
                "failures": [asdict(f) for f in failures],
                "warnings": [],
            }
            uri = quarantine.quarantine_source_files(storage, source, model, key, keys, reason)
            details = error.problems if isinstance(error, UnreadableSourceFile) else error.types
            raise type(error)(details, uri) from None
        # The old validation judged the old bytes: it goes before they are replaced, so that a crash in
        # between leaves a batch without a verdict (validated again), never new bytes under an old verdict.
        if storage.exists(stale := layout.batch_file_key(model, key, layout.VALIDATION_FILE)):
            storage.delete(stale)
        batch_uri = storage.put_file(layout.batch_file_key(model, key), local)  # streamed, then renamed
        columns = pq.read_schema(local).names
    manifest = {
        "model": model,
        "run_key": key,
        "batch_uri": batch_uri,
        "rows": written["rows"],
        "columns": columns,
        "sha256": written["sha256"],
        "content_sha256": written["content_sha256"],
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "source_root": source.root_uri,
        "partitions": partitions,
        "missing_days": [d.isoformat() for d in missing],
    }
    manifest["manifest_uri"] = storage.put_text(
        layout.batch_file_key(model, key, layout.MANIFEST_FILE), json.dumps(manifest, indent=2)
    )
    return manifest
