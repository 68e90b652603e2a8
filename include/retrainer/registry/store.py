"""The model registry: immutable numbered versions, aliases moved by compare-and-swap, an audit log that
cannot disagree with them, and a check of every stored byte.

Layout under the storage root, per model (keys built in `core.layout`):
    registry/<model>/objects/<sha256>.<ext>     content-addressed files (model, baseline, dvc.lock, ...)
    registry/<model>/runs/<idempotency key>.json  the claim of a run: which version number it holds
    registry/<model>/versions/<000001>.json     a version: its files (keys and sha256), lineage, gates
    registry/<model>/aliases/<alias>.json       champion, challenger, ... -> a version and the move's event
    registry/<model>/audit/chain-<n>.json       one event each (a version registered, an alias moved, a
                                                deployment move, an approval), create-only, never
                                                rewritten: a hash chain (`chain`), each naming the sha256
                                                of event n-1; `<time>-<id>.json` ones are pre-chain

Crashes and concurrency. Every step is either create-only or a compare-and-swap, and each can be redone:
  * objects are content-addressed, so rewriting one is harmless;
  * a registration first writes its run's claim create-only, naming the next free version number: of any
    number of writers of the same run, the first claim wins and every other one adopts its number. Then the
    version record is written create-only under that number; a writer that finds the number taken by
    another run moves its claim on (compare-and-swap) and tries the next. So a run has one version, and a
    version belongs to one run, however many processes register it and wherever one of them died;
  * an alias move writes its audit event create-only first, naming the version and the event it replaces,
    then swaps the alias (compare-and-swap on the alias the caller read) to name that event. The alias
    therefore always names the last move, and the log of an alias is the chain of events from the one the
    alias names back through each event's `previous_event`. An event no alias chain reaches (its writer lost
    the swap or died before it) is not part of the log: `orphan_events` lists them for the curious.
  * a version's `version_registered` event names the sha256 of its record's bytes, and an alias names
    the key and sha256 of the event that set it, so `registry verify` (`integrity`) names a record or an
    alias edited by hand; a registration that died before its event writes it when rerun.
Files are read back only through `read_file`, which refuses bytes whose sha256 differs from the record;
`verify` checks every file of a version.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import time
from pathlib import PurePosixPath
from typing import Any

from retrainer.core import clock, layout
from retrainer.registry import chain
from retrainer.storage import (
    ChecksumMismatch,
    KeyExists,
    KeyNotFound,
    PreconditionFailed,
    Storage,
    sha256_bytes,
)


class RegistryError(RuntimeError):
    """Base class of registry errors."""


class VersionNotFound(RegistryError, LookupError):
    """No version of the model has this number or alias (`registry list` shows the registered ones)."""


class AliasMoved(RegistryError):
    """An alias was not where the caller expected it: someone moved it meanwhile. Read it again, decide."""

    def __init__(self, model: str, alias: str, expected: int | None, found: int | None) -> None:
        def name(version: int | None) -> str:
            return "unset" if version is None else f"v{version}"

        super().__init__(
            f"{model} alias {alias!r} is {name(found)}, not {name(expected)} as expected: "
            "another process moved it; nothing was changed"
        )
        self.alias, self.expected, self.found = alias, expected, found


REGISTERED = "version_registered"


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
        return [self._json(k) for k in keys]

    def _json(self, key: str) -> dict:
        try:
            return json.loads(self.storage.get_text(key))
        except ValueError:
            raise RegistryError(
                f"{self.storage.uri(key)} is not JSON: edited by hand? `retrainer registry verify` names "
                "every file that changed"
            ) from None

    def get(self, ref: int | str) -> dict:
        """A version record by number, or by alias (`champion`, `challenger`, ...)."""
        version = self.resolve(ref)
        record = self._record(version)
        if record is None:
            raise VersionNotFound(f"{self.model} has no version {version}")
        return record

    def resolve(self, ref: int | str) -> int:
        if isinstance(ref, int) or str(ref).lstrip("v").isdigit():
            return int(str(ref).lstrip("v"))
        alias = self.alias(str(ref))
        if alias is None:
            raise VersionNotFound(f"{self.model} has no {ref!r} alias")
        return alias["version"]

    def find(self, idempotency_key: str) -> dict | None:
        """The version of a run, by its idempotency key (through the run's claim)."""
        try:
            claim = json.loads(self.storage.get_text(layout.registry_claim_key(self.model, idempotency_key)))
        except KeyNotFound:
            return None
        record = self._record(claim["version"])
        return record if record and record["idempotency_key"] == idempotency_key else None

    def register(
        self, files: dict[str, bytes], lineage: dict[str, Any], idempotency_key: str, actor: str | None = None
    ) -> tuple[dict, bool]:
        """Store the version of a run; returns (record, created).

        A run (its idempotency key) has exactly one version: if any process registered it already, or is
        registering it now, its version is returned (`created` False) and this call only finishes what
        may be missing of it.
        """
        stored = {}
        for name, data in sorted(files.items()):
            digest = sha256_bytes(data)
            key = layout.registry_object_key(self.model, digest, name)
            if not self.storage.exists(key):
                self.storage.put_bytes(key, data)
            stored[name] = {"key": key, "sha256": digest, "size": len(data)}
        claim_key = layout.registry_claim_key(self.model, idempotency_key)
        actor = actor or getpass.getuser()
        self._claim(claim_key, idempotency_key, actor)
        while True:
            claim, token = self.storage.get_versioned(claim_key)
            version = json.loads(claim)["version"]
            if (existing := self._record(version)) is not None:
                if existing["idempotency_key"] == idempotency_key:
                    self._audit_registration(existing)  # a writer that died after the record: finish
                    return existing, False
                self._move_claim(claim_key, claim, token)  # another run took the number: take the next
                continue
            record = {
                "model": self.model,
                "version": version,
                "created_at": _now(),
                "created_by": actor,
                "idempotency_key": idempotency_key,
                "files": stored,
                **lineage,
            }
            try:
                self.storage.put_text(
                    self._version_key(version), json.dumps(record, indent=2), if_absent=True
                )
            except KeyExists:
                continue  # someone wrote this number first: look again whose it is
            self._audit_registration(record)
            return record, True

    def _audit_registration(self, record: dict) -> None:
        """Write the version's `version_registered` event into the chain, naming the sha256 of the version
        record's bytes (so an edit of the record is caught by `verify`), unless one is there already."""
        version = record["version"]
        if any(e.get("event") == REGISTERED and e.get("version") == version for e in self._audit_entries()):
            return
        key = self._version_key(version)
        chain.append(
            self.storage,
            self.model,
            {
                "event": REGISTERED,
                "model": self.model,
                "at": record["created_at"],
                "version": version,
                "actor": record.get("created_by"),
                "record_key": key,
                "record_sha256": sha256_bytes(self.storage.get_bytes(key)),
            },
        )

    def _next_version(self) -> int:
        keys = self.storage.list(layout.registry_versions_area(self.model))
        return max((int(PurePosixPath(k).stem) for k in keys), default=0) + 1

    def _claim(self, claim_key: str, idempotency_key: str, actor: str) -> None:
        """Write the run's claim, naming the next free version number, unless it has one already."""
        claim = {
            "idempotency_key": idempotency_key,
            "version": self._next_version(),
            "at": _now(),
            "by": actor,
        }
        with contextlib.suppress(KeyExists):  # the run is claimed already: its number stands
            self.storage.put_text(claim_key, json.dumps(claim), if_absent=True)

    def _move_claim(self, claim_key: str, claim: bytes, token: str) -> None:
        moved = json.loads(claim) | {"version": self._next_version(), "moved_at": _now()}
        try:
            self.storage.put_if_match(claim_key, json.dumps(moved).encode(), token)
        except PreconditionFailed:
            time.sleep(0.01)  # another writer of this run moved it: read it again

    def _record(self, version: int) -> dict | None:
        try:
            return self._json(self._version_key(version))
        except KeyNotFound:
            return None

    def _version_key(self, version: int) -> str:
        return layout.registry_version_key(self.model, version)

    # --- stored bytes ---------------------------------------------------------------------------------

    def read_file(self, ref: int | str, name: str) -> bytes:
        """The bytes of one file of a version, after checking them against the recorded sha256."""
        record = self.get(ref)
        try:
            entry = record["files"][name]
        except KeyError:
            raise RegistryError(f"{self.model} version {record['version']} has no file {name!r}") from None
        what = f"{name!r} of {self.model} version {record['version']}"
        return self.storage.get_verified(self.storage.key_of(entry["key"]), entry["sha256"], what)

    def verify(self, ref: int | str) -> dict[str, str]:
        """Check every file of a version against its sha256: {file name: problem} (empty if all verify)."""
        record = self.get(ref)
        problems = {}
        for name in sorted(record["files"]):
            try:
                self.read_file(record["version"], name)
            except ChecksumMismatch as error:
                problems[name] = f"sha256 {error.actual}, recorded {error.expected}"
            except KeyNotFound as error:
                problems[name] = f"missing: {error.uri}"
        return problems

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
        return self._alias_versioned(name)[0]

    def _alias_versioned(self, name: str) -> tuple[dict | None, str | None]:
        try:
            data, token = self.storage.get_versioned(layout.registry_alias_key(self.model, name))
        except KeyNotFound:
            return None, None
        return json.loads(data), token

    def set_alias(self, name: str, version: int, actor: str, reason: str, *, expected: int | None) -> dict:
        """Move `name` from the version `expected` (None: the alias does not exist yet) to `version`.

        Raises AliasMoved, and changes nothing, when the alias is not at `expected` any more. The move
        and its audit event are one: the alias names the event (see the module docstring).
        """
        self.get(version)  # refuse an alias to a version that does not exist
        current, token = self._alias_versioned(name)
        found = current["version"] if current else None
        if found != expected:
            raise AliasMoved(self.model, name, expected, found)
        if found == version:
            return current
        event = {
            "event": "alias_moved",
            "model": self.model,
            "at": _now(),
            "alias": name,
            "version": version,
            "previous_version": found,
            "previous_event": current.get("event") if current else None,
            "actor": actor,
            "reason": reason,
        }
        event = chain.append(self.storage, self.model, event)
        entry = {
            "alias": name,
            "version": version,
            "set_at": event["at"],
            "set_by": actor,
            "reason": reason,
            "previous_version": found,
            "event": event["id"],
            "event_key": event["key"],  # the event that set the alias, and its bytes' sha256 (`verify`)
            "event_sha256": event["sha256"],
        }
        try:
            self.storage.put_if_match(
                layout.registry_alias_key(self.model, name), json.dumps(entry, indent=2).encode(), token
            )
        except PreconditionFailed:
            moved = self.alias(name)
            raise AliasMoved(self.model, name, expected, moved["version"] if moved else None) from None
        return entry

    def alias_history(self, name: str, events: dict[str, dict] | None = None) -> list[dict]:
        """The moves of one alias, oldest first: the chain of events the alias names."""
        events = self._events() if events is None else events
        chain, event_id = [], (self.alias(name) or {}).get("event")
        while event_id and event_id in events and len(chain) <= len(events):
            chain.append(events[event_id])
            event_id = events[event_id].get("previous_event")
        return chain[::-1]

    def audit_log(self) -> list[dict]:
        """Every version registered, every alias move and every other event (deployment moves, approvals),
        oldest first. An alias event counts only if its alias chain names it (a lost race's does not)."""
        entries = self._audit_entries()
        events = self._events(entries)
        moves = [e for name in self.aliases() for e in self.alias_history(name, events)]
        moves += [e for e in entries if e.get("event") != "alias_moved"]
        audited = {e.get("version") for e in entries if e.get("event") == REGISTERED}
        registered = [  # versions registered before the chain have no stored event: their records stand in
            {
                "event": REGISTERED,
                "model": self.model,
                "at": r["created_at"],
                "version": r["version"],
                "actor": r.get("created_by"),
            }
            for r in self.versions()
            if r["version"] not in audited
        ]
        seen: set[int] = set()  # two writers of one run may both have audited its registration: log one
        for e in [e for e in entries if e.get("event") == REGISTERED]:
            if e.get("version") in seen:
                moves.remove(e)
            seen.add(e.get("version"))
        return sorted(registered + moves, key=lambda e: (str(e.get("at")), e.get("event") != REGISTERED))

    def orphan_events(self) -> list[dict]:
        """Events written by moves that lost their compare-and-swap or died before it: not in the log."""
        events = self._events()
        logged = {e["id"] for name in self.aliases() for e in self.alias_history(name, events)}
        return [e for i, e in sorted(events.items()) if i not in logged]

    def _audit_entries(self) -> list[dict]:
        area = layout.registry_audit_area(self.model)
        return [json.loads(self.storage.get_text(key)) for key in self.storage.list(area)]

    def _events(self, entries: list[dict] | None = None) -> dict[str, dict]:
        """The alias events by id."""
        entries = self._audit_entries() if entries is None else entries
        return {e["id"]: e for e in entries if e.get("event") == "alias_moved" and "id" in e}
