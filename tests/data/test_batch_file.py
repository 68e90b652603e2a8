"""The batch file is written a row group at a time, hashed as it is written, and its content hash does not
depend on how the rows are ordered or grouped."""

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.data.batch_file import BatchWriter, ContentHash, content_sha256, describe_file
from retrainer.storage import sha256_file


def _frame(n: int, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(offset, offset + n)],
            "amount": [float(i) for i in range(offset, offset + n)],
            "ts": pd.date_range("2026-11-09", periods=n, freq="min", tz="UTC") + pd.Timedelta(minutes=offset),
        }
    )


def test_the_content_hash_adds_up_whatever_the_row_groups():
    whole = _frame(100)
    parts = ContentHash(whole.columns).update(whole.iloc[60:]).update(whole.iloc[:60])
    assert parts.hexdigest() == content_sha256(whole) == content_sha256(whole.sample(frac=1, random_state=1))
    assert content_sha256(whole) != content_sha256(whole.iloc[:99])
    assert content_sha256(whole) != content_sha256(pd.concat([whole, whole.iloc[:1]]))  # a row twice


def test_the_writer_hashes_the_bytes_and_content_it_writes(tmp_path):
    first, second = _frame(50), _frame(30, offset=50)
    schema = pa.Schema.from_pandas(first, preserve_index=False)
    writer = BatchWriter(tmp_path / "batch.parquet", schema)
    for frame in (first, second):
        writer.write(pa.Table.from_pandas(frame, preserve_index=False))
    written = writer.close()
    assert written["sha256"] == sha256_file(tmp_path / "batch.parquet")
    assert pq.ParquetFile(tmp_path / "batch.parquet").num_row_groups == 2
    data = (tmp_path / "batch.parquet").read_bytes()
    assert written["content_sha256"] == describe_file(io.BytesIO(data))["content_sha256"]
    assert written["content_sha256"] == content_sha256(pd.concat([first, second], ignore_index=True))


def test_a_row_group_missing_a_column_is_written_with_nulls_there(tmp_path):
    full, short = _frame(5), _frame(3, offset=5).drop(columns=["amount"])
    schema = pa.Schema.from_pandas(full, preserve_index=False)
    writer = BatchWriter(tmp_path / "batch.parquet", schema)
    writer.write(pa.Table.from_pandas(full, preserve_index=False))
    writer.write(pa.Table.from_pandas(short, preserve_index=False))
    written = writer.close()
    back = pd.read_parquet(tmp_path / "batch.parquet")
    assert list(back.columns) == ["id", "amount", "ts"] and back["amount"].isna().sum() == 3
    assert written["content_sha256"] == content_sha256(back)
