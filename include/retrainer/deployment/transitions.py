"""The moves of a deployment, as pure functions from one state to the next (`state.move` stores them).

first_champion  no state yet          -> champion mode with that version
promote         any                   -> champion mode with the version (blue-green: at once; the old
                                         champion is kept as previous_champion)
start_shadow    any, another version  -> shadow: the challenger scores every row, decides none
start_canary    any, another version  -> canary at the first ramp step
ramp            canary                -> the next ramp step; past the last (100 %) it is a promotion
rollback        shadow or canary      -> champion mode, the challenger dropped
                champion mode         -> the previous champion back (blue-green's way back)
"""

from __future__ import annotations

from retrainer.deployment.state import CANARY, CHAMPION_ONLY, SHADOW, InvalidMove


def _base(state: dict | None) -> dict:
    if state is None:
        raise InvalidMove("nothing is deployed yet: the first model becomes champion by registering")
    return {k: v for k, v in state.items() if k not in ("history", "rolled_back")}


def first_champion(state: dict | None, version: int) -> dict:
    if state is not None:
        raise InvalidMove(f"{state['model']} already has champion v{state['champion']}")
    return {
        "mode": CHAMPION_ONLY,
        "champion": version,
        "challenger": None,
        "share": 0,
        "step": None,
        "previous_champion": None,
    }


def promote(state: dict | None, version: int) -> dict:
    new = _base(state)
    if new["champion"] == version:
        raise InvalidMove(f"v{version} is already the champion")
    return new | {
        "mode": CHAMPION_ONLY,
        "champion": version,
        "previous_champion": new["champion"],
        "challenger": None,
        "share": 0,
        "step": None,
    }


def _challenge(state: dict | None, version: int) -> dict:
    new = _base(state)
    if new["champion"] == version:
        raise InvalidMove(f"v{version} is the champion: it cannot challenge itself")
    return new


def start_shadow(state: dict | None, version: int) -> dict:
    return _challenge(state, version) | {"mode": SHADOW, "challenger": version, "share": 0, "step": None}


def start_canary(state: dict | None, version: int, steps: list[int]) -> dict:
    _check_steps(steps)
    return _challenge(state, version) | {"mode": CANARY, "challenger": version, "share": steps[0], "step": 0}


def ramp(state: dict | None, steps: list[int]) -> dict:
    """The next step of the canary; past the last step (100 %) the challenger becomes champion."""
    _check_steps(steps)
    new = _base(state)
    if new["mode"] != CANARY:
        raise InvalidMove(f"no canary runs ({new['mode']} mode): nothing to ramp")
    step = (new.get("step") or 0) + 1
    if step >= len(steps) or steps[step] >= 100:
        return promote(state, new["challenger"])
    return new | {"step": step, "share": steps[step]}


def rollback(state: dict | None) -> dict:
    """Drop the challenger of a shadow or canary run; in champion mode, bring the previous champion back."""
    new = _base(state)
    if new["mode"] in (SHADOW, CANARY):
        return new | {
            "mode": CHAMPION_ONLY,
            "challenger": None,
            "share": 0,
            "step": None,
            "rolled_back": new["challenger"],
        }
    if new.get("previous_champion") is None:
        raise InvalidMove(f"v{new['champion']} is the only champion there has been: nothing to roll back to")
    return new | {
        "champion": new["previous_champion"],
        "previous_champion": new["champion"],
        "rolled_back": new["champion"],
    }


def _check_steps(steps: list[int]) -> None:
    if not steps or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(steps):
        raise InvalidMove(f"canary steps must rise within (0, 100] percent, got {steps}")
