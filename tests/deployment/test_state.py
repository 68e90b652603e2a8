import multiprocessing

import pytest

from retrainer.deployment import actions
from retrainer.deployment.state import DeploymentMoved, NoChampion, read
from retrainer.registry.aliases import CHAMPION, PREVIOUS_CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from tests.deploy_helpers import register


@pytest.fixture
def registry(storage, params):
    registry = Registry(storage, "fraud-xgb")
    for n in range(6):
        register(registry, params, f"model {n}".encode(), alias=CHAMPION if n == 0 else None)
    return registry


def _moves(registry):
    return [e for e in registry.audit_log() if "from_revision" in e]


def test_without_a_record_the_state_is_the_champion_alias(storage):
    with pytest.raises(NoChampion):
        read(Registry(storage, "fraud-xgb"))


def test_each_move_is_a_new_revision_with_its_audit_event_and_the_aliases_follow(registry, params):
    state, token = read(registry)
    assert (state["champion"], state["revision"], token) == (1, 0, None)
    actions.start_canary(registry, 2, "alice", "try it on 5%", params)
    actions.ramp(registry, "bob", "good week", params)
    state = actions.rollback(registry, "carol", "alert rate doubled")
    assert (state["mode"], state["champion"], state["revision"]) == ("champion", 1, 3)
    moves = _moves(registry)
    assert [(e["event"], e["revision"], e["actor"]) for e in moves] == [
        ("canary_started", 1, "alice"),
        ("canary_ramped", 2, "bob"),
        ("deployment_rolled_back", 3, "carol"),
    ]
    assert moves[-1]["reason"] == "alert rate doubled" and moves[-1]["version"] == 2
    assert [h["revision"] for h in state["history"]] == [1, 2, 3]

    actions.promote(registry, 3, "dave", "blue-green")
    assert registry.alias(CHAMPION)["version"] == 3 and registry.alias(PREVIOUS_CHAMPION)["version"] == 1
    actions.rollback(registry, "erin", "one command back")
    assert registry.alias(CHAMPION)["version"] == 1 and read(registry)[0]["champion"] == 1


def test_a_move_decided_on_an_old_revision_is_refused(registry, params):
    actions.start_shadow(registry, 2, "alice", "watch it", expected_revision=0)
    with pytest.raises(DeploymentMoved):
        actions.promote(registry, 3, "bob", "decided before the shadow started", expected_revision=0)
    assert read(registry)[0]["champion"] == 1


def _promote_until_done(root: str, version: int, barrier) -> int:
    """Promote `version`, re-reading and deciding again whenever another process moved first."""
    registry = Registry(open_storage(root), "fraud-xgb")
    barrier.wait()
    conflicts = 0
    while True:
        state, _ = read(registry)
        try:
            actions.promote(registry, version, f"p{version}", "race", expected_revision=state["revision"])
            return conflicts
        except DeploymentMoved:
            conflicts += 1


def _promote_once(root: str, version: int, barrier) -> str:
    registry = Registry(open_storage(root), "fraud-xgb")
    barrier.wait()
    try:
        actions.promote(registry, version, f"p{version}", "race", expected_revision=0)
        return "won"
    except DeploymentMoved:
        return "refused"


def test_promotions_at_once_leave_one_champion_and_every_move_audited(registry, storage):
    versions = [2, 3, 4, 5, 6]
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Manager().Barrier(len(versions))
    with ctx.Pool(len(versions)) as pool:
        results = pool.starmap(_promote_once, [(storage.root_uri, v, barrier) for v in versions])
    assert sorted(results) == ["refused"] * 4 + ["won"]
    state, _ = read(registry)
    assert state["revision"] == 1 and registry.alias(CHAMPION)["version"] == state["champion"]
    assert len(_moves(registry)) == 1

    # each process retries on a conflict until its own promotion lands: five moves, a gap-free chain
    others = [1, *(v for v in versions if v != state["champion"])]
    barrier = ctx.Manager().Barrier(len(others))
    with ctx.Pool(len(others)) as pool:
        conflicts = pool.starmap(_promote_until_done, [(storage.root_uri, v, barrier) for v in others])
    state, _ = read(registry)
    moves = _moves(registry)
    assert len(moves) == 1 + len(others)
    assert sorted(e["revision"] for e in moves) == list(range(1, len(moves) + 1))
    assert [e["from_revision"] for e in sorted(moves, key=lambda e: e["revision"])] == list(range(len(moves)))
    assert state["revision"] == len(moves)
    assert registry.alias(CHAMPION)["version"] == state["champion"]
    assert state["champion"] == max(moves, key=lambda e: e["revision"])["champion"]
    print("conflicts per process:", conflicts)
