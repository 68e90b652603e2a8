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
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    registry.set_alias(CHAMPION, 1, "alice", "no-op: already there", expected=1)
    registry.set_alias(CHAMPION, 2, "bob", "better on every slice", expected=1)
    assert registry.get(CHAMPION)["version"] == 2
    moves = [e for e in registry.audit_log() if e["event"] == "alias_moved"]
    assert [(e["version"], e["previous_version"], e["actor"]) for e in moves] == [
        (1, None, "alice"),
        (2, 1, "bob"),
    ]
    assert [e["event"] for e in registry.audit_log()].count("version_registered") == 2


def test_a_move_whose_swap_never_happened_is_not_in_the_log(registry, storage):
    _register(registry)
    _register(registry, key="k2", model=b"v2")
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    # a mover that wrote its event and died before swapping the alias (or lost the swap)
    event = {"event": "alias_moved", "id": "20261116T000000000000Z-dead", "alias": CHAMPION, "version": 2}
    storage.put_text("registry/fraud/audit/20261116T000000000000Z-dead.json", json.dumps(event))
    assert [e["version"] for e in registry.audit_log() if e["event"] == "alias_moved"] == [1]
    assert [e["id"] for e in registry.orphan_events()] == ["20261116T000000000000Z-dead"]
    assert registry.alias(CHAMPION)["version"] == 1


def test_a_run_claimed_by_a_process_that_died_is_finished_by_its_rerun(registry, storage):
    # the claim was written, then the process died before writing the version record
    storage.put_text("registry/fraud/runs/k1.json", json.dumps({"idempotency_key": "k1", "version": 1}))
    assert registry.find("k1") is None and registry.versions() == []
    record, created = _register(registry)
    assert created and record["version"] == 1 and registry.find("k1") == record


def test_a_claimed_number_taken_by_another_run_moves_the_claim_on(registry, storage):
    storage.put_text("registry/fraud/runs/k1.json", json.dumps({"idempotency_key": "k1", "version": 1}))
    other, _ = _register(registry, key="k2", model=b"another run")  # claims and takes number 1 as well
    record, created = _register(registry)
    assert (other["version"], record["version"], created) == (1, 2, True)
    assert json.loads(storage.get_text("registry/fraud/runs/k1.json"))["version"] == 2
    assert [r["idempotency_key"] for r in registry.versions()] == ["k2", "k1"]


def test_verify_names_each_file_that_does_not_match_its_checksum(registry, storage):
    record, _ = _register(registry)
    assert registry.verify(1) == {}
    storage.put_bytes(record["files"]["model.ubj"]["key"], b"evil")
    storage.delete(record["files"]["dvc.lock"]["key"])
    problems = registry.verify(1)
    assert set(problems) == {"model.ubj", "dvc.lock"}
    assert problems["dvc.lock"].startswith("missing: ") and "recorded" in problems["model.ubj"]


def test_a_registry_copied_to_another_root_reads_back(registry, storage, tmp_path):
    import shutil

    from retrainer.storage import open_storage

    _register(registry)
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    shutil.copytree(storage.root, tmp_path / "elsewhere")
    copied = Registry(open_storage(tmp_path / "elsewhere"), "fraud")
    assert copied.read_file(CHAMPION, "model.ubj") == b"model-bytes" and copied.verify(1) == {}
    old_uri = storage.uri(record_key := copied.get(1)["files"]["model.ubj"]["key"])
    assert copied.storage.key_of(old_uri) == record_key  # a URI of the old root resolves to the key


def test_unknown_versions_and_aliases_are_named(registry):
    with pytest.raises(VersionNotFound, match="'champion'"):
        registry.get(CHAMPION)
    with pytest.raises(VersionNotFound, match="version 7"):
        registry.set_alias(CHAMPION, 7, "x", "y", expected=None)
