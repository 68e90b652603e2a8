"""The deployment's verbs, as the CLI, the DAGs and the approval call them: start a shadow or canary run,
promote (blue-green), ramp, roll back, and the automatic verdict after each scored day. Each is one
compare-and-swap move of the deployment record (`state.move`) with its audit event."""

from __future__ import annotations

from typing import Any

from retrainer.deployment import transitions
from retrainer.deployment.monitor import RAMP, ROLLBACK, Verdict, verdict
from retrainer.deployment.state import CANARY, SHADOW, audit, move, read
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
        version=version,
    )


def ramp(registry: Registry, actor: str, reason: str, params: dict, expected_revision: int | None = None):
    """The canary's next step; past the last it is promoted (the event says which)."""
    steps = steps_of(params)
    state, _ = read(registry)
    new = transitions.ramp(state, steps)
    event = "canary_ramped" if new["mode"] == CANARY else "canary_promoted"
    return move(
        registry,
        lambda s: transitions.ramp(s, steps),
        actor,
        reason,
        event,
        state["revision"] if expected_revision is None else expected_revision,
        version=state.get("challenger"),
    )


def rollback(registry: Registry, actor: str, reason: str, expected_revision: int | None = None):
    """Drop a shadow or canary challenger, or bring the previous champion back (blue-green)."""
    state, _ = read(registry)
    dropped = state["challenger"] if state["mode"] in (SHADOW, CANARY) else state["champion"]
    return move(
        registry,
        transitions.rollback,
        actor,
        reason,
        "deployment_rolled_back",
        expected_revision,
        version=dropped,
    )


def run_action(registry: Registry, action: str, version: int | None, actor: str, reason: str, params: dict):
    """One of ACTIONS by name (the CLI's and the deploy DAG's entry)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown deployment action {action!r}; known: {', '.join(ACTIONS)}")
    if action in ("promote", "shadow", "canary") and version is None:
        raise ValueError(f"{action} needs a version")
    if action == "promote":
        return promote(registry, version, actor, reason)
    if action == "shadow":
        return start_shadow(registry, version, actor, reason)
    if action == "canary":
        return start_canary(registry, version, actor, reason, params)
    if action == "ramp":
        return ramp(registry, actor, reason, params)
    return rollback(registry, actor, reason)


def after_scored_day(registry: Registry, reports: list[dict], params: dict) -> tuple[Verdict, dict]:
    """Judge the running challenger on its scored days and act: roll back at once on a breach, ramp a
    canary after enough good days, else hold. The move is made against the revision the day was scored
    under, so it never overrides a move made by hand meanwhile. Returns the verdict and the state after."""
    state, _ = read(registry)
    found = verdict(state, reports, params)
    if found.action == ROLLBACK:
        state = rollback(registry, "monitor", f"automatic rollback: {found.reason}", state["revision"])
    elif found.action == RAMP:
        state = ramp(registry, "monitor", found.reason, params, state["revision"])
    elif state["mode"] in (SHADOW, CANARY):  # why a running challenger did not move today
        audit(
            registry.storage,
            registry.model,
            "deployment_held",
            actor="monitor",
            reason=found.reason,
            revision=state["revision"],
            version=state.get("challenger"),
        )
    return found, state
