"""Parquet files read into pandas without holding the data twice, and Arrow's freed memory given back."""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa

# Arrow converts column by column and frees each column once converted (`self_destruct`), into one block
# per column (`split_blocks`, which pandas keeps without consolidating): the file's data is never in
# memory as Arrow and pandas at once. The frame is the same.
_LEAN = {"split_blocks": True, "self_destruct": True}


def read_parquet(path: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """The Parquet file at `path` (or only `columns` of it) as a data frame."""
    frame = pd.read_parquet(path, columns=columns, to_pandas_kwargs=_LEAN)
    release_arrow_memory()  # the file's Arrow copy, freed column by column as it was converted
    return frame


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a data frame, the table's buffers released as it is converted (do not reuse it)."""
    return table.to_pandas(**_LEAN)


def release_arrow_memory() -> None:
    """Give the memory Arrow has freed back to the operating system. Arrow's allocator (mimalloc) keeps
    freed pages for reuse: after a step that held a window in Arrow, the process would otherwise keep
    its peak while the next step (a DVC stage in a child process) needs the machine's memory."""
    pa.default_memory_pool().release_unused()
