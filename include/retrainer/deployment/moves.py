"""What a task moved in a deployment, small enough for XCom: the move a person is told of (a rollback, a
promotion, a canary start or step, a shadow start), read from the deployment record before and after the
task acted. No move (a held canary, a rerun that found its move made, a rejected challenger): None, and
nothing is posted.
"""

from __future__ import annotations

from typing import Any

from retrainer.deployment.state import read_or_none
from retrainer.registry.store import Registry

# What a person reads for each move's audit event (`state.move`'s event names).
WHAT = {
    "deployment_promoted": "promotion",
    "canary_promoted": "promotion (canary past its last step)",
    "canary_started": "canary start",
    "canary_ramped": "canary step",
    "shadow_started": "shadow start",
    "deployment_rolled_back": "rollback",
}


def side(state: dict | None) -> dict[str, Any]:
    """The fields of a deployment a move changes: mode, share, champion, challenger (all None: nothing)."""
    state = state or {}
    return {k: state.get(k) for k in ("mode", "share", "champion", "challenger")}


def move_of(before: dict | None, after: dict | None, breaches: list[str] | None = None) -> dict | None:
    """The move between two reads of the deployment record (`before`, `after`: states, None = nothing
    deployed), or None when the record did not move. Returns `{"event", "what", "revision": [from, to],
    "version", "from": side, "to": side, "actor", "reason", "breaches", "event_id", "at"}`: the record's last
    move names who made it, why, when, and the id of its audit event (the event's `move_id`); `breaches` (a
    rollback's figures out of bounds) are the caller's."""
    if after is None or (before or {}).get("revision") == after.get("revision"):
        return None
    step = (after.get("history") or [{}])[-1]
    event = step.get("event") or "deployment_moved"
    return {
        "event": event,
        "what": WHAT.get(event, event),
        "revision": [(before or {}).get("revision", 0), after.get("revision")],
        "version": step.get("version", after.get("challenger") or after.get("champion")),
        "from": side(before),
        "to": side(after),
        "actor": step.get("actor", after.get("set_by")),
        "reason": step.get("reason", after.get("reason")),
        "breaches": list(breaches or []),
        "event_id": step.get("id"),  # the move's audit event (its `move_id`), named in the record
        "at": step.get("at"),
    }


def moved_by(registry: Registry, before: dict | None, breaches: list[str] | None = None) -> dict | None:
    """`move_of` from `before` (read before the task acted) to the record as it is now."""
    return move_of(before, read_or_none(registry), breaches)
