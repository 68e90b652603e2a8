"""`registry verify`'s check of the registry's state against its audit chain: the chain itself, every
version record (its sha256 is in its `version_registered` event), every alias (it names the event that set
it, and must say what that event says) and the deployment record (the event of its revision names its
sha256). Each problem names the file edited, removed or inserted.

State written before the chain existed (events without `seq`, aliases naming such events, versions
registered and deployment moves made before it) cannot be checked: it is reported as "pre-chain" notes,
never as a problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from retrainer.core import layout
from retrainer.registry import chain as audit_chain
from retrainer.registry.store import REGISTERED, Registry
from retrainer.storage import KeyNotFound, sha256_bytes

# What an alias file says, and the field of its event that must say the same.
_ALIAS_FIELDS = {
    "alias": "alias",
    "version": "version",
    "previous_version": "previous_version",
    "set_at": "at",
    "set_by": "actor",
    "reason": "reason",
}
_DEPLOYMENT_FIELDS = ("mode", "champion", "challenger", "share")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)  # each names a file edited, removed or inserted
    notes: list[str] = field(default_factory=list)  # pre-chain state, which cannot be checked

    @property
    def ok(self) -> bool:
        return not self.problems


def check(registry: Registry) -> Report:
    """Check the chain, every version record, every alias and the deployment record of one model."""
    chain = audit_chain.load(registry.storage, registry.model)
    report = Report(problems=list(chain.problems))
    if chain.pre_chain:
        report.notes.append(
            f"{len(chain.pre_chain)} audit event(s) were written before the hash chain (pre-chain): "
            "their content and order are not checked"
        )
    _check_versions(registry, chain, report)
    _check_aliases(registry, chain, report)
    _check_deployment(registry, chain, report)
    return report


def _bytes(registry: Registry, key: str) -> bytes | None:
    try:
        return registry.storage.get_bytes(key)
    except KeyNotFound:
        return None


def _check_versions(registry: Registry, chain: audit_chain.Chain, report: Report) -> None:
    events = {}
    for event in chain.events.values():
        if event.get("event") == REGISTERED:
            events.setdefault(event.get("version"), event)
    for version, event in sorted(events.items()):
        key = event.get("record_key") or layout.registry_version_key(registry.model, version)
        data = _bytes(registry, key)
        if data is None:
            report.problems.append(
                f"version record {key} (v{version}) was removed; {event['key']} registered it"
            )
        elif (actual := sha256_bytes(data)) != event.get("record_sha256"):
            report.problems.append(
                f"version record {key} (v{version}) was edited: sha256 {actual}, "
                f"registered as {event.get('record_sha256')} ({event['key']})"
            )
    first = min(events, default=None)
    unchained = []
    for key in registry.storage.list(layout.registry_versions_area(registry.model)):
        stem = PurePosixPath(key).stem
        if not stem.isdigit() or int(stem) in events:
            continue
        if first is not None and int(stem) > first:
            report.problems.append(
                f"version record {key} has no version_registered event in the audit chain: "
                "inserted, its event removed, or its registration died before its event (rerun it)"
            )
        else:
            unchained.append(f"v{int(stem)}")
    if unchained:
        report.notes.append(f"version(s) {', '.join(unchained)} were registered before the chain (pre-chain)")


def _check_aliases(registry: Registry, chain: audit_chain.Chain, report: Report) -> None:
    by_id = chain.by_id()
    area = layout.registry_aliases_area(registry.model)
    present = set()
    successors: dict[str, list[dict]] = {}  # event id -> the alias moves made from it
    for event in chain.events.values():
        if event.get("event") == "alias_moved" and event.get("previous_event"):
            successors.setdefault(event["previous_event"], []).append(event)
    for key in registry.storage.list(area):
        name = PurePosixPath(key).stem
        present.add(name)
        try:
            entry = json.loads(registry.storage.get_bytes(key))
        except ValueError:
            report.problems.append(f"alias file {key} is not JSON: edited")
            continue
        event_id = entry.get("event")
        event = by_id.get(event_id)
        if event is None and "event_sha256" not in entry and audit_chain.seq_of(str(event_id)) is None:
            report.notes.append(f"alias {name!r} was set before the chain (pre-chain event {event_id})")
            continue
        if event is None:
            report.problems.append(
                f"alias file {key} names event {event_id!r}, which is not in the audit chain: "
                "the alias file was edited, or its event removed"
            )
            continue
        if entry.get("event_sha256") != event["sha256"]:
            report.problems.append(
                f"alias file {key} names event {event['key']} with sha256 {entry.get('event_sha256')}, "
                f"but the event's is {event['sha256']}: one of them was edited"
            )
        if event.get("event") != "alias_moved" or event.get("alias") != name:
            report.problems.append(
                f"alias file {key} was edited: it names {event['key']}, which moved "
                f"{event.get('alias')!r}, not {name!r}"
            )
            continue
        for own, theirs in _ALIAS_FIELDS.items():
            expected = event.get(theirs)
            if entry.get(own) != expected:
                report.problems.append(
                    f"alias file {key} was edited: its {own} is {entry.get(own)!r}, "
                    f"the event that set it ({event['key']}) says {expected!r}"
                )
                break
        _check_rewound(key, event, successors, report)
    last_move: dict[str, dict] = {}
    for seq in sorted(chain.events):
        event = chain.events[seq]
        if event.get("event") == "alias_moved":
            last_move[event.get("alias")] = event
    for name, event in sorted(last_move.items()):
        if name not in present:
            report.problems.append(
                f"alias file {layout.registry_alias_key(registry.model, name)} was removed: "
                f"{event['key']} moved it to v{event.get('version')}"
            )


def _check_rewound(key: str, event: dict, successors: dict[str, list[dict]], report: Report) -> None:
    """An alias naming an event that a later move replaced, where a move after that one read the alias at
    the replacement: the alias file was put back by hand. (A replacement with no successor may be a move
    that lost its swap or died before it, so it proves nothing.)"""
    for later in successors.get(event["id"], []):
        if after := successors.get(later["id"]):
            report.problems.append(
                f"alias file {key} was rewound: it names {event['key']}, but {later['key']} moved it on "
                f"and {after[0]['key']} moved it again"
            )
            return


def _check_deployment(registry: Registry, chain: audit_chain.Chain, report: Report) -> None:
    key = layout.registry_deployment_key(registry.model)
    moves = [e for _, e in sorted(chain.events.items()) if "record_sha256" in e and "revision" in e]
    data = _bytes(registry, key)
    if data is None:
        if moves:
            report.problems.append(
                f"deployment record {key} was removed: {moves[-1]['key']} set its revision "
                f"{moves[-1]['revision']}"
            )
        return
    if not moves:
        report.notes.append(f"deployment record {key} was last moved before the chain (pre-chain)")
        return
    try:
        record = json.loads(data)
    except ValueError:
        report.problems.append(f"deployment record {key} is not JSON: edited")
        return
    revision = record.get("revision")
    same = [e for e in moves if e["revision"] == revision]
    actual = sha256_bytes(data)
    newest = max(moves, key=lambda e: e["revision"])
    if isinstance(revision, int) and newest["revision"] > revision:
        report.problems.append(
            f"deployment record {key} is at revision {revision}, but {newest['key']} moved it to revision "
            f"{newest['revision']}: rewound by hand (or a move died between its event and its record)"
        )
        return
    if any(e["record_sha256"] == actual for e in same):
        return
    if not same:
        report.problems.append(
            f"deployment record {key} is at revision {revision}, which no audit event set: edited "
            f"(the last move, {moves[-1]['key']}, set revision {moves[-1]['revision']})"
        )
        return
    event = same[-1]
    changed = [
        f"{name} {record.get(name)!r} (the move set {event.get(name)!r})"
        for name in _DEPLOYMENT_FIELDS
        if record.get(name) != event.get(name)
    ]
    report.problems.append(
        f"deployment record {key} was edited: sha256 {actual}, revision {revision} was written as "
        f"{event['record_sha256']} ({event['key']})" + (f"; {', '.join(changed)}" if changed else "")
    )
