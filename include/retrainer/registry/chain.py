"""The audit log of a model as a hash chain: event number n (`audit/chain-<n>.json`, create-only) names the
sha256 of the bytes of event n-1, so an event edited, removed or inserted breaks the chain where it was.

Concurrent writers are safe: each reads the last number, writes n+1 create-only, and on KeyExists (another
writer took n+1) reads again and retries, so the numbers stay gap-free and every event names its real
predecessor. Events written before the chain existed (keyed `audit/<time>-<id>.json`, no `seq`) are
"pre-chain": read as before, listed by `check`, never covered by it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from retrainer.core import layout
from retrainer.storage import KeyExists, Storage, sha256_bytes

_SEQ = re.compile(rf"^{layout.CHAIN_EVENT_PREFIX}(\d+)$")
ATTEMPTS = 1000  # each KeyExists means another writer appended: progress, so this never runs out


def seq_of(key: str) -> int | None:
    """The chain number of an audit key, or None for a pre-chain event."""
    found = _SEQ.match(PurePosixPath(key).stem)
    return int(found.group(1)) if found else None


def _last(storage: Storage, model: str) -> int:
    keys = storage.list(layout.registry_audit_area(model))
    return max((n for n in map(seq_of, keys) if n is not None), default=0)


def append(
    storage: Storage, model: str, entry: dict, unless: Callable[[int], bool] | None = None
) -> dict | None:
    """Write `entry` as the next event of the model's chain; returns it with `id`, `seq`, `key`,
    `previous_sha256` and `sha256` (of the bytes stored; `key` and `sha256` are not stored in it). With
    `unless`, asked before every attempt about the chain up to the number it will follow: None, and
    nothing written, once it says the event is there. The check and the create-only write of the next
    number see the same chain (an event appended in between takes that number: the write fails and the
    check runs again), so writers finishing the same work write its event once."""
    for _ in range(ATTEMPTS):
        seq = _last(storage, model) + 1
        if unless is not None and unless(seq - 1):
            return None
        previous = None
        if seq > 1:
            previous = sha256_bytes(storage.get_bytes(layout.registry_audit_chain_key(model, seq - 1)))
        key = layout.registry_audit_chain_key(model, seq)
        event = {**entry, "id": PurePosixPath(key).stem, "seq": seq, "previous_sha256": previous}
        data = json.dumps(event, default=str).encode()
        try:
            storage.put_bytes(key, data, if_absent=True)
        except KeyExists:
            continue  # another writer took this number: read the new end and try the next
        return {**event, "key": key, "sha256": sha256_bytes(data)}
    raise RuntimeError(f"{model}: the audit chain kept growing under {ATTEMPTS} attempts to append")


def find_back(
    storage: Storage, model: str, match: Callable[[dict], bool | None], last: int | None = None
) -> dict | None:
    """Walk the chain from its end (or from event `last`) to its start: the first event `match` says True
    of; None at the start or at the first event it says False of (nothing earlier can match)."""
    for seq in range(_last(storage, model) if last is None else last, 0, -1):
        event = json.loads(storage.get_bytes(layout.registry_audit_chain_key(model, seq)))
        found = match(event)
        if found is not None:
            return event if found else None
    return None


@dataclass
class Chain:
    """What `load` found in a model's audit area: chained events by number (with their key and sha256),
    pre-chain events, and the problems of the chain itself (each naming the file)."""

    events: dict[int, dict] = field(default_factory=dict)
    pre_chain: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_id(self) -> dict[str, dict]:
        return {e["id"]: e for e in self.events.values()}


def load(storage: Storage, model: str) -> Chain:
    """Read every audit event and check the chain: numbers gap-free from 1, each event naming the sha256 of
    the one before and its own number; an event outside the chain written after the chain began is named
    as inserted."""
    chain = Chain()
    raw: dict[int, bytes] = {}
    for key in storage.list(layout.registry_audit_area(model)):
        data = storage.get_bytes(key)
        try:
            event = json.loads(data)
        except ValueError:
            chain.problems.append(f"audit event {key} is not JSON: edited")
            continue
        if (seq := seq_of(key)) is None:
            chain.pre_chain.append({**event, "key": key})
            continue
        raw[seq] = data
        chain.events[seq] = {"id": PurePosixPath(key).stem, **event, "key": key, "sha256": sha256_bytes(data)}
    last = max(raw, default=0)
    for seq in range(1, last + 1):
        key = layout.registry_audit_chain_key(model, seq)
        if seq not in raw:
            chain.problems.append(f"audit event {key} was removed: the chain has a gap at {seq}")
            continue
        event = chain.events[seq]
        if event.get("seq") != seq:
            chain.problems.append(f"audit event {key} says it is number {event.get('seq')}: edited or moved")
        if seq - 1 in raw and event.get("previous_sha256") != sha256_bytes(raw[seq - 1]):
            before = layout.registry_audit_chain_key(model, seq - 1)
            chain.problems.append(
                f"audit event {before} was edited, or {key} was put in after it: {key} does not name "
                f"the sha256 of {before}"
            )
        if seq == 1 and event.get("previous_sha256") is not None:
            chain.problems.append(f"audit event {key} names a predecessor but is the first: edited")
    if chain.events:
        began = chain.events[min(chain.events)].get("at", "")
        for event in chain.pre_chain:
            if str(event.get("at", "")) >= began:
                chain.problems.append(
                    f"audit event {event['key']} is outside the chain but dated after it began: inserted"
                )
    return chain
