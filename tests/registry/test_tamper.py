"""Hand edits of the registry's state are named by `retrainer registry verify` (exit 1): a version record
edited or removed, an alias file edited or removed, an audit event changed, deleted or inserted, the
deployment record's mode, champion or share edited, the record removed. A clean registry after a run of
moves verifies, and so does one written before the hash chain (pre-chain)."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from retrainer.cli import main
from retrainer.deployment import actions
from retrainer.deployment.state import audit, read
from retrainer.registry import chain, integrity
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import open_storage, sha256_bytes
from tests.deploy_helpers import register

MODEL = "fraud-xgb"
AREA = f"registry/{MODEL}"


@pytest.fixture
def registry(storage, params):
    """Four versions and a run of moves by hand and by the monitor: canary, ramp, rollback, shadow,
    promote, a held day."""
    registry = Registry(storage, MODEL)
    for n in range(4):
        register(registry, params, f"model {n}".encode(), alias=CHAMPION if n == 0 else None)
    actions.start_canary(registry, 2, "alice", "try it on 5%", params)
    actions.ramp(registry, "bob", "good week", params)
    actions.rollback(registry, "carol", "alert rate doubled")
    actions.start_shadow(registry, 3, "dave", "watch it")
    actions.promote(registry, 3, "erin", "better everywhere")
    audit(storage, MODEL, "deployment_held", actor="monitor", reason="quiet day", revision=5, version=None)
    return registry


def _verify(capsys) -> tuple[int, str]:
    code = main(["registry", "verify", "--model", MODEL])
    captured = capsys.readouterr()
    return code, captured.err


def _event_key(storage, **match) -> str:
    """The key of the chained audit event whose fields include `match`."""
    events = chain.load(storage, MODEL).events.values()
    return next(e["key"] for e in events if all(e.get(k) == v for k, v in match.items()))


def _edit_json(storage, key: str, **changes) -> None:
    storage.put_text(key, json.dumps(json.loads(storage.get_text(key)) | changes, indent=2))


def test_a_clean_registry_after_a_run_of_moves_verifies(registry, capsys):
    assert _verify(capsys) == (0, "")
    report = integrity.check(registry)
    assert report.ok and not report.notes
    assert main(["registry", "audit", "--model", MODEL]) == 0


def _version_edited(storage):
    _edit_json(storage, f"{AREA}/versions/000002.json", data_hash="forged.dir")
    return f"{AREA}/versions/000002.json", "edited"


def _version_garbled(storage):
    storage.put_text(f"{AREA}/versions/000003.json", "{not json")
    return f"{AREA}/versions/000003.json", "edited"


def _version_removed(storage):
    storage.delete(f"{AREA}/versions/000004.json")
    return f"{AREA}/versions/000004.json", "removed"


def _alias_edited(storage):
    _edit_json(storage, f"{AREA}/aliases/champion.json", version=4)
    return f"{AREA}/aliases/champion.json", "edited"


def _alias_removed(storage):
    storage.delete(f"{AREA}/aliases/previous_champion.json")
    return f"{AREA}/aliases/previous_champion.json", "removed"


def _event_changed(storage):
    key = _event_key(storage, event="canary_started")
    _edit_json(storage, key, actor="mallory")
    return key, "edited"


def _event_deleted(storage):
    key = _event_key(storage, event="alias_moved", alias=CHAMPION, version=1)
    storage.delete(key)
    return key, "removed"


def _event_inserted(storage):
    key = f"{AREA}/audit/29991231T000000000000Z-beef.json"
    storage.put_text(
        key, json.dumps({"event": "deployment_promoted", "at": "2999-12-31T00:00:00", "version": 4})
    )
    return key, "inserted"


def _event_appended(storage):
    events = chain.load(storage, MODEL).events
    seq = max(events) + 1
    key = f"{AREA}/audit/chain-{seq:09d}.json"
    forged = {"event": "deployment_promoted", "seq": seq, "previous_sha256": "0" * 64, "version": 4}
    storage.put_text(key, json.dumps(forged))
    return key, "put in"


def _deployment_field(field, value):
    def edit(storage):
        _edit_json(storage, f"{AREA}/deployment.json", **{field: value})
        return f"{AREA}/deployment.json", f"{field} {value!r}"

    return edit


def _deployment_removed(storage):
    storage.delete(f"{AREA}/deployment.json")
    return f"{AREA}/deployment.json", "removed"


@pytest.mark.parametrize(
    "tamper",
    [
        _version_edited,
        _version_garbled,
        _version_removed,
        _alias_edited,
        _alias_removed,
        _event_changed,
        _event_deleted,
        _event_inserted,
        _event_appended,
        _deployment_field("mode", "canary"),
        _deployment_field("champion", 4),
        _deployment_field("share", 50),
        _deployment_removed,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_each_hand_edit_is_named_by_verify(registry, storage, capsys, tamper):
    key, what = tamper(storage)
    code, err = _verify(capsys)
    assert code == 1
    named = [line for line in err.splitlines() if key in line]
    assert named and any(what in line for line in named), err


def test_an_alias_or_deployment_record_put_back_by_hand_is_named(registry, storage, params, capsys):
    """A file copied back from an older, genuine state: its own event still matches it, but later moves
    in the chain prove it was moved on."""
    old_alias, old_record = (
        storage.get_bytes(f"{AREA}/{name}") for name in ("aliases/champion.json", "deployment.json")
    )
    actions.rollback(registry, "frank", "back to v1")
    actions.promote(registry, 4, "grace", "v4 then")
    storage.put_bytes(f"{AREA}/aliases/champion.json", old_alias)
    storage.put_bytes(f"{AREA}/deployment.json", old_record)
    code, err = _verify(capsys)
    assert code == 1
    assert f"alias file {AREA}/aliases/champion.json was rewound" in err
    revision = json.loads(old_record)["revision"]
    assert f"deployment record {AREA}/deployment.json is at revision {revision}" in err and "rewound" in err


def test_audit_says_when_a_deleted_event_breaks_the_chain(registry, storage, capsys):
    key = _event_key(storage, event="alias_moved", alias=CHAMPION, version=1)
    storage.delete(key)
    assert main(["registry", "audit", "--model", MODEL]) == 1
    err = capsys.readouterr().err
    assert "audit chain" in err and "broken" in err and key in err


def test_a_registry_written_before_the_chain_verifies_as_pre_chain(storage, capsys):
    """Old layout: stamp-keyed events without `seq`, an alias naming such an event, a version without a
    registration event, a deployment record moved before the chain."""
    record = {"model": MODEL, "version": 1, "created_at": "2026-11-01T00:00:00.000", "files": {}}
    storage.put_text(f"{AREA}/versions/000001.json", json.dumps(record))
    event = {"event": "alias_moved", "id": "20261101T000000000000Z-0ld1", "alias": CHAMPION, "version": 1}
    storage.put_text(
        f"{AREA}/audit/20261101T000000000000Z-0ld1.json", json.dumps(event | {"at": "2026-11-01"})
    )
    alias = {"alias": CHAMPION, "version": 1, "event": event["id"], "set_at": "2026-11-01"}
    storage.put_text(f"{AREA}/aliases/champion.json", json.dumps(alias))
    storage.put_text(f"{AREA}/deployment.json", json.dumps({"model": MODEL, "revision": 1, "champion": 1}))
    code = main(["registry", "verify", "--model", MODEL])
    out = capsys.readouterr().out
    assert code == 0 and out.count("pre-chain") == 4, out

    # moves made after the change extend the old registry with the chain; an edit after them is caught
    registry = Registry(storage, MODEL)
    registry.register({"model.ubj": b"two"}, {"data_hash": "x"}, "k2", actor="test")
    registry.set_alias(CHAMPION, 2, "alice", "newer", expected=1)
    assert integrity.check(registry).ok
    _edit_json(storage, f"{AREA}/aliases/champion.json", version=1)
    assert main(["registry", "verify", "--model", MODEL]) == 1
    assert f"{AREA}/aliases/champion.json" in capsys.readouterr().err


def _append(root: str, writer: int, barrier) -> list[int]:
    storage = open_storage(root)
    barrier.wait(timeout=60)
    return [
        chain.append(storage, MODEL, {"event": "test", "writer": writer, "n": n})["seq"] for n in range(5)
    ]


def test_concurrent_writers_extend_one_gap_free_chain(tmp_path):
    root = str(tmp_path / "root")
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Manager().Barrier(4)
    with ctx.Pool(4) as pool:
        seqs = pool.starmap(_append, [(root, w, barrier) for w in range(4)])
    assert sorted(s for got in seqs for s in got) == list(range(1, 21))
    loaded = chain.load(open_storage(root), MODEL)
    assert not loaded.problems and len(loaded.events) == 20
    storage = open_storage(root)
    for seq in range(2, 21):
        before = storage.get_bytes(f"{AREA}/audit/chain-{seq - 1:09d}.json")
        assert loaded.events[seq]["previous_sha256"] == sha256_bytes(before)


def test_moves_on_s3_are_checked_the_same_way(s3_env, params):
    registry = Registry(open_storage(f"s3://{s3_env}/tamper"), MODEL)
    register(registry, params, b"one", alias=CHAMPION)
    register(registry, params, b"two")
    actions.start_canary(registry, 2, "alice", "try it", params)
    assert integrity.check(registry).ok and read(registry)[0]["share"] == 5
    _edit_json(registry.storage, f"{AREA}/deployment.json", share=100)
    _edit_json(registry.storage, f"{AREA}/versions/000001.json", data_hash="forged.dir")
    problems = integrity.check(registry).problems
    assert any(f"{AREA}/deployment.json" in p and "share 100" in p for p in problems), problems
    assert any(f"{AREA}/versions/000001.json" in p for p in problems), problems
