"""The deployment events other systems follow: each move of a model's deployment (a promotion, a canary start
or step, a shadow start, a rollback) as the `extra` of one Airflow Asset event on
`retrainer://deployment/<model>`. Pure: the DAG wiring (`retrainer_airflow.events`) emits it; a task that
moved nothing emits nothing.

Airflow keeps an Asset URI of a scheme it has no handler for as it is written (`retrainer` is such a
scheme, like the `retrainer://drift/<model>` and `retrainer://registry/<model>` events), and refuses only
the reserved `airflow` scheme.
"""

from __future__ import annotations

from typing import Any

ASSET_GROUP = "deployment"
EXTRA_VERSION = 1  # bumped when a field of `event_extra` changes meaning; consumers may check it


def asset_uri(model: str) -> str:
    """The Asset a model's deployment moves are events of: `retrainer://deployment/<model>`."""
    return f"retrainer://deployment/{model}"


def event_extra(model: str, move: dict | None) -> dict[str, Any] | None:
    """The Asset event's `extra` for `move` (`deployment.moves.move_of`: what a task returned as its `move`),
    or None when nothing moved (no event then).

    Returns JSON-able fields a consumer reacts to: `model`, `event` (the audit event's name, e.g.
    `deployment_rolled_back`), `what` (in words), `version` (the version the move is about), `mode` and
    `share` after the move, `champion` and `challenger` after it, `from` (mode, share, champion,
    challenger before it), `revision` (of the deployment record after it), `reason`, `actor` (who or what
    moved it: a user, `monitor`), `audit_event_id` (the `move_id` of the move's audit event in the
    registry's chain), `at` (when, ISO 8601) and `breaches` (a rollback's figures out of bounds)."""
    if not move:
        return None
    after = move.get("to") or {}
    return {
        "model": model,
        "event": move.get("event"),
        "what": move.get("what"),
        "version": move.get("version"),
        "mode": after.get("mode"),
        "share": after.get("share"),
        "champion": after.get("champion"),
        "challenger": after.get("challenger"),
        "from": dict(move.get("from") or {}),
        "revision": (move.get("revision") or [None, None])[-1],
        "reason": move.get("reason"),
        "actor": move.get("actor"),
        "audit_event_id": move.get("event_id"),
        "at": move.get("at"),
        "breaches": list(move.get("breaches") or []),
        "extra_version": EXTRA_VERSION,
    }
