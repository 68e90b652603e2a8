"""The training window: the rows whose event time lies in [end - days, end), read from the checked bytes of
the validated batches that overlap it, each transaction once. Batches of overlapping windows (a backfill,
a rerun, a manual run) repeat transactions; keeping one copy per id, from the newest batch, means no row
is trained on twice and the window's content does not depend on which other runs happened."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.core.clock import as_utc
from retrainer.data.catalogue import read_validated_batch, validated_batches
from retrainer.storage import Storage, sha256_file

_FROM = "__batch_run_key"  # which batch a row was read from, while the window is assembled


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
    inside = frame.loc[(ts >= start) & (ts < end)]
    once = inside.drop_duplicates(subset=cols["id_column"], keep="last")
    return once.sort_values([cols["event_time"], cols["id_column"]], kind="stable").reset_index(drop=True)


def assemble_window(
    storage: Storage, model: str, end: datetime | str, params: dict[str, Any], target: Path
) -> dict:
    """Write the training window's rows to `target` (Parquet); returns what went in: the window, its rows
    and sha256, and for each batch read its sha256 (checked), the rows it held in the window and how many
    of those were used (the others were newer copies' to give). Raises storage.ChecksumMismatch (a verdict)
    if a batch's bytes are not the ones its validation judged."""
    start, end = window_bounds_of(params, end)
    manifests = validated_batches(storage, model, end, params["data"]["training_window_days"])
    if not manifests:
        return {"start": start.isoformat(), "end": end.isoformat(), "rows": 0, "sha256": None, "batches": []}
    frames, batches = [], []
    for manifest in manifests:  # oldest first: the newest copy of a transaction comes last and wins
        frame = pd.read_parquet(io.BytesIO(read_validated_batch(storage, manifest)))
        inside = rows_in_window(frame, start, end, params)
        frames.append(inside.assign(**{_FROM: manifest["run_key"]}))
        batches.append(
            {
                "run_key": manifest["run_key"],
                "manifest_uri": manifest["manifest_uri"],
                "sha256": manifest["sha256"],
                "rows_in_window": len(inside),
            }
        )
    rows = rows_in_window(pd.concat(frames, ignore_index=True), start, end, params)
    used = rows[_FROM].value_counts().to_dict()
    for entry in batches:
        entry["rows_used"] = int(used.get(entry["run_key"], 0))
    target.parent.mkdir(parents=True, exist_ok=True)
    # One chunk per column: pandas' Arrow-backed columns keep the chunks of the batches' row groups, and
    # the Parquet writer's pages follow them; the same rows must give the same bytes however they were read.
    table = pa.Table.from_pandas(rows.drop(columns=[_FROM]), preserve_index=False).combine_chunks()
    pq.write_table(table, target)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "rows": len(rows),
        "sha256": sha256_file(target),
        "batches": batches,
    }
