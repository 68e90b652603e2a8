"""Persistence: drift is confirmed only when it was seen in this run and the runs just before it, so one
noisy day does not start a retraining."""

from __future__ import annotations

from collections.abc import Sequence


def _drifted(entry: dict) -> bool:
    return entry.get("drifted") is True


def confirm(history: Sequence[dict], current: dict, consecutive_runs: int) -> dict:
    """Whether drift persisted for `consecutive_runs` runs, this one (`current`) included.

    `history` holds the previous runs' summaries, oldest first: small dicts with `drifted` (bool) and
    optionally `run` and `features` (what `drift_check` returns as its `summary`). Only `drifted: True`
    extends the streak; a run without drift, or with insufficient data, breaks it. `persistent_features`
    are the features that drifted in every run of the streak.
    """
    if consecutive_runs < 1:
        raise ValueError(f"consecutive_runs must be at least 1, got {consecutive_runs}")
    streak: list[dict] = []
    for entry in [*history, current][::-1]:
        if not _drifted(entry):
            break
        streak.append(entry)
    streak.reverse()
    persistent = None
    for entry in streak[-consecutive_runs:]:
        features = list(entry.get("features") or [])
        persistent = features if persistent is None else [f for f in persistent if f in features]
    return {
        "required": consecutive_runs,
        "streak": len(streak),
        "confirmed": len(streak) >= consecutive_runs,
        "runs": [entry.get("run") for entry in streak],
        "persistent_features": persistent or [],
    }
