"""The batch file, written and described a row group at a time: a content hash that adds up row by row (so
it is the same however the rows are ordered or grouped), and a Parquet writer that hashes the file's
bytes as it writes them. Nothing here holds more than one row group."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

_MASK = np.uint64(2**64 - 1)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per row, from its values in column order (pandas' stable hashing)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _mix(hashes: np.ndarray) -> np.ndarray:
    """splitmix64 of each hash: a second, non-linear value per row for the second sum."""
    with np.errstate(over="ignore"):
        z = hashes + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class ContentHash:
    """A hash of the rows' values and the column names, independent of row order, row groups and file
    encoding: the same rows re-sent in another file (or re-compressed, or split otherwise) hash alike.

    It is a multiset hash: the column names, the row count and two sums (mod 2**64) of per-row hashes, so
    it is updated a row group at a time and never needs all rows at once.
    """

    def __init__(self, columns: Iterable[str]) -> None:
        self.columns = [str(c) for c in columns]
        self.rows = 0
        self.sums = [0, 0]

    def update(self, frame: pd.DataFrame) -> ContentHash:
        """Add the rows of `frame` (its columns are taken in this hash's order)."""
        return self.update_hashes(row_hashes(frame[self.columns]))

    def update_hashes(self, hashes: np.ndarray) -> ContentHash:
        """Add rows by their `row_hashes`."""
        self.rows += len(hashes)
        for i, values in enumerate((hashes, _mix(hashes))):
            self.sums[i] = (self.sums[i] + int(values.sum(dtype=np.uint64))) % 2**64
        return self

    def hexdigest(self) -> str:
        digest = hashlib.sha256(json.dumps(self.columns).encode())
        digest.update(json.dumps([self.rows, *self.sums]).encode())
        return digest.hexdigest()


def content_sha256(frame: pd.DataFrame) -> str:
    """The ContentHash of a frame's rows."""
    return ContentHash(frame.columns).update(frame).hexdigest()


class _HashingSink(io.RawIOBase):
    """A binary file that passes what is written to `target` and hashes it on the way."""

    def __init__(self, target) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.sha256.update(data)
        return self.target.write(data)


class BatchWriter:
    """A Parquet file written one row group at a time (each table given to `write`, conformed to `schema`),
    its bytes and content hashed as they are written. `close()` returns {"rows", "sha256",
    "content_sha256"}."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.content = ContentHash(schema.names)
        self._file = open(path, "wb")  # noqa: SIM115  (closed by close())
        self._sink = _HashingSink(self._file)
        self._writer = pq.ParquetWriter(self._sink, schema)

    def write(self, table: pa.Table, hashes: np.ndarray | None = None) -> None:
        """Write `table` as one row group. The `row_hashes` of the frame it was made from may be given:
        they are used if the table needs no conforming, instead of converting it back to pandas."""
        if not table.schema.equals(self.schema, check_metadata=False):
            table, hashes = conform(table, self.schema), None
        if hashes is None:
            hashes = row_hashes(table.to_pandas()[self.content.columns])
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.content.update_hashes(hashes)

    def close(self) -> dict:
        self._writer.close()
        self._file.close()
        return {
            "rows": self.content.rows,
            "sha256": self._sink.sha256.hexdigest(),
            "content_sha256": self.content.hexdigest(),
        }

    def abort(self) -> None:
        self._file.close()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns in its order: missing columns as nulls, types cast (widened)."""
    columns = [
        table.column(field.name).cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def describe_file(source) -> dict:
    """Rows, columns and content hash of a Parquet file (a path or a binary file), one row group at a time."""
    parquet = pq.ParquetFile(source)
    content = ContentHash(parquet.schema_arrow.names)
    for group in range(parquet.num_row_groups):
        content.update(parquet.read_row_group(group).to_pandas())
    return {"rows": content.rows, "columns": content.columns, "content_sha256": content.hexdigest()}
