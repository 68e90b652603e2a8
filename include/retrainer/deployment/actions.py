"""The deployment's verbs, as the CLI, the DAGs and the approval call them: start a shadow or canary run,
promote (blue-green), ramp, roll back, and the automatic verdict after each scored day. Each is one
compare-and-swap move of the deployment record (`state.move`) with its audit event."""

from __future__ import annotations

from typing import Any

from retrainer.deployment import transitions
from retrainer.deployment.state import (
    CANARY,
    SHADOW,
    DeploymentMoved,
    InvalidMove,
    audit,
    move,
    read,
    read_or_none,
)
from retrainer.deployment.verdicts import RAMP, ROLLBACK, Verdict, verdict
from retrainer.registry.store import Registry, VersionNotFound

# The actions of `retrainer deploy` and of the deploy DAG's `action` Param.
ACTIONS = ("promote", "shadow", "canary", "ramp", "rollback")
NEEDS_VERSION = ("promote", "shadow", "canary")  # the actions that name the version they move


class VersionRequired(InvalidMove):
    """promote, shadow or canary without a version: refused at once (a verdict, never retried)."""

    def __init__(self, model: str, action: str, deployed: str, registered: list[int]) -> None:
        super().__init__(
            f"{action} needs a version: set `version` (the deploy form's field; "
            f"`retrainer deploy {action} N`) to one of {model}'s registered versions "
            f"{_listed(registered)}; deployed now: {deployed}. "
            "Nothing was changed"
        )


class UnknownVersion(InvalidMove, LookupError):
    """A version the registry does not hold: refused at once, naming the versions it does hold."""

    def __init__(self, model: str, action: str, version: int, deployed: str, registered: list[int]) -> None:
        super().__init__(
            f"{action} v{version}: {model} has no version {version}; registered: {_listed(registered)}; "
            f"deployed now: {deployed}. Nothing was changed"
        )


def _listed(versions: list[int]) -> str:
    return ", ".join(f"v{v}" for v in versions) if versions else "none yet"


def deployed_now(registry: Registry) -> str:
    """What decides the rows now, in a few plain words: "champion v1, canary v2 at 5 % (revision 4)"."""
    state = read_or_none(registry)
    if state is None:
        return "nothing (no champion yet)"
    text = f"champion v{state['champion']}"
    if state["mode"] == CANARY:
        text += f", canary v{state['challenger']} at {state['share']} %"
    elif state["mode"] == SHADOW:
        text += f", shadow v{state['challenger']}"
    return f"{text} (revision {state['revision']})"


def check_version(registry: Registry, action: str, version: int | None) -> None:
    """Refuse, before any move, an action of NEEDS_VERSION without a version (VersionRequired) or with one
    the registry does not hold (UnknownVersion): both name the registered versions and what is deployed."""
    if action not in NEEDS_VERSION:
        return
    if version is not None:
        try:
            registry.get(version)
            return
        except VersionNotFound:
            pass
    registered = sorted(int(record["version"]) for record in registry.versions())
    if version is None:
        raise VersionRequired(registry.model, action, deployed_now(registry), registered)
    raise UnknownVersion(registry.model, action, version, deployed_now(registry), registered)


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
    check_version(registry, action, version)  # VersionRequired / UnknownVersion: verdicts, never retried
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
