"""The source's layout: one Parquet file per day (`date=YYYY-MM-DD/transactions.parquet`), and reading it.

Extract reads partitions through here; the synthetic generator writes them through `partition_key`, so
both agree on the layout without the domain knowing about the generator.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.storage import KeyNotFound, Storage

PARTITION_FILE = "transactions.parquet"

# What the Parquet reader raises for bytes that are not a readable Parquet file.
NOT_PARQUET = (pa.ArrowException, OSError)


def partition_key(day: date) -> str:
    """The key of one day's partition under the source root."""
    return f"date={day.isoformat()}/{PARTITION_FILE}"


def days_overlapping(start: datetime, end: datetime) -> list[date]:
    """The calendar days (UTC) that the half-open window [start, end) touches."""
    last_day = (end - timedelta(microseconds=1)).date()
    return list(pd.date_range(start.date(), last_day, freq="D").date)


def read_partition(raw: bytes) -> pd.DataFrame:
    """A partition's rows from its bytes; raises one of NOT_PARQUET when they are not readable Parquet."""
    return pq.read_table(io.BytesIO(raw)).to_pandas()


def unreadable_partitions(source: Storage, keys: list[str]) -> dict[str, str]:
    """The keys among `keys` whose source file is missing or not readable Parquet, with the reason."""
    problems = {}
    for key in keys:
        try:
            read_partition(source.get_bytes(key))
        except (KeyNotFound, *NOT_PARQUET) as error:
            problems[key] = str(error)
    return problems
