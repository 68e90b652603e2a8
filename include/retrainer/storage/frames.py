"""Stored Parquet files read as data frames, only from checked copies."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from retrainer.core.frames import read_parquet
from retrainer.storage.base import Storage


def read_verified(
    storage: Storage, key: str, sha256: str, what: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """The stored Parquet file at `key` (or only `columns` of it) as a data frame, read from a copy streamed
    to a scratch file and checked (`Storage.download_verified`: ChecksumMismatch unless it hashes to
    `sha256`), removed once read."""
    with tempfile.TemporaryDirectory(prefix="verified-") as scratch:
        return read_parquet(
            storage.download_verified(key, Path(scratch) / "file.parquet", sha256, what), columns
        )
