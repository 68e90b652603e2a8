import pytest

from retrainer.storage import KeyExists, KeyNotFound, LocalStorage, StorageError, open_storage


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.e2e)])
def any_storage(request, tmp_path):
    if request.param == "local":
        return open_storage(tmp_path / "root")
    bucket = request.getfixturevalue("s3_env")
    return open_storage(f"s3://{bucket}/some/prefix")


def test_written_bytes_read_back_under_their_uri(any_storage):
    uri = any_storage.put_bytes("a/b/c.bin", b"payload")
    assert uri == any_storage.uri("a/b/c.bin")
    assert any_storage.key_of(uri) == "a/b/c.bin"
    assert any_storage.get_bytes("a/b/c.bin") == b"payload"
    assert any_storage.exists("a/b/c.bin")


def test_overwrite_replaces_but_create_only_refuses(any_storage):
    any_storage.put_text("k.json", "1")
    any_storage.put_text("k.json", "2")
    assert any_storage.get_text("k.json") == "2"
    with pytest.raises(KeyExists):
        any_storage.put_text("k.json", "3", if_absent=True)
    assert any_storage.get_text("k.json") == "2"


def test_missing_key_names_the_uri(any_storage):
    with pytest.raises(KeyNotFound, match="nope/x"):
        any_storage.get_bytes("nope/x")
    assert not any_storage.exists("nope/x")


def test_list_is_folder_scoped_and_sorted(any_storage):
    for key in ("runs/a/2.txt", "runs/a/1.txt", "runs/ab/3.txt", "other/4.txt"):
        any_storage.put_text(key, key)
    assert any_storage.list("runs/a") == ["runs/a/1.txt", "runs/a/2.txt"]
    assert any_storage.list("runs/") == ["runs/a/1.txt", "runs/a/2.txt", "runs/ab/3.txt"]
    assert any_storage.list("missing") == []


def test_move_prefix_leaves_nothing_behind(any_storage):
    any_storage.put_text("batches/x/batch.parquet", "data")
    any_storage.put_text("batches/x/manifest.json", "{}")
    moved = any_storage.move_prefix("batches/x", "quarantine/x")
    assert moved == ["quarantine/x/batch.parquet", "quarantine/x/manifest.json"]
    assert any_storage.list("batches/x") == []
    assert any_storage.get_text("quarantine/x/batch.parquet") == "data"


def test_local_storage_refuses_keys_outside_its_root(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(StorageError, match="outside the storage root"):
        storage.put_text("../escape.txt", "x")


def test_local_write_leaves_no_temporary_files(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.put_bytes("d/f", b"x")
    storage.put_file("d/g", tmp_path / "d" / "f")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["f", "g"]


def test_unknown_scheme_is_refused_by_name():
    with pytest.raises(StorageError, match="gs"):
        open_storage("gs://bucket/x")


def test_compare_and_swap_writes_only_over_the_version_it_read(any_storage):
    from retrainer.storage import PreconditionFailed

    first = any_storage.put_if_match("alias.json", b"v1", None)  # create: only while absent
    with pytest.raises(PreconditionFailed):
        any_storage.put_if_match("alias.json", b"v1 again", None)
    data, token = any_storage.get_versioned("alias.json")
    assert (data, token) == (b"v1", first)
    second = any_storage.put_if_match("alias.json", b"v2", token)
    with pytest.raises(PreconditionFailed, match="another writer moved it first"):
        any_storage.put_if_match("alias.json", b"stale", token)  # read v1, but v2 is there now
    assert any_storage.get_versioned("alias.json") == (b"v2", second)
    assert any_storage.list("") == ["alias.json"]  # no lock or staging file shows


def _increment(root: str, rounds: int) -> int:
    """Read-modify-write a counter `rounds` times with compare-and-swap; returns how often it lost a race."""
    from retrainer.storage import PreconditionFailed, open_storage

    storage, lost = open_storage(root), 0
    for _ in range(rounds):
        while True:
            data, token = storage.get_versioned("counter")
            try:
                storage.put_if_match("counter", str(int(data) + 1).encode(), token)
                break
            except PreconditionFailed:
                lost += 1
    return lost


def test_concurrent_compare_and_swap_loses_no_update(any_storage):
    import multiprocessing

    any_storage.put_bytes("counter", b"0")
    processes, rounds = 4, 25
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        lost = pool.starmap(_increment, [(any_storage.root_uri, rounds)] * processes)
    assert int(any_storage.get_text("counter")) == processes * rounds
    print(f"{processes} writers x {rounds} increments: {sum(lost)} lost races retried, no update lost")


def test_files_stream_in_parts_and_read_back_whole(any_storage, tmp_path, monkeypatch):
    import hashlib
    import os

    from retrainer.storage import s3

    monkeypatch.setattr(s3, "PART_BYTES", 5 * 2**20)  # S3's smallest part, so a 12 MB file moves in 3 parts
    big = tmp_path / "batch.parquet"
    big.write_bytes(os.urandom(12 * 2**20))
    any_storage.put_file("runs/m/r/batch.parquet", big)
    back = any_storage.download("runs/m/r/batch.parquet", tmp_path / "back" / "batch.parquet")
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
    if isinstance(any_storage, s3.S3Storage):  # a multipart upload's ETag says how many parts it had
        head = any_storage.client.head_object(
            Bucket=any_storage.bucket, Key=any_storage._object_key("runs/m/r/batch.parquet")
        )
        assert head["ETag"].strip('"').endswith("-3")
    with pytest.raises(KeyNotFound):
        any_storage.download("runs/m/r/missing.parquet", tmp_path / "missing")


def test_a_verified_download_keeps_only_the_bytes_recorded(any_storage, tmp_path):
    from retrainer.core.errors import Rejected
    from retrainer.storage import ChecksumMismatch, sha256_bytes

    any_storage.put_bytes("runs/m/r/model.json", b"the bytes judged")
    recorded = sha256_bytes(b"the bytes judged")
    path = any_storage.download_verified("runs/m/r/model.json", tmp_path / "a" / "model.json", recorded)
    assert path.read_bytes() == b"the bytes judged"

    any_storage.put_bytes("runs/m/r/model.json", b"bytes written after")
    with pytest.raises(ChecksumMismatch, match="the model") as caught:
        any_storage.download_verified(
            "runs/m/r/model.json", tmp_path / "b" / "model.json", recorded, "the model"
        )
    assert caught.value.actual == sha256_bytes(b"bytes written after")
    assert isinstance(caught.value, Rejected)  # a verdict: not retried
    assert not (tmp_path / "b" / "model.json").exists()  # nothing unchecked is left to read
