"""The deployment record of a model: which versions score, in which mode, with what share, since when and
set by whom. One JSON object per model (`registry/<model>/deployment.json`), moved only by compare-and-swap;
every move carries a revision number and is written as an audit event, so the moves form a gap-free chain.

The record is the truth about what is in production: scoring, evaluation, the label check and the drift
monitor all read its champion (`champion_version`). A move is one compare-and-swap of the record, whose
new history step names the move's audit event before it is written; the event and the `champion` /
`previous_champion` aliases are derived from the record afterwards. A crash between those writes leaves a
half-done move that `settle` finishes (every later move, `deploy status` and the approval call it): the
event written once under its named id, the aliases moved with their own audit events.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from retrainer.core import clock, layout
from retrainer.core.errors import Rejected
from retrainer.registry import chain
from retrainer.registry.aliases import CHAMPION, PREVIOUS_CHAMPION
from retrainer.registry.store import AliasMoved, Registry
from retrainer.storage import PreconditionFailed, Storage, sha256_bytes

# Modes: one model decides every row; the challenger also scores every row but never decides; a share of
# customers is decided by the challenger. Blue-green is a promotion: the champion moves at once, the
# previous champion stays recorded and one rollback moves it back.
CHAMPION_ONLY, SHADOW, CANARY = "champion", "shadow", "canary"
MODES = (CHAMPION_ONLY, SHADOW, CANARY)
HISTORY_KEPT = 50  # the record keeps its last moves; the audit area keeps every one


class DeploymentError(Rejected):
    """Base class of deployment errors: verdicts on the state, which a retry cannot change."""


class NoChampion(DeploymentError):
    """Nothing is deployed: the model has no champion yet."""


class InvalidMove(DeploymentError, ValueError):
    """The move does not apply to the record as it stands (e.g. ramping when no canary runs)."""


class DeploymentMoved(DeploymentError):
    """Another writer moved the record after it was read: the move was decided on a stale state."""

    def __init__(self, model: str, revision: int, found: int | None = None) -> None:
        now = f"it is at revision {found} now" if found is not None else "another move landed first"
        super().__init__(
            f"the deployment of {model} was decided on revision {revision}, but {now}; nothing was "
            f"changed: read the new state (`retrainer deploy status --model {model}`) and decide again"
        )
        self.revision, self.found = revision, found


def now_text() -> str:
    return clock.now().isoformat(timespec="milliseconds")


def audit(storage: Storage, model: str, event: str, **details: Any) -> dict:
    """Append one event to the registry's audit chain (create-only, never rewritten); returns it.

    Every deployment event (moves, approvals, rejections, time-outs, automatic verdicts) is written here."""
    return chain.append(storage, model, {"event": event, "model": model, "at": now_text(), **details})


def _move_event(storage: Storage, model: str, step: dict, record_sha256: str) -> bool:
    """Write the audit event of a move (a step of the record's history, naming its event's `id` before it
    is written) unless the chain holds it already; True if written. Exactly once, however many writers
    finish the same move: each looks for it again before every attempt to append (`chain.append`'s
    `unless`). The event names the sha256 of the record the move set (`registry verify` checks it)."""
    details = {k: v for k, v in step.items() if k not in ("event", "id")}
    entry = {"event": step["event"], "model": model, "at": step["at"], "move_id": step["id"]}
    entry |= {"from_revision": step["revision"] - 1, **details, "record_sha256": record_sha256}
    written = chain.append(storage, model, entry, unless=lambda last: _logged(storage, model, step, last))
    return written is not None


def _logged(storage: Storage, model: str, step: dict, last: int | None = None) -> bool:
    """Whether the chain holds the event of the move `step`. Moves are serialised by the record and each
    settles the one before it first, so the event of an earlier move is always earlier in the chain: the
    walk back from the end (or from event `last`) stops at the first one."""

    def match(event: dict) -> bool | None:
        if event.get("move_id") == step["id"]:
            return True
        if event.get("move_id") and event.get("revision", 0) < step["revision"]:
            return False
        return None

    return chain.find_back(storage, model, match, last) is not None


def new_event_id() -> str:
    """A new audit event's id: a sortable stamp and a unique suffix, as the registry's events have."""
    return f"{clock.stamp(clock.now())}-{uuid.uuid4().hex[:8]}"


def initial(model: str, champion: int) -> dict:
    """The state of a model whose champion was set before any deployment record existed."""
    return {
        "model": model,
        "mode": CHAMPION_ONLY,
        "champion": champion,
        "challenger": None,
        "share": 0,
        "step": None,
        "previous_champion": None,
        "revision": 0,
        "since": None,
        "set_by": None,
        "reason": "champion alias",
        "history": [],
    }


def read(registry: Registry) -> tuple[dict, str | None]:
    """The model's deployment state and the token of the stored record (None: no record written yet, the
    state derived from the champion alias). Raises NoChampion when nothing is deployed at all."""
    key = layout.registry_deployment_key(registry.model)
    if registry.storage.exists(key):
        raw, token = registry.storage.get_versioned(key)
        return json.loads(raw), token
    alias = registry.alias(CHAMPION)
    if alias is None:
        raise NoChampion(f"{registry.model} has no champion: nothing is deployed")
    return initial(registry.model, alias["version"]), None


def read_or_none(registry: Registry) -> dict | None:
    try:
        return read(registry)[0]
    except NoChampion:
        return None


def move(
    registry: Registry,
    change: Callable[[dict], dict],
    actor: str,
    reason: str,
    event: str | Callable[[dict, dict], str],
    expected_revision: int | None = None,
    **details: Any,
) -> dict:
    """Apply `change` (a pure function of the state, raising InvalidMove) and store the result by
    compare-and-swap; then write the audit event and bring the aliases in line. Returns the new state.

    `event` names the move, or is a function (old state, new state) -> name; a detail given as a
    function of the old state is computed from the state the move was applied to.

    A concurrent move between the read and the write makes this one fail with DeploymentMoved, as does a
    record no longer at `expected_revision` when it is given: a move is never re-applied blindly to a
    state it was not decided on. A half-done last move is finished first (`settle`); when it, or the
    record's last move made from `expected_revision`, is this very move (same actor, reason, action and
    version), its state is returned and nothing new is moved.
    """
    storage, model = registry.storage, registry.model
    settled, finished = settle(registry)  # a move interrupted by a crash is finished before another starts
    last = ((settled or {}).get("history") or [None])[-1]
    # This very move again: rerun after a crash interrupted it (now whole), or retried (a task retried by
    # Airflow) when the record says it was made from the revision the caller names. Not a new move.
    retried = (finished or expected_revision is not None) and last
    if retried and _same_move(last, actor, reason, event, expected_revision, details):
        return settled
    try:
        state, token = read(registry)
    except NoChampion:
        state, token = None, None
    revision = (state or {}).get("revision", 0)
    if expected_revision is not None and revision != expected_revision:
        raise DeploymentMoved(model, expected_revision, revision)
    # the move this one replaces has its event before it is replaced (a writer that died after its record
    # between `settle` above and this read would otherwise leave a gap no later settle looks at)
    _ensure_event(registry, ((state or {}).get("history") or [None])[-1])
    new = change(state)
    if callable(event):
        event = event(state, new)
    details = {k: v(state) if callable(v) else v for k, v in details.items()}
    for field in ("champion", "challenger", "previous_champion"):
        if new.get(field) is not None:
            registry.get(new[field])  # refuse a state naming a version that does not exist
    at = now_text()
    moved_mode = state is None or (new["mode"], new.get("share")) != (state["mode"], state.get("share"))
    step = {
        "event": event,
        "id": new_event_id(),  # the audit event of this move, named before it is written
        "revision": revision + 1,
        "at": at,
        "actor": actor,
        "reason": reason,
        "mode": new["mode"],
        "champion": new["champion"],
        "challenger": new.get("challenger"),
        "share": new.get("share", 0),
        **details,
    }
    new = {
        **new,
        "model": model,
        "revision": revision + 1,
        "since": at if moved_mode or not (state or {}).get("since") else state["since"],
        "set_by": actor,
        "reason": reason,
        "history": [*(state or {}).get("history", []), step][-HISTORY_KEPT:],
    }
    record = json.dumps(new, indent=2).encode()
    try:
        storage.put_if_match(layout.registry_deployment_key(model), record, token)
    except PreconditionFailed:
        found = read_or_none(registry)
        raise DeploymentMoved(model, revision, found and found["revision"]) from None
    # The record is the move; from here on everything is derived from it, and a crash before the end
    # leaves work that `settle` (any later move, `deploy status`) finishes the same way.
    _move_event(storage, model, step, sha256_bytes(record))
    sync_aliases(registry, actor, reason)
    return new


def settle(registry: Registry) -> tuple[dict | None, dict | None]:
    """Finish the record's last move if a crash interrupted it: write its audit event if missing (under
    the id the record names) and bring the `champion` / `previous_champion` aliases in line with the
    record (each alias move audited, by the move's actor with its reason).

    Returns the state (None: nothing deployed) and the move that was finished (None: it was whole)."""
    try:
        state, _ = read(registry)
    except NoChampion:
        return None, None
    last = state["history"][-1] if state.get("history") else None
    if last is None:  # no record yet: the champion alias is the state, nothing to finish
        return state, None
    wrote = _ensure_event(registry, last)
    state, moved = _sync(registry, last["actor"], last["reason"])
    return state, last if wrote or moved else None


def _ensure_event(registry: Registry, step: dict | None) -> bool:
    """Write the audit event of `step` (the last move of the record) if the chain lacks it; True if
    written. The record read here is the one that move wrote (its last step), so its bytes are the
    sha256 the event names."""
    if step is None or "id" not in step:  # moves recorded before they named their event: nothing to check
        return False
    if _logged(registry.storage, registry.model, step):
        return False
    record = registry.storage.get_bytes(layout.registry_deployment_key(registry.model))
    if json.loads(record)["history"][-1].get("id") != step["id"]:  # a later move landed: it settled this one
        return False
    return _move_event(registry.storage, registry.model, step, sha256_bytes(record))


def _same_move(
    step: dict, actor: str, reason: str, event: Any, expected_revision: int | None, details: dict
) -> bool:
    """Whether `step` (the record's last move) is the move now asked for again: same actor, reason, event
    and details (the actions name themselves in `action`, so a ramp is never taken for a rollback), from
    the same revision when one is named."""
    return (
        (step["actor"], step["reason"]) == (actor, reason)
        and (callable(event) or step["event"] == event)
        and all(step.get(k) == v for k, v in details.items() if not callable(v))
        and (expected_revision is None or step["revision"] == expected_revision + 1)
    )


def sync_aliases(registry: Registry, actor: str, reason: str, attempts: int = 20) -> dict | None:
    """Point `champion` and `previous_champion` at what the record says, until the record stays still
    while they are written: a writer that read an older record re-checks and writes again, so when moves
    stop the aliases equal the last record."""
    return _sync(registry, actor, reason, attempts)[0]


def _sync(registry: Registry, actor: str, reason: str, attempts: int = 20) -> tuple[dict | None, bool]:
    """sync_aliases, and whether it moved an alias."""
    moved = False
    for _ in range(attempts):
        try:
            state, token = read(registry)
        except NoChampion:
            return None, moved
        for name, version in ((CHAMPION, state["champion"]), (PREVIOUS_CHAMPION, state["previous_champion"])):
            current = registry.alias(name)
            if version is not None and (current is None or current["version"] != version):
                with contextlib.suppress(AliasMoved):  # another writer moved it: read the record again
                    registry.set_alias(name, version, actor, reason, expected=current and current["version"])
                    moved = True
        if read(registry)[1] == token:
            return state, moved
    raise DeploymentError(f"the deployment of {registry.model} kept moving while its aliases were written")


def champion_version(registry: Registry) -> int | None:
    """The version in production: the deployment record's champion (the champion alias before any record
    exists); None when nothing is deployed. What evaluation, the label check and the monitors judge."""
    state = read_or_none(registry)
    return state and state["champion"]


def versions_scoring(state: dict) -> dict[str, int]:
    """{role: version} of the models that score under `state`: the champion, and a challenger if one runs."""
    roles = {"champion": state["champion"]}
    if state["mode"] in (SHADOW, CANARY) and state.get("challenger") is not None:
        roles["challenger"] = state["challenger"]
    return roles
