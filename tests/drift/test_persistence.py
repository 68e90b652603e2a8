"""Persistence: one drifted run does not confirm drift; `consecutive_runs` drifted runs in a row do."""

from __future__ import annotations

import pytest

from retrainer.drift import confirm, drift_check
from tests.drift.generator import make_frame


def _run(drifted: bool, features=("a",), run=None) -> dict:
    return {"run": run, "drifted": drifted, "features": list(features) if drifted else []}


def test_a_single_drifted_run_does_not_confirm():
    result = confirm([_run(False), _run(False)], _run(True), consecutive_runs=3)
    assert result["streak"] == 1 and not result["confirmed"]


def test_n_consecutive_drifted_runs_confirm():
    history = [_run(False, run="d1"), _run(True, ("a", "b"), "d2"), _run(True, ("a",), "d3")]
    result = confirm(history, _run(True, ("a", "c"), "d4"), consecutive_runs=3)
    assert result == {
        "required": 3,
        "streak": 3,
        "confirmed": True,
        "runs": ["d2", "d3", "d4"],
        "persistent_features": ["a"],
    }


def test_a_run_without_drift_breaks_the_streak():
    history = [_run(True), _run(True), _run(False)]
    assert not confirm(history, _run(True), consecutive_runs=2)["confirmed"]
    assert confirm(history[:2], _run(True), consecutive_runs=3)["confirmed"]


def test_consecutive_runs_must_be_positive():
    with pytest.raises(ValueError, match="consecutive_runs"):
        confirm([], _run(True), consecutive_runs=0)


def test_drift_check_confirms_only_on_the_nth_drifted_run(profile):
    shifted = {"num_07": 1.0}
    history, verdicts = [], []
    for day in range(3):
        report = drift_check(profile, make_frame(20_000, seed=60 + day, shift=shifted), history=history)
        verdicts.append((report["drifted"], report["confirmed"]))
        history.append(report["summary"])
    assert verdicts == [(True, False), (True, False), (True, True)]
    assert history[0]["features"] == ["num_07"]
