"""The registry under concurrent processes, each released at once from a barrier: registering the same run,
registering different runs, and moving `champion` back and forth. On a local root and on S3."""

from __future__ import annotations

import multiprocessing

import pytest

from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.reconcile import settle_aliases
from retrainer.registry.store import AliasMoved, Registry
from retrainer.storage import open_storage

MODEL = "fraud"


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "root")
    return f"s3://{request.getfixturevalue('s3_env')}/registry-test"


def _register(root: str, run: str, barrier) -> tuple[int, bool, str | None]:
    """What the register stage does with the registry: the version, then its alias."""
    registry = Registry(open_storage(root), MODEL)
    barrier.wait(timeout=120)
    record, created = registry.register(
        {"model.ubj": f"model of {run}".encode()}, {"run_key": run}, f"key-{run}", actor=f"writer-{run}"
    )
    return record["version"], created, settle_aliases(registry, record["version"])


def _move_champion(root: str, targets: list[int], barrier) -> int:
    """Move champion to each target in turn, naming the version read; returns how many races were lost."""
    registry, lost = Registry(open_storage(root), MODEL), 0
    barrier.wait(timeout=120)
    for target in targets:
        while True:
            current = registry.alias(CHAMPION)["version"]
            try:
                registry.set_alias(CHAMPION, target, "mover", f"round to v{target}", expected=current)
                break
            except AliasMoved:
                lost += 1
    return lost


def _in_processes(function, argument_lists: list[tuple]) -> list:
    """Run `function` once per argument list, each in its own process, all released together."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(len(argument_lists)) as pool:
        barrier = manager.Barrier(len(argument_lists))
        pending = pool.starmap_async(function, [(*args, barrier) for args in argument_lists])
        return pending.get(timeout=300)


def _assert_chain(history: list[dict]) -> None:
    """Each move replaced exactly the move before it."""
    assert history[0]["previous_version"] is None and history[0]["previous_event"] is None
    for before, after in zip(history, history[1:], strict=False):
        assert after["previous_event"] == before["id"]
        assert after["previous_version"] == before["version"]


def test_five_processes_registering_the_same_run_make_one_version(root):
    registry = Registry(open_storage(root), MODEL)
    for attempt in range(3):  # the race was lost differently on each of three tries before
        results = _in_processes(_register, [(root, f"run-{attempt}")] * 5)
        assert len({version for version, _, _ in results}) == 1, results
        assert sum(created for _, created, _ in results) == 1, results
        assert len(registry.versions()) == attempt + 1
    assert [e["event"] for e in registry.audit_log()].count("version_registered") == 3
    assert registry.alias(CHAMPION)["version"] == 1 and registry.alias(CHALLENGER)["version"] == 3
    for name in (CHAMPION, CHALLENGER):
        _assert_chain(registry.alias_history(name))


def test_ten_processes_registering_ten_runs_make_ten_versions_and_one_champion(root):
    results = _in_processes(_register, [(root, f"run-{i}") for i in range(10)])
    registry = Registry(open_storage(root), MODEL)
    assert sorted(version for version, _, _ in results) == list(range(1, 11))
    assert all(created for _, created, _ in results)
    records = registry.versions()
    assert len(records) == 10 and len({r["idempotency_key"] for r in records}) == 10
    log = registry.audit_log()
    assert [e["event"] for e in log].count("version_registered") == 10
    champions = registry.alias_history(CHAMPION)
    assert len(champions) == 1 and champions[0]["previous_version"] is None  # exactly one first champion
    assert [moved for _, _, moved in results].count(CHAMPION) == 1
    challengers = registry.alias_history(CHALLENGER)
    _assert_chain(challengers)
    # the challenger only ever moved forward, and ends at a version no alias holds a newer one than
    assert [e["version"] for e in challengers] == sorted(e["version"] for e in challengers)
    assert registry.alias(CHALLENGER)["version"] == challengers[-1]["version"]
    assert max(registry.alias(CHALLENGER)["version"], champions[0]["version"]) == 10
    assert not [e for e in log if e["event"] == "alias_moved" and e not in champions + challengers]


def test_two_processes_moving_champion_twenty_rounds_keep_alias_and_log_in_step(root):
    registry = Registry(open_storage(root), MODEL)
    for i in range(41):
        registry.register({"model.ubj": f"m{i}".encode()}, {}, f"key-{i}", actor="test")
    registry.set_alias(CHAMPION, 1, "test", "start", expected=None)
    rounds = 20
    lost = _in_processes(
        _move_champion,
        [(root, list(range(2, 2 + 2 * rounds, 2))), (root, list(range(3, 3 + 2 * rounds, 2)))],
    )
    history = registry.alias_history(CHAMPION)
    assert len(history) == 1 + 2 * rounds  # every move landed once, none overwrote another
    _assert_chain(history)
    assert registry.alias(CHAMPION)["version"] == history[-1]["version"]
    assert registry.alias(CHAMPION)["event"] == history[-1]["id"]
    previous = [e["previous_version"] for e in history]
    assert len(set(previous)) == len(previous)  # no two moves replaced the same version
    moves = [e for e in registry.audit_log() if e["event"] == "alias_moved"]
    assert moves[-1]["version"] == registry.alias(CHAMPION)["version"]
    print(f"2 processes x {rounds} rounds: {sum(lost)} lost races retried, {len(history)} moves logged")


def test_a_stale_expected_version_is_refused_by_name(tmp_path):
    registry = Registry(open_storage(tmp_path), MODEL)
    for i in range(3):
        registry.register({"model.ubj": f"m{i}".encode()}, {}, f"key-{i}", actor="test")
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    registry.set_alias(CHAMPION, 2, "bob", "better", expected=1)
    with pytest.raises(AliasMoved, match="'champion' is v2, not v1 as expected"):
        registry.set_alias(CHAMPION, 3, "carol", "read v1 a while ago", expected=1)
    assert registry.alias(CHAMPION)["version"] == 2
    assert [e["actor"] for e in registry.alias_history(CHAMPION)] == ["alice", "bob"]
