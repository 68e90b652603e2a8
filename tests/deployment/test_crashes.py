"""A deployment move killed at each of its writes leaves the record, the champion aliases and the audit log
agreeing once anything reads or moves the deployment again: the same command rerun, `deploy status`, or
the next move. The record is the move; its audit event and the aliases follow it.

`deploy promote` runs as a real process SIGKILLed by the storage fault hook (`retrainer.storage.faults`);
every other move (shadow, canary, ramp, rollback, the scoring run's automatic ones) is cut in-process at
each write by the same hook raising an exception that no `except Exception` catches.
"""

from __future__ import annotations

import os
import sys

import pytest

from retrainer.deployment import actions
from retrainer.deployment.state import read, settle
from retrainer.registry.aliases import CHAMPION, PREVIOUS_CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import faults
from tests import processes
from tests.conftest import PROJECT_DIR
from tests.deploy_helpers import register, three_versions

MODEL = "fraud-xgb"
PROMOTE_WRITES = 6  # record, its event, champion alias event + file, previous_champion alias event + file


@pytest.fixture
def registry(storage, params):
    return three_versions(storage, params, MODEL)


def assert_agree(registry: Registry) -> dict:
    """The record, both aliases and the audit log tell one story: every revision's move audited exactly
    once, in order, the last one the record's state, the aliases at the record's versions."""
    state = read(registry)[0]
    moves = [e for e in registry.audit_log() if "from_revision" in e]
    assert [e["revision"] for e in moves] == list(range(1, state["revision"] + 1)), moves
    if moves:
        last = moves[-1]
        assert (last["mode"], last["champion"], last["challenger"]) == (
            state["mode"],
            state["champion"],
            state["challenger"],
        )
    assert registry.alias(CHAMPION)["version"] == state["champion"]
    if state["previous_champion"] is not None:
        assert registry.alias(PREVIOUS_CHAMPION)["version"] == state["previous_champion"]
    return state


# --- deploy promote, SIGKILLed as a process -------------------------------------------------------------


