"""Storage in an S3 bucket and prefix through boto3 (AWS, MinIO, or any S3-compatible server)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from retrainer.core.errors import StorageTimeout
from retrainer.storage import faults
from retrainer.storage.base import KeyExists, KeyNotFound, PreconditionFailed, Storage

# Files above this size move in parts, several at once, through boto3's transfer manager: streamed from
# and to disk, never whole in memory, and past the 5 GB limit of a single PUT.
PART_BYTES = 64 * 2**20

# What S3 (and MinIO) answer when a conditional write loses.
LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict"}

# The limits of each call when no model's `timeouts.storage` is given (commands working on no model): the
# values of models/defaults.yaml (tests/storage/test_storage_timeouts.py holds them equal).
DEFAULT_TIMEOUTS = {"connect_seconds": 10, "read_seconds": 60, "max_attempts": 3}


def _no_answer(error: BaseException) -> bool:
    """Whether `error` says the endpoint did not answer (no connection, a stalled or dropped answer)."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as NoConnection
    from s3transfer.exceptions import RetriesExceededError

    if isinstance(error, RetriesExceededError):  # the transfer manager's own retries of a stalled read
        return _no_answer(error.last_exception) if error.last_exception else True
    return isinstance(error, NoConnection | ReadTimeoutError | ConnectionClosedError)


def _bounded(method):
    """A storage method whose call ends in StorageTimeout, naming the key and the endpoint, when S3 does
    not answer within the limits (botocore's own retries spent)."""

    @functools.wraps(method)
    def call(self: S3Storage, key: str, *args: Any, **kwargs: Any):
        try:
            return method(self, key, *args, **kwargs)
        except Exception as error:
            if not _no_answer(error):
                raise
            raise StorageTimeout(method.__name__, self.uri(key), self.endpoint, self.limits, error) from error

    return call


class S3Storage(Storage):
    """An S3 bucket and prefix. The endpoint and credentials come from boto3's usual configuration
    (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, …), so MinIO or a local S3 server need no code change."""

    def __init__(
        self, bucket: str, prefix: str = "", client=None, timeouts: dict[str, Any] | None = None
    ) -> None:
        self.timeouts = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
        if client is None:
            import boto3
            from botocore.config import Config

            # Bounded calls: a stalled endpoint fails in about max_attempts x (connect or read) seconds.
            client = boto3.client(
                "s3",
                config=Config(
                    connect_timeout=self.timeouts["connect_seconds"],
                    read_timeout=self.timeouts["read_seconds"],
                    retries={"total_max_attempts": self.timeouts["max_attempts"], "mode": "standard"},
                ),
            )
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root_uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    @property
    def endpoint(self) -> str:
        return self.client.meta.endpoint_url

    @property
    def limits(self) -> str:
        """The limits of each call, as the errors show them."""
        t = self.timeouts
        return (
            f"connect {t['connect_seconds']:g} s, read {t['read_seconds']:g} s, {t['max_attempts']} attempts"
        )

    def _object_key(self, key: str) -> str:
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _transfer(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=PART_BYTES,
            multipart_chunksize=PART_BYTES,
            max_concurrency=4,
            num_download_attempts=self.timeouts["max_attempts"],  # retries of a stalled read
        )

    @_bounded
    def put_file(self, key: str, path: str | os.PathLike[str]) -> str:
        # A multipart upload becomes visible only when it completes: readers never see a part.
        self.client.upload_file(os.fspath(path), self.bucket, self._object_key(key), Config=self._transfer())
        return self.uri(key)

    @_bounded
    def download(self, key: str, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:  # the transfer manager writes a temporary file and renames it when the download is whole
            self.client.download_file(
                self.bucket, self._object_key(key), os.fspath(target), Config=self._transfer()
            )
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise KeyNotFound(self.uri(key)) from None
            raise
        return target

    @_bounded
    def put_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> str:
        # A single PUT is atomic on S3: readers never see a partial object, so no temporary key is needed.
        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data, **extra)
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in LOST_RACE:
                raise KeyExists(self.uri(key)) from None
            raise
        faults.after_write(key)
        return self.uri(key)

    @_bounded
    def get_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except self.client.exceptions.NoSuchKey:
            raise KeyNotFound(self.uri(key)) from None
        return response["Body"].read()

    @_bounded
    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    @_bounded
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

    @_bounded
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    @_bounded
    def get_versioned(self, key: str) -> tuple[bytes, str]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except self.client.exceptions.NoSuchKey:
            raise KeyNotFound(self.uri(key)) from None
        return response["Body"].read(), response["ETag"]

    @_bounded
    def put_if_match(self, key: str, data: bytes, expected: str | None) -> str:
        # S3 conditional writes: If-Match on the ETag read, or If-None-Match: * for "still absent".
        condition = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected}
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=self._object_key(key), Body=data, **condition
            )
        except self.client.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in LOST_RACE or (expected is not None and code in {"NoSuchKey", "404"}):
                raise PreconditionFailed(self.uri(key), expected) from None
            raise
        faults.after_write(key)
        return response["ETag"]
