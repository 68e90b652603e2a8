"""Storage in a directory on a local or mounted file system: the embedded default."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from retrainer.storage import faults
from retrainer.storage.base import (
    KeyExists,
    KeyNotFound,
    PreconditionFailed,
    Storage,
    StorageError,
    sha256_bytes,
)


class LocalStorage(Storage):
    """A directory on a local or mounted file system."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root_uri = self.root.as_uri()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"key {key!r} points outside the storage root {self.root}")
        return path

    @contextmanager
    def _staged(self, key: str) -> Iterator[tuple[Path, Path]]:
        """A temporary file beside the key's path, removed afterwards unless it was committed."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            yield Path(tmp), target
        finally:
            Path(tmp).unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> str:
        with self._staged(key) as (tmp, target):
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if not if_absent:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)  # atomic create-only: fails if the name exists
                except FileExistsError:
                    raise KeyExists(self.uri(key)) from None
        faults.after_write(key)
        return self.uri(key)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> str:
        with self._staged(key) as (tmp, target):
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        faults.after_write(key)
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyNotFound(self.uri(key)) from None

    def download(self, key: str, path: str | os.PathLike[str]) -> Path:
        source = self.path(key)
        if not source.is_file():
            raise KeyNotFound(self.uri(key))
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Streamed (copyfile: no whole file in memory) to a temporary name, then renamed: a reader of
        # `path` never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.endswith((".tmp", ".lock"))
        )

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        # Drop directories the delete left empty, so listings match S3's prefix semantics.
        for parent in path.parents:
            if parent == self.root or any(parent.iterdir()):
                break
            parent.rmdir()

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.get_bytes(key)
        return data, sha256_bytes(data)

    def put_if_match(self, key: str, data: bytes, expected: str | None) -> str:
        # The token is the content's sha256; writers of one key serialise on a lock file beside it (flock
        # is released by the kernel if the holder dies), and the write itself is an atomic rename.
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.with_name(f".{target.name}.lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = sha256_bytes(target.read_bytes()) if target.is_file() else None
            if current != expected:
                raise PreconditionFailed(self.uri(key), expected)
            self.put_bytes(key, data)
        return sha256_bytes(data)
