"""One storage interface over a local directory (the embedded default) or an S3 prefix (boto3).

Every artifact is addressed by a key relative to the storage root; `open_storage(uri)` picks the backend
from the URI scheme, so switching to S3 is configuration, never a code change.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from retrainer.storage.base import (
    ChecksumMismatch,
    KeyExists,
    KeyNotFound,
    PreconditionFailed,
    Storage,
    StorageError,
    sha256_bytes,
    sha256_file,
)
from retrainer.storage.local import LocalStorage
from retrainer.storage.s3 import S3Storage

__all__ = [
    "ChecksumMismatch",
    "KeyExists",
    "KeyNotFound",
    "LocalStorage",
    "PreconditionFailed",
    "S3Storage",
    "Storage",
    "StorageError",
    "open_storage",
    "sha256_bytes",
    "sha256_file",
]


def open_storage(uri: str | os.PathLike[str], timeouts: dict[str, Any] | None = None) -> Storage:
    """`file:///path`, a plain path, or `s3://bucket/prefix`; an S3 prefix's calls bounded by `timeouts`
    (a model's `timeouts.storage`, else s3.DEFAULT_TIMEOUTS)."""
    text = os.fspath(uri)
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, timeouts=timeouts)
    if parsed.scheme == "file":
        return LocalStorage(parsed.path)
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # a plain (or Windows drive) path
        return LocalStorage(text)
    raise StorageError(f"unsupported storage URI scheme {parsed.scheme!r} in {text}; use file:// or s3://")
