import json

import pytest

from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry, VersionNotFound
from retrainer.storage import ChecksumMismatch


@pytest.fixture
def registry(storage):
    return Registry(storage, "fraud")


def _register(registry, key="k1", model=b"model-bytes"):
    return registry.register(
        {"model.ubj": model, "dvc.lock": b"lock"}, {"data_hash": "abc.dir"}, key, actor="test"
    )


def test_versions_are_numbered_and_keep_their_files_with_checksums(registry):
    first, created = _register(registry)
    second, _ = _register(registry, key="k2", model=b"other")
    assert created and (first["version"], second["version"]) == (1, 2)
    assert registry.read_file(1, "model.ubj") == b"model-bytes"
    assert registry.get(2)["files"]["model.ubj"]["sha256"] != first["files"]["model.ubj"]["sha256"]
    assert registry.get(1)["data_hash"] == "abc.dir"


def test_same_idempotency_key_returns_the_existing_version(registry):
    first, _ = _register(registry)
    again, created = _register(registry, model=b"a retrained, slightly different model")
    assert not created and again == first
    assert len(registry.versions()) == 1


def test_a_taken_version_number_is_never_overwritten(registry, storage):
    _register(registry)
    storage.put_text(
        "registry/fraud/versions/000002.json", json.dumps({"version": 2, "by": "another writer"})
    )
    record, _ = _register(registry, key="k3")
    # the allocator saw version 2 and moved on; the other writer's record is intact
    assert record["version"] == 3
    assert json.loads(storage.get_text("registry/fraud/versions/000002.json"))["by"] == "another writer"


def test_tampered_model_bytes_are_refused_by_name(registry, storage):
    record, _ = _register(registry)
    storage.put_bytes(record["files"]["model.ubj"]["key"], b"evil")
    with pytest.raises(ChecksumMismatch, match="'model.ubj' of fraud version 1") as caught:
        registry.read_file(1, "model.ubj")
    assert caught.value.expected == record["files"]["model.ubj"]["sha256"]


def test_aliases_move_and_every_move_is_audited(registry):
    _register(registry)
    _register(registry, key="k2", model=b"v2")
    registry.set_alias(CHAMPION, 1, "alice", "first")
    registry.set_alias(CHAMPION, 1, "alice", "no-op: already there")
    registry.set_alias(CHAMPION, 2, "bob", "better on every slice")
    assert registry.get(CHAMPION)["version"] == 2
    moves = [e for e in registry.audit_log() if e["event"] == "alias_moved"]
    assert [(e["version"], e["previous_version"], e["actor"]) for e in moves] == [
        (1, None, "alice"),
        (2, 1, "bob"),
    ]
    assert [e["event"] for e in registry.audit_log()].count("version_registered") == 2


def test_unknown_versions_and_aliases_are_named(registry):
    with pytest.raises(VersionNotFound, match="'champion'"):
        registry.get(CHAMPION)
    with pytest.raises(VersionNotFound, match="version 7"):
        registry.set_alias(CHAMPION, 7, "x", "y")
