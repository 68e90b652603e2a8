"""The training window: the rows whose event time lies in [end - days, end), read from the checked bytes of
the validated batches that overlap it, each transaction once. Batches of overlapping windows (a backfill,
a rerun, a manual run) repeat transactions; keeping one copy per id, from the newest batch, means no row
is trained on twice and the window's content does not depend on which other runs happened."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from retrainer.core import frames
from retrainer.core.clock import as_utc
from retrainer.data.catalogue import download_validated_batch, validated_batches
from retrainer.storage import Storage, sha256_file

# Columns of the window's key table, while it is assembled: which batch a row is in, its position there,
# and its position among the winning rows. The window is written in row groups of _ROW_GROUP rows.
_BATCH, _ROW, _AT = "__batch", "__row", "__at"
_ROW_GROUP = 1 << 20


def window_bounds_of(params: dict[str, Any], end: datetime | str) -> tuple[datetime, datetime]:
    """[end - data.training_window_days, end)."""
    end = as_utc(end)
    return end - timedelta(days=params["data"]["training_window_days"]), end


def rows_in_window(
    frame: pd.DataFrame, start: datetime, end: datetime, params: dict[str, Any]
) -> pd.DataFrame:
    """The rows of `frame` whose event time is in [start, end), one per id (the last one seen wins), in a
    stable order (by event time, then id), so that the same rows always give the same bytes."""
    cols = params["model"]
    ts = frame[cols["event_time"]]
    inside = (ts >= start) & (ts < end)
    if not inside.all():  # each step copies every column, so it is skipped where it would change nothing
        frame = frame.loc[inside]
    if not frame[cols["id_column"]].is_unique:
        frame = frame.drop_duplicates(subset=cols["id_column"], keep="last")
    # `.values` of a time zone aware column is datetime64 in UTC (`to_numpy` would make Timestamp objects)
    if not _in_order(frame[cols["event_time"]].values, frame[cols["id_column"]].to_numpy()):
        frame = frame.sort_values([cols["event_time"], cols["id_column"]], kind="stable")
    at_zero = isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
    return frame if at_zero else frame.reset_index(drop=True)


def _in_order(times: np.ndarray, ids: np.ndarray) -> bool:
    """Whether rows are sorted by time, then id (as the window file and its readers give them)."""
    if len(times) < 2:
        return True
    if not (times[1:] >= times[:-1]).all():
        return False
    ties = np.flatnonzero(times[1:] == times[:-1])
    return bool((ids[ties + 1] > ids[ties]).all())


def assemble_window(
    storage: Storage, model: str, end: datetime | str, params: dict[str, Any], target: Path
) -> dict:
    """Write the training window's rows to `target` (Parquet); returns what went in: the window, its rows
    and sha256, and for each batch read its sha256 (checked), the rows it held in the window and how many
    of those were used (the others were newer copies' to give). Raises storage.ChecksumMismatch (a verdict)
    if a batch's bytes are not the ones its validation judged.

    Done in Arrow, in about the window's Arrow size: the batches are streamed to files and checked; which
    copy of each transaction wins is decided on its id and event time alone; then each batch gives its
    winning rows, and the window is written in (event time, id) order a row group at a time."""
    start, end = window_bounds_of(params, end)
    manifests = validated_batches(storage, model, end, params["data"]["training_window_days"])
    if not manifests:
        return {"start": start.isoformat(), "end": end.isoformat(), "rows": 0, "sha256": None, "batches": []}
    event_time, id_column = params["model"]["event_time"], params["model"]["id_column"]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".window-") as scratch:
        files = [
            download_validated_batch(storage, manifest, Path(scratch) / f"{number}.parquet")
            for number, manifest in enumerate(manifests)  # oldest first: the newest copy of a row wins
        ]
        keys = pa.concat_tables(
            [
                _keys_in_window(path, number, event_time, id_column, start, end)
                for number, path in enumerate(files)
            ],
            promote_options="permissive",
        )
        winners = _newest_copies(keys, id_column)
        in_window = pc.value_counts(keys[_BATCH]).to_pylist()
        used = pc.value_counts(winners[_BATCH]).to_pylist()
        del keys
        # Each batch's winning rows, then the window's order (event time, then id) as positions in them.
        winners = winners.sort_by([(_BATCH, "ascending"), (_ROW, "ascending")])
        winners = winners.append_column(_AT, pa.array(np.arange(winners.num_rows, dtype=np.int64)))
        order = winners.sort_by([(event_time, "ascending"), (id_column, "ascending")])[_AT]
        positions = winners[_ROW].to_numpy()
        bounds = np.searchsorted(winners[_BATCH].to_numpy(), np.arange(len(files) + 1))  # each batch's slice
        del winners  # its ids and times: the rows below carry them
        parts = [
            table
            for number, path in enumerate(files)
            for table in _winning_rows(path, positions[bounds[number] : bounds[number + 1]])
        ]
    rows = pa.concat_tables(parts, promote_options="permissive")
    del parts
    # Fixed row groups, each taken contiguously: the same rows give the same bytes however they were read.
    with pq.ParquetWriter(target, rows.schema) as writer:
        for offset in range(0, len(order), _ROW_GROUP):
            writer.write_table(rows.take(order[offset : offset + _ROW_GROUP]), row_group_size=_ROW_GROUP)
    del rows
    frames.release_arrow_memory()  # the DVC stages that follow run in child processes: leave them the memory
    counts_in = {c["values"]: c["counts"] for c in in_window}
    counts_used = {c["values"]: c["counts"] for c in used}
    batches = [
        {
            "run_key": manifest["run_key"],
            "manifest_uri": manifest["manifest_uri"],
            "sha256": manifest["sha256"],
            "rows_in_window": int(counts_in.get(number, 0)),
            "rows_used": int(counts_used.get(number, 0)),
        }
        for number, manifest in enumerate(manifests)
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "rows": len(order),
        "sha256": sha256_file(target),
        "batches": batches,
    }


def _keys_in_window(
    path: Path, number: int, event_time: str, id_column: str, start: datetime, end: datetime
) -> pa.Table:
    """The id, event time and position of the rows of one batch file whose event time is in [start, end)."""
    table = pq.read_table(path, columns=[id_column, event_time])
    ts = table[event_time]
    if ts.type.tz is None:  # naive times are UTC (extract's convention)
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    inside = pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type)))
    rows = pc.indices_nonzero(inside.combine_chunks() if isinstance(inside, pa.ChunkedArray) else inside)
    keys = table.take(rows)
    batch = pa.array(np.full(len(rows), number, dtype=np.int32))
    return keys.append_column(_BATCH, batch).append_column(_ROW, rows.cast(pa.int64()))


def _newest_copies(keys: pa.Table, id_column: str) -> pa.Table:
    """One row per id: the last copy, by batch (oldest first) then position in it."""
    ranked = keys.sort_by([(id_column, "ascending"), (_BATCH, "ascending"), (_ROW, "ascending")])
    ids = ranked[id_column].combine_chunks()
    if len(ids) == 0:
        return ranked
    last = pc.not_equal(ids[:-1], ids[1:])  # the next row is another id: this row is its id's last copy
    return ranked.filter(pa.concat_arrays([last, pa.array([True])]))


def _winning_rows(path: Path, rows: np.ndarray):
    """The rows at positions `rows` (ascending) of a batch file, a row group at a time."""
    batch = pq.ParquetFile(path)
    first = 0
    for group in range(batch.num_row_groups):
        count = batch.metadata.row_group(group).num_rows
        low, high = np.searchsorted(rows, [first, first + count])
        if high > low:
            table = batch.read_row_group(group).replace_schema_metadata(None)
            yield table.take(pa.array(rows[low:high] - first))
        first += count
