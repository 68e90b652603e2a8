"""The model registry: immutable numbered versions, movable aliases, an append-only audit log.

Layout under the storage root, per model (keys built in `core.layout`):
    registry/<model>/objects/<sha256>.<ext>     content-addressed files (model, baseline, dvc.lock, ...)
    registry/<model>/versions/<000001>.json     a version: its files with sha256, lineage, metrics, gates
    registry/<model>/aliases/<alias>.json       champion, challenger, ... -> a version number
    registry/<model>/audit/<time>-<id>.json     one object per event, never rewritten

A version record is written create-only after its files, so a version either exists whole or not at all,
and two writers can never take the same number. Files are read back only through `read_file`, which
refuses bytes whose sha256 differs from the one the version recorded.
"""

from __future__ import annotations

import getpass
import json
import uuid
from pathlib import PurePosixPath
from typing import Any

from retrainer.core import clock, layout
from retrainer.storage import KeyExists, KeyNotFound, Storage, sha256_bytes


class RegistryError(RuntimeError):
    """Base class of registry errors."""


class VersionNotFound(RegistryError, LookupError):
    pass


def _now() -> str:
    return clock.now().isoformat(timespec="milliseconds")


class Registry:
    def __init__(self, storage: Storage, model: str) -> None:
        self.storage = storage
        self.model = model

    # --- versions -------------------------------------------------------------------------------------

    def versions(self) -> list[dict]:
        """Every version record, oldest first."""
        keys = [
            k for k in self.storage.list(layout.registry_versions_area(self.model)) if k.endswith(".json")
        ]
        return [json.loads(self.storage.get_text(k)) for k in keys]

    def get(self, ref: int | str) -> dict:
        """A version record by number, or by alias (`champion`, `challenger`, ...)."""
        version = self.resolve(ref)
        try:
            return json.loads(self.storage.get_text(self._version_key(version)))
        except KeyNotFound:
            raise VersionNotFound(f"{self.model} has no version {version}") from None

    def resolve(self, ref: int | str) -> int:
        if isinstance(ref, int) or str(ref).isdigit():
            return int(ref)
        alias = self.alias(str(ref))
        if alias is None:
            raise VersionNotFound(f"{self.model} has no {ref!r} alias")
        return alias["version"]

    def find(self, idempotency_key: str) -> dict | None:
        for record in self.versions():
            if record.get("idempotency_key") == idempotency_key:
                return record
        return None

    def register(
        self, files: dict[str, bytes], lineage: dict[str, Any], idempotency_key: str, actor: str | None = None
    ) -> tuple[dict, bool]:
        """Store a new version; returns (record, created).

        If a version with the same idempotency key exists (a rerun of the same logical date on the same
        data and params), that version is returned and nothing is written.
        """
        if existing := self.find(idempotency_key):
            return existing, False
        stored = {}
        for name, data in sorted(files.items()):
            digest = sha256_bytes(data)
            key = layout.registry_object_key(self.model, digest, name)
            if not self.storage.exists(key):
                self.storage.put_bytes(key, data)
            stored[name] = {"key": key, "sha256": digest, "size": len(data)}
        version = max((r["version"] for r in self.versions()), default=0) + 1
        while True:
            record = {
                "model": self.model,
                "version": version,
                "created_at": _now(),
                "created_by": actor or getpass.getuser(),
                "idempotency_key": idempotency_key,
                "files": stored,
                **lineage,
            }
            try:
                self.storage.put_text(
                    self._version_key(version), json.dumps(record, indent=2), if_absent=True
                )
            except KeyExists:
                version += 1  # another writer took this number first
                continue
            self._audit("version_registered", version=version, actor=record["created_by"])
            return record, True

    def read_file(self, ref: int | str, name: str) -> bytes:
        """The bytes of one file of a version, after checking them against the recorded sha256."""
        record = self.get(ref)
        try:
            entry = record["files"][name]
        except KeyError:
            raise RegistryError(f"{self.model} version {record['version']} has no file {name!r}") from None
        what = f"{name!r} of {self.model} version {record['version']}"
        return self.storage.get_verified(entry["key"], entry["sha256"], what)

    def _version_key(self, version: int) -> str:
        return layout.registry_version_key(self.model, version)

    # --- aliases and audit ----------------------------------------------------------------------------

    def aliases(self) -> dict[str, dict]:
        keys = self.storage.list(layout.registry_aliases_area(self.model))
        return {PurePosixPath(k).stem: json.loads(self.storage.get_text(k)) for k in keys}

    def aliases_by_version(self) -> dict[int, list[str]]:
        """{version: [alias, ...]} for every version that has an alias, names sorted."""
        by_version: dict[int, list[str]] = {}
        for name, entry in sorted(self.aliases().items()):
            by_version.setdefault(entry["version"], []).append(name)
        return by_version

    def alias(self, name: str) -> dict | None:
        try:
            return json.loads(self.storage.get_text(layout.registry_alias_key(self.model, name)))
        except KeyNotFound:
            return None

    def set_alias(self, name: str, version: int, actor: str, reason: str) -> dict:
        """Point `name` at `version`; every move is an audit event with who and why."""
        self.get(version)  # refuse an alias to a version that does not exist
        previous = self.alias(name)
        if previous and previous["version"] == version:
            return previous
        entry = {"alias": name, "version": version, "set_at": _now(), "set_by": actor, "reason": reason}
        self.storage.put_text(layout.registry_alias_key(self.model, name), json.dumps(entry, indent=2))
        self._audit(
            "alias_moved",
            alias=name,
            version=version,
            previous_version=previous["version"] if previous else None,
            actor=actor,
            reason=reason,
        )
        return entry

    def audit_log(self) -> list[dict]:
        keys = self.storage.list(layout.registry_audit_area(self.model))
        return [json.loads(self.storage.get_text(k)) for k in keys]

    def _audit(self, event: str, **details: Any) -> None:
        at = clock.now()
        entry = {"event": event, "model": self.model, "at": at.isoformat(timespec="milliseconds"), **details}
        key = layout.registry_audit_key(self.model, clock.stamp(at), uuid.uuid4().hex[:8])
        self.storage.put_text(key, json.dumps(entry), if_absent=True)
