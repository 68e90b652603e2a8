"""One storage interface over a local directory (the embedded default) or an S3 prefix (boto3).

Every artifact is addressed by a key relative to the storage root; `open_storage(uri)` picks the backend
from the URI scheme, so switching to S3 is configuration, never a code change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse


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
        """The key of a URI under this root (the inverse of `uri`)."""
        prefix = self.root_uri.rstrip("/") + "/"
        if not uri.startswith(prefix):
            raise StorageError(f"{uri} is not under the storage root {self.root_uri}")
        return uri[len(prefix) :]

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

    def put_file(self, key: str, path: str | os.PathLike[str]) -> str:
        return self.put_bytes(key, Path(path).read_bytes())

    def download(self, key: str, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.get_bytes(key))
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
        return self.uri(key)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> str:
        with self._staged(key) as (tmp, target):
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
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
        shutil.copyfile(source, target)
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
            if p.is_file() and not p.name.endswith(".tmp")
        )

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        # Drop directories the delete left empty, so listings match S3's prefix semantics.
        for parent in path.parents:
            if parent == self.root or any(parent.iterdir()):
                break
            parent.rmdir()


class S3Storage(Storage):
    """An S3 bucket and prefix. The endpoint and credentials come from boto3's usual configuration
    (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, …), so MinIO or a local S3 server need no code change."""

    def __init__(self, bucket: str, prefix: str = "", client=None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root_uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _object_key(self, key: str) -> str:
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> str:
        # A single PUT is atomic on S3: readers never see a partial object, so no temporary key is needed.
        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data, **extra)
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {
                "PreconditionFailed",
                "ConditionalRequestConflict",
            }:
                raise KeyExists(self.uri(key)) from None
            raise
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except self.client.exceptions.NoSuchKey:
            raise KeyNotFound(self.uri(key)) from None
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        # A prefix names a folder, as it does for LocalStorage: "runs/a" must not list "runs/ab/...".
        folder = prefix.strip("/")
        full_prefix = self._object_key(folder) + "/" if folder else (self.prefix + "/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))


def open_storage(uri: str | os.PathLike[str]) -> Storage:
    """`file:///path`, a plain path, or `s3://bucket/prefix`."""
    text = os.fspath(uri)
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path)
    if parsed.scheme == "file":
        return LocalStorage(parsed.path)
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # a plain (or Windows drive) path
        return LocalStorage(text)
    raise StorageError(f"unsupported storage URI scheme {parsed.scheme!r} in {text}; use file:// or s3://")
