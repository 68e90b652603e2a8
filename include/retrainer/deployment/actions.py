"""The deployment's verbs, as the CLI, the DAGs and the approval call them: start a shadow or canary run,
promote (blue-green), ramp, roll back, and the automatic verdict after each scored day. Each is one
compare-and-swap move of the deployment record (`state.move`) with its audit event."""

from __future__ import annotations

from typing import Any

from retrainer.deployment import transitions
from retrainer.deployment.monitor import RAMP, ROLLBACK, Verdict, verdict
from retrainer.deployment.state import CANARY, SHADOW, DeploymentMoved, audit, move, read
from retrainer.registry.store import Registry

# The actions of `retrainer deploy` and of the deploy DAG's `action` Param.
ACTIONS = ("promote", "shadow", "canary", "ramp", "rollback")


def steps_of(params: dict[str, Any]) -> list[int]:
    return list(params["deployment"]["canary"]["steps"])


def promote(registry: Registry, version: int, actor: str, reason: str, expected_revision: int | None = None):
    """Blue-green: `version` becomes champion at once; the old champion stays as previous_champion."""
    return move(
        registry,
        lambda s: transitions.promote(s, version),
        actor,
        reason,
        "deployment_promoted",
        expected_revision,
        action="promote",
        version=version,
    )


def start_shadow(
    registry: Registry, version: int, actor: str, reason: str, expected_revision: int | None = None
):
    return move(
        registry,
        lambda s: transitions.start_shadow(s, version),
        actor,
        reason,
        "shadow_started",
        expected_revision,
        action="shadow",
        version=version,
    )


def start_canary(
    registry: Registry,
    version: int,
    actor: str,
    reason: str,
    params: dict,
    expected_revision: int | None = None,
):
    steps = steps_of(params)
    return move(
        registry,
        lambda s: transitions.start_canary(s, version, steps),
        actor,
        reason,
        "canary_started",
        expected_revision,
        action="canary",
        version=version,
    )


def ramp(registry: Registry, actor: str, reason: str, params: dict, expected_revision: int | None = None):
    """The canary's next step; past the last it is promoted (the event says which)."""
    steps = steps_of(params)
    return move(
        registry,
        lambda s: transitions.ramp(s, steps),
        actor,
        reason,
        lambda old, new: "canary_ramped" if new["mode"] == CANARY else "canary_promoted",
        expected_revision,
        action="ramp",
        version=lambda old: old.get("challenger"),
    )


def rollback(registry: Registry, actor: str, reason: str, expected_revision: int | None = None):
    """Drop a shadow or canary challenger, or bring the previous champion back (blue-green)."""
    return move(
        registry,
        transitions.rollback,
        actor,
        reason,
        "deployment_rolled_back",
        expected_revision,
        action="rollback",
        version=lambda old: old["challenger"] if old["mode"] in (SHADOW, CANARY) else old["champion"],
    )


def run_action(
    registry: Registry,
    action: str,
    version: int | None,
    actor: str,
    reason: str,
    params: dict,
    expected_revision: int | None = None,
):
    """One of ACTIONS by name (the CLI's and the deploy DAG's entry). With `expected_revision` (the
    revision the person decided on, as `deploy status` shows it) a record that moved since is refused
    with DeploymentMoved; without it the move applies to the record as it is when read."""
    if action not in ACTIONS:
        raise ValueError(f"unknown deployment action {action!r}; known: {', '.join(ACTIONS)}")
    if action in ("promote", "shadow", "canary") and version is None:
        raise ValueError(f"{action} needs a version")
    if action == "promote":
        return promote(registry, version, actor, reason, expected_revision)
    if action == "shadow":
        return start_shadow(registry, version, actor, reason, expected_revision)
    if action == "canary":
        return start_canary(registry, version, actor, reason, params, expected_revision)
    if action == "ramp":
        return ramp(registry, actor, reason, params, expected_revision)
    return rollback(registry, actor, reason, expected_revision)


def after_scored_day(
    registry: Registry, reports: list[dict], params: dict, scored_revision: int | None = None
) -> tuple[Verdict, dict]:
    """Judge the running challenger on its scored days and act: roll back at once on a breach, ramp a
    canary after enough good days, else hold. Returns the verdict and the state after.

    The verdict is on the state the day was scored under (`scored_revision`, the score task's
    `deployment_revision`; default: the record's revision now), and its move is made against that
    revision: when the record moved since (a move by hand), the move is refused with DeploymentMoved,
    audited as `deployment_move_refused`, so a verdict never lands on a state it did not judge.
    """
    state, _ = read(registry)
    revision = state["revision"] if scored_revision is None else scored_revision
    judged = state if state["revision"] == revision else _state_at(state, revision)
    found = verdict(judged, reports, params)
    try:
        if found.action == ROLLBACK:
            state = rollback(registry, "monitor", f"automatic rollback: {found.reason}", revision)
        elif found.action == RAMP:
            state = ramp(registry, "monitor", found.reason, params, revision)
        elif judged["mode"] in (SHADOW, CANARY):  # why a running challenger did not move today
            audit(
                registry.storage,
                registry.model,
                "deployment_held",
                actor="monitor",
                reason=found.reason,
                revision=revision,
                version=judged.get("challenger"),
            )
    except DeploymentMoved as moved:
        audit(
            registry.storage,
            registry.model,
            "deployment_move_refused",
            actor="monitor",
            reason=f"{found.action}: {found.reason}; refused: {moved}",
            revision=revision,
            found_revision=moved.found,
            version=judged.get("challenger"),
        )
        raise
    return found, state


def _state_at(state: dict, revision: int) -> dict:
    """The deployment as it stood at `revision`, from the record's history (the fields a verdict reads);
    a revision older than the history kept is judged as no challenger running."""
    for step in state.get("history", []):
        if step["revision"] == revision:
            keys = ("mode", "champion", "challenger", "share")
            return {**{k: step.get(k) for k in keys}, "model": state["model"], "revision": revision}
    return {
        "model": state["model"],
        "mode": "unknown",
        "champion": None,
        "challenger": None,
        "share": 0,
        "revision": revision,
    }
