"""Extract: the transactions of one logical-date window, as one batch Parquet plus a manifest.

A batch is keyed by model and logical date (`batches/<model>/<run key>/`), so a rerun of the same date
overwrites the same keys; the manifest is written after the batch and carries its sha256.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.config import as_utc, run_key
from retrainer.storage import KeyNotFound, Storage, sha256_bytes
from retrainer.synthetic import partition_key

BATCH_FILE = "batch.parquet"
MANIFEST_FILE = "manifest.json"


class ExtractError(RuntimeError):
    """The source could not provide the window's transactions."""


class UnreadableSourceFile(ExtractError):
    """A source partition is not a readable Parquet file (corrupt, truncated, or another format)."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"source file {uri} is not readable Parquet: {reason}")
        self.uri = uri
        self.reason = reason


def batch_prefix(model: str, key: str) -> str:
    """Where the batch of one run lives; `key` is the run key of its logical date (config.run_key)."""
    return f"batches/{model}/{key}"


def window_bounds(as_of: datetime | str, days: int) -> tuple[datetime, datetime]:
    """The half-open window [as_of - days, as_of) that a run with this logical date reads."""
    if days <= 0:
        raise ValueError(f"window must be at least one day, got {days}")
    end = as_utc(as_of)
    return end - timedelta(days=days), end


def read_window(
    source: Storage, start: datetime, end: datetime, event_time: str = "event_ts"
) -> pd.DataFrame:
    """The rows of every daily partition overlapping [start, end) whose event time falls in the window."""
    frames = []
    last_day = (end - timedelta(microseconds=1)).date()
    for day in pd.date_range(start.date(), last_day, freq="D").date:
        key = partition_key(day)
        try:
            raw = source.get_bytes(key)
        except KeyNotFound:
            continue  # a day without transactions; validation judges the batch volume
        try:
            table = pq.read_table(io.BytesIO(raw))
        except (pa.ArrowException, OSError) as error:
            raise UnreadableSourceFile(source.uri(key), str(error)) from error
        frames.append(table.to_pandas())
    if not frames:
        raise ExtractError(f"no source partitions under {source.root_uri} for the window {start} .. {end}")
    frame = pd.concat(frames, ignore_index=True)
    if event_time in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[event_time]):
        in_window = (frame[event_time] >= start) & (frame[event_time] < end)
        frame = frame.loc[in_window].reset_index(drop=True)
    # A missing or mistyped event time is left for validation to name; extract does not judge the contract.
    return frame


def extract_batch(
    source: Storage, storage: Storage, model: str, as_of: datetime | str, window_days: int
) -> dict:
    """Write the window's batch and manifest under the storage root; returns the manifest as a dict."""
    start, end = window_bounds(as_of, window_days)
    frame = read_window(source, start, end)
    data = frame.to_parquet(index=False)
    prefix = batch_prefix(model, run_key(as_of))
    batch_uri = storage.put_bytes(f"{prefix}/{BATCH_FILE}", data)
    manifest = {
        "model": model,
        "run_key": run_key(as_of),
        "batch_uri": batch_uri,
        "rows": len(frame),
        "columns": list(frame.columns),
        "sha256": sha256_bytes(data),
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "source_root": source.root_uri,
    }
    manifest["manifest_uri"] = storage.put_text(f"{prefix}/{MANIFEST_FILE}", json.dumps(manifest, indent=2))
    return manifest
