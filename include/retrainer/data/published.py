"""A published training run, read by every stage after training: its manifest, the bytes of a published
file and a published Parquet file, each checked against the sha256 the manifest recorded.

Training writes a run (`training.train.train_run`, under `layout.run_file_key`); evaluation, registration,
scoring and the drift monitor read it here, so none of them imports `training/`.
"""

from __future__ import annotations

import json

import pandas as pd

from retrainer.storage import Storage
from retrainer.storage.frames import read_verified


def read_run(storage: Storage, run_manifest_uri: str) -> dict:
    """The manifest of a published training run."""
    return json.loads(storage.get_text(storage.key_of(run_manifest_uri)))


def read_run_file(storage: Storage, run: dict, name: str) -> bytes:
    """The bytes of a run's published file (`artifacts.PUBLISHED`), refused with ChecksumMismatch if they
    differ from the sha256 the run's manifest recorded."""
    entry = run["files"][name]
    return storage.get_verified(storage.key_of(entry["uri"]), entry["sha256"], f"{entry['uri']} (published)")


def read_run_frame(storage: Storage, run: dict, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A run's published Parquet file (or only `columns` of it) as a data frame: streamed to a scratch
    file, refused with ChecksumMismatch unless it hashes to the sha256 the run's manifest recorded, and
    read from that checked copy without holding the data twice."""
    entry = run["files"][name]
    return read_verified(
        storage, storage.key_of(entry["uri"]), entry["sha256"], f"{entry['uri']} (published)", columns
    )
