"""The storage interface every stage reads and writes through, its errors, and sha256 helpers."""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlparse

from retrainer.core import layout
from retrainer.core.errors import Rejected


class StorageError(RuntimeError):
    """Base class of storage errors."""


class KeyNotFound(StorageError, KeyError):
    """The key does not exist under the storage root."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"no object at {uri}")
        self.uri = uri

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class KeyExists(StorageError):
    """A create-only write found the key already there."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"object already exists at {uri}")
        self.uri = uri


class PreconditionFailed(StorageError):
    """A compare-and-swap found the object changed since it was read, or present where it expected none."""

    def __init__(self, uri: str, expected: str | None) -> None:
        state = "absent" if expected is None else f"at version {expected}"
        super().__init__(f"{uri} is no longer {state}: another writer moved it first")
        self.uri = uri
        self.expected = expected


class ChecksumMismatch(StorageError, Rejected):
    """Stored bytes differ from the sha256 recorded for them: they are refused, never used."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(
            f"checksum mismatch for {what}: recorded sha256 {expected}, the stored bytes hash to {actual}; "
            "refusing to use them"
        )
        self.expected = expected
        self.actual = actual


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class Storage(ABC):
    """Keys are '/'-separated paths relative to the root; `uri(key)` names them for people and lineage."""

    root_uri: str

    def uri(self, key: str) -> str:
        return f"{self.root_uri.rstrip('/')}/{key.lstrip('/')}"

    def key_of(self, uri: str) -> str:
        """The key a record names: a key as it is, a URI under this root (the inverse of `uri`), or a URI
        under another root that this one was copied from (a root moved elsewhere still reads back).

        For a foreign URI the key starts at one of the storage areas (`layout.AREAS`); of several
        candidates, the longest that exists here wins.
        """
        if "://" not in uri:
            return uri.lstrip("/")
        prefix = self.root_uri.rstrip("/") + "/"
        if uri.startswith(prefix):
            return uri[len(prefix) :]
        parts = urlparse(uri).path.strip("/").split("/")
        candidates = ["/".join(parts[i:]) for i, part in enumerate(parts[:-1]) if part in layout.AREAS]
        for candidate in candidates:
            if self.exists(candidate):
                return candidate
        if candidates:
            return candidates[0]
        raise StorageError(f"{uri} is neither under the storage root {self.root_uri} nor a storage key")

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> str:
        """Write atomically: readers see the old object or the new one, never a part.

        With `if_absent`, raise KeyExists instead of overwriting (used to allocate registry versions).
        Returns the object's URI.
        """

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every key in the folder `prefix` (recursively), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """The bytes at `key` and a token naming this version of the object, for `put_if_match`."""

    @abstractmethod
    def put_if_match(self, key: str, data: bytes, expected: str | None) -> str:
        """Compare-and-swap: write `data` only if the object is still the version `expected` names
        (a token from `get_versioned`), or still absent when `expected` is None. Raises PreconditionFailed
        otherwise; of two writers holding the same token, exactly one wins. Returns the new token."""

    def put_file(self, key: str, path: str | os.PathLike[str]) -> str:
        return self.put_bytes(key, Path(path).read_bytes())

    def download(self, key: str, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.get_bytes(key))
        return target

    def get_verified(self, key: str, sha256: str, what: str | None = None) -> bytes:
        """The bytes at `key`, refused with ChecksumMismatch unless they hash to `sha256`."""
        data = self.get_bytes(key)
        if (actual := sha256_bytes(data)) != sha256:
            raise ChecksumMismatch(what or self.uri(key), sha256, actual)
        return data

    def download_verified(
        self, key: str, path: str | os.PathLike[str], sha256: str, what: str | None = None
    ) -> Path:
        """`key` streamed to `path` (never whole in memory), refused with ChecksumMismatch, the file
        removed, unless its bytes hash to `sha256`. The copy checked is the copy the caller then reads."""
        target = self.download(key, path)
        if (actual := sha256_file(target)) != sha256:
            target.unlink()
            raise ChecksumMismatch(what or self.uri(key), sha256, actual)
        return target

    def put_text(self, key: str, text: str, *, if_absent: bool = False) -> str:
        return self.put_bytes(key, text.encode("utf-8"), if_absent=if_absent)

    def get_text(self, key: str) -> str:
        return self.get_bytes(key).decode("utf-8")

    def move_prefix(self, src: str, dst: str) -> list[str]:
        """Move every object under `src` to the same relative key under `dst`; returns the new keys.

        Each object is written at its destination before its source is deleted, so an interrupted move
        leaves a copy in one place or both, never in neither.
        """
        moved = []
        src = src.rstrip("/") + "/"
        for key in self.list(src):
            new_key = dst.rstrip("/") + "/" + key[len(src) :]
            self.put_bytes(new_key, self.get_bytes(key))
            self.delete(key)
            moved.append(new_key)
        return moved

    def delete_prefix(self, prefix: str) -> None:
        for key in self.list(prefix):
            self.delete(key)