def _cli(var, *argv: str, kill_after: int | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETRAINER_", "AIRFLOW"))}
    env["RETRAINER_VAR_DIR"] = str(var)
    if kill_after:
        env.update(RETRAINER_FAULT_KEYS=f"registry/{MODEL}/*", RETRAINER_FAULT_AFTER_WRITES=str(kill_after))
    command = [sys.executable, "-m", "retrainer", *argv, "--model", MODEL]
    return processes.run(command, env, cwd=PROJECT_DIR, timeout=300)


PROMOTE = ("deploy", "promote", "3", "--reason", "blue-green", "--by", "alice")


@pytest.mark.parametrize("then", ["rerun", "status"])
@pytest.mark.parametrize("kill_after", range(1, PROMOTE_WRITES + 1))
def test_deploy_promote_killed_at_each_write_agrees_after_a_rerun_or_status(
    registry, var_dir, kill_after, then
):
    actions.promote(registry, 2, "setup", "a champion with a previous one")  # revision 1: v2, previous v1
    killed = _cli(var_dir, *PROMOTE, kill_after=kill_after)
    assert killed.returncode == -9, f"expected SIGKILL, got {killed.returncode}\n{killed.stderr[-2000:]}"
    assert read(registry)[0]["revision"] == 2  # the record is the first write: the move was made

    after = _cli(var_dir, *PROMOTE) if then == "rerun" else _cli(var_dir, "deploy", "status")
    whole = kill_after == PROMOTE_WRITES  # killed after its last write: nothing was left to finish
    if then == "rerun" and whole:
        assert after.returncode == 1 and "already the champion" in after.stderr
    else:
        assert after.returncode == 0, after.stderr[-2000:]
        assert ("finished the interrupted move" in after.stderr) == (then == "status" and not whole)
    state = assert_agree(registry)
    assert (state["champion"], state["previous_champion"], state["revision"]) == (3, 2, 2)
    promoted = [e for e in registry.audit_log() if e["event"] == "deployment_promoted"]
    assert [(e["actor"], e["version"]) for e in promoted] == [("setup", 2), ("alice", 3)]


# --- every other move, cut in-process at each write -----------------------------------------------------


class Killed(BaseException):
    """The process dying mid-move: not an Exception, so no handler of the code under test catches it."""


@pytest.fixture
def cut(monkeypatch):
    """cut(n): the n-th write to the registry from now on raises Killed (0: no cut); returns a counter."""
    seen = {"writes": 0, "at": 0}

    def after_write(key: str) -> None:
        if not key.startswith(f"registry/{MODEL}/"):
            return
        seen["writes"] += 1
        if seen["writes"] == seen["at"]:
            raise Killed(key)

    monkeypatch.setattr(faults, "after_write", after_write)

    def arm(at: int) -> dict:
        seen.update(writes=0, at=at)
        return seen

    return arm


def _canary(registry, params):
    actions.start_canary(registry, 2, "setup", "canary", params)


def _shadow(registry, params):
    actions.start_shadow(registry, 2, "setup", "shadow")


def _blue_green(registry, params):
    actions.promote(registry, 2, "setup", "blue-green")


def _breach(revision: int) -> list[dict]:
    return [
        {
            "day": "2026-11-10",
            "deployment_revision": revision,
            "challenger": 2,
            "alert_rate_ratio": 9.0,
            "challenger_alert_rate": 0.9,
            "champion_alert_rate": 0.1,
        }
    ]


def _good_days(revision: int) -> list[dict]:
    """Two scored days of a canary within every bound (enough to ramp: `min_days_per_step` is 2)."""
    return [
        {
            "day": day,
            "deployment_revision": revision,
            "challenger": 2,
            "alert_rate_ratio": 1.0,
            "challenger_alert_rate": 0.05,
            "champion_alert_rate": 0.05,
        }
        for day in ("2026-11-10", "2026-11-11")
    ]


# (name, the state set up before, the move as a function of (registry, params))
MOVES = [
    ("promote", None, lambda r, p: actions.promote(r, 3, "alice", "go")),
    ("shadow", None, lambda r, p: actions.start_shadow(r, 2, "alice", "watch")),
    ("canary", _blue_green, lambda r, p: actions.start_canary(r, 3, "alice", "try", p)),
    ("ramp", _canary, lambda r, p: actions.ramp(r, "alice", "good days", p)),
    ("rollback of a canary", _canary, lambda r, p: actions.rollback(r, "alice", "alerts doubled")),
    ("rollback of blue-green", _blue_green, lambda r, p: actions.rollback(r, "alice", "back")),
    ("rollback of a shadow", _shadow, lambda r, p: actions.rollback(r, "alice", "enough")),
    (
        "the scoring run's automatic rollback",
        _canary,
        lambda r, p: actions.after_scored_day(r, _breach(1), p, 1),
    ),
    (
        "the scoring run's automatic ramp",
        _canary,
        lambda r, p: actions.after_scored_day(r, _good_days(1), p, 1),
    ),
]


@pytest.mark.parametrize("then", ["rerun", "status", "next move"])
@pytest.mark.parametrize("name,before,make", MOVES, ids=[m[0] for m in MOVES])
def test_every_move_cut_at_each_write_is_finished_by_whoever_comes_next(
    registry, params, cut, name, before, make, then
):
    _cut_at_each_write(registry, params, cut, name, before, make, then)


def test_on_s3_every_move_cut_at_each_write_is_finished_by_the_next_status(s3_env, params, cut):
    from retrainer.storage import open_storage

    registry = Registry(open_storage(f"s3://{s3_env}/root"), MODEL)
    for name, before, make in MOVES:
        _cut_at_each_write(registry, params, cut, name, before, make, "status")


def _fresh(registry: Registry, params: dict, before) -> None:
    """An empty registry of three versions, v1 champion, then the state `before` sets up."""
    registry.storage.delete_prefix(f"registry/{MODEL}")
    for n in range(3):
        register(registry, params, f"model {n}".encode(), alias=CHAMPION if n == 0 else None)
    if before:
        before(registry, params)


def _cut_at_each_write(registry, params, cut, name, before, make, then) -> None:
    """Run the move `make` whole once to count its writes, then once cut after each of them, followed by
    `then` (the same move again, settle as `deploy status` does, or another move); everything agrees."""
    cut(0)
    _fresh(registry, params, before)
    start = read(registry)[0]["revision"]
    counter = cut(0)
    make(registry, params)
    writes = counter["writes"]
    assert writes >= 2, f"{name}: {writes} writes"
    whole = assert_agree(registry)
    for at in range(1, writes + 1):
        cut(0)
        _fresh(registry, params, before)
        assert read(registry)[0]["revision"] == start
        cut(at)
        with pytest.raises(Killed):
            make(registry, params)
        cut(0)
        if then == "rerun" and at < writes:  # after its last write the move was whole: nothing to rerun
            make(registry, params)  # the same move again: it finishes the interrupted one
        elif then == "status":
            settle(registry)
        elif then == "next move":
            actions.promote(registry, 1 if read(registry)[0]["champion"] == 3 else 3, "bob", "next")
        state = assert_agree(registry)
        if then != "next move":
            assert (state["mode"], state["champion"], state["revision"]) == (
                whole["mode"],
                whole["champion"],
                start + 1,
            ), f"{name} cut after write {at}"


def test_evaluation_and_the_label_check_judge_the_records_champion_while_the_alias_lags(storage, params, cut):
    """Scoring follows the record; so do evaluate, the label check and the drift monitor, so all of them
    judge the model in production even before the interrupted move is finished."""
    from datetime import date

    from retrainer.evaluation.evaluate import champion_on
    from retrainer.evaluation.label_signal import screen_matured_batches
    from retrainer.synthetic.generator import GeneratorConfig, generate_day
    from tests.deploy_helpers import train_model

    registry = Registry(storage, MODEL)
    register(registry, params, train_model(params, seed=1), alias=CHAMPION)
    register(registry, params, train_model(params, seed=2))
    cut(1)
    with pytest.raises(Killed):  # the record moved, nothing else did
        actions.promote(registry, 2, "alice", "blue-green")
    cut(0)
    assert (read(registry)[0]["champion"], registry.alias(CHAMPION)["version"]) == (2, 1)
    holdout = generate_day(date(2026, 11, 1), 3, GeneratorConfig(rows_per_day=200))
    assert champion_on(registry, holdout, lambda: holdout, params).version == 2
    assert screen_matured_batches(storage, params, "2026-11-16T00:00:00+00:00")["champion_version"] == 2
    assert settle(registry)[1]["event"] == "deployment_promoted"
    assert_agree(registry)
