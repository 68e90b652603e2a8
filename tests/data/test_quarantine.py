"""`retrainer quarantine list | show | release`: look at a rejected batch, fix it, release it."""

import io
import json
from datetime import date

import pandas as pd
import pytest

from retrainer.cli import main
from retrainer.core.errors import Rejected
from retrainer.data import quarantine
from retrainer.data.release import release
from retrainer.sources.partitions import partition_key
from retrainer.tasks import retrain as tasks
from tests.conftest import AS_OF, generate_source, week

RUN = "2026-11-16T000000Z"
MODEL = "fraud-xgb"
BAD_DAY = date(2026, 11, 12)


def _reject(source, kind="negative_amount"):
    generate_source(source, days=7, rows_per_day=300, broken=kind, broken_days=(BAD_DAY,))
    with pytest.raises(Rejected):
        tasks.validate(tasks.extract(tasks.Run(*week(AS_OF)))["manifest_uri"])


def _cli(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_list_and_show_name_the_failed_expectation(source, storage, capsys):
    _reject(source)
    code, out = _cli(capsys, "quarantine", "list")
    assert code == 0 and RUN in out and "expect_column_values_to_be_between:amount" in out
    code, out = _cli(capsys, "quarantine", "list", "--json")
    assert [e["run_key"] for e in json.loads(out)] == [RUN]
    code, out = _cli(capsys, "quarantine", "show", "2026-11-16")  # a logical date works as well
    assert code == 0 and "expect_column_values_to_be_between on column 'amount'" in out
    assert "Data Docs: file://" in out
    code, out = _cli(capsys, "quarantine", "show", RUN, "--json")
    reason = json.loads(out)
    failure = next(f for f in reason["failures"] if f["column"] == "amount")
    assert failure["expected"]["min_value"] == 0 and failure["unexpected_count"] == 10


def test_release_of_an_unfixed_batch_is_refused_and_it_stays_in_quarantine(source, storage, capsys):
    _reject(source)
    code, out = _cli(capsys, "quarantine", "release", RUN, "--reason", "looks fine to me", "--by", "ana")
    assert code == 1 and "ReleaseRefused" in out and "amount" in out
    assert storage.list(f"batches/{MODEL}/{RUN}") == []
    assert storage.exists(f"quarantine/{MODEL}/{RUN}/batch.parquet")
    assert [e["action"] for e in quarantine.events(storage, MODEL)][-1] == "release_refused"


def test_a_fixed_batch_is_released_validated_and_kept_by_a_rerun(source, storage, capsys):
    _reject(source)
    key = f"quarantine/{MODEL}/{RUN}/batch.parquet"
    frame = pd.read_parquet(io.BytesIO(storage.get_bytes(key)))
    storage.put_bytes(key, frame.assign(amount=frame["amount"].abs()).to_parquet(index=False))

    code, out = _cli(
        capsys, "quarantine", "release", RUN, "--reason", "sign flipped upstream; fixed", "--by", "ana"
    )
    assert code == 0, out
    assert quarantine.list_quarantined(storage, MODEL) == []
    assert storage.exists(f"batches/{MODEL}/{RUN}/validation.json")
    assert [e["action"] for e in quarantine.events(storage, MODEL)] == ["quarantined", "released"]
    released = [e for e in quarantine.events(storage, MODEL) if e["action"] == "released"]
    assert released[0]["by"] == "ana" and released[0]["why"] == "sign flipped upstream; fixed"
    assert released[0]["previous_failures"] and released[0]["replaced_sha256"]
    # the old reason is kept with the event, not lost
    assert any(k.endswith("-released/reason.json") for k in storage.list(f"quarantine-events/{MODEL}"))

    # a rerun of the date keeps the released batch instead of extracting the broken source again
    manifest = tasks.extract(tasks.Run(*week(AS_OF)))
    assert manifest["released"]["by"] == "ana"
    assert tasks.validate(manifest["manifest_uri"])["success"]


def test_unreadable_source_is_released_only_once_the_source_is_fixed(source, storage, capsys):
    generate_source(source, days=7, rows_per_day=300)
    good = source.get_bytes(partition_key(BAD_DAY))
    source.put_bytes(partition_key(BAD_DAY), good[: len(good) // 3])
    code, out = _cli(capsys, "task", "extract", "--as-of", AS_OF)
    assert code == 1 and "UnreadableSourceFile" in out and "date=2026-11-12" in out
    assert "Traceback" not in out
    code, out = _cli(capsys, "quarantine", "show", RUN)
    assert "expect_source_file_to_be_readable_parquet" in out

    code, out = _cli(capsys, "quarantine", "release", RUN, "--reason", "re-sent")
    assert code == 1 and "still unreadable" in out
    source.put_bytes(partition_key(BAD_DAY), good)
    code, out = _cli(capsys, "quarantine", "release", RUN, "--reason", "the partner re-sent the file")
    assert code == 0, out
    assert quarantine.list_quarantined(storage, MODEL) == []
    # the quarantined copy of the bad file moved to the event, byte for byte
    copies = [k for k in storage.list(f"quarantine-events/{MODEL}") if k.endswith("transactions.parquet")]
    assert [storage.get_bytes(k) for k in copies] == [good[: len(good) // 3]]


def test_release_needs_a_reason(source, storage):
    _reject(source)
    with pytest.raises(ValueError, match="reason"):
        release(storage, source, MODEL, RUN, "unused", {}, why=" ")


def test_a_rerun_rejected_again_supersedes_the_entry_and_deletes_nothing(source, storage):
    _reject(source)
    first = quarantine.reason(storage, MODEL, RUN)
    first_batch = storage.get_bytes(f"quarantine/{MODEL}/{RUN}/batch.parquet")
    with pytest.raises(Rejected):
        tasks.validate(tasks.extract(tasks.Run(*week(AS_OF)))["manifest_uri"])
    assert [e["action"] for e in quarantine.events(storage, MODEL)] == [
        "quarantined",
        "superseded",
        "quarantined",
    ]
    [folder] = {
        k.rsplit("/", 1)[0] for k in storage.list(f"quarantine-events/{MODEL}") if "-superseded/" in k
    }
    assert json.loads(storage.get_text(f"{folder}/reason.json")) == first  # the old entry, intact
    assert storage.get_bytes(f"{folder}/batch.parquet") == first_batch
    assert quarantine.reason(storage, MODEL, RUN)["quarantine_key"] == f"quarantine/{MODEL}/{RUN}"
    assert [e["run_key"] for e in quarantine.list_quarantined(storage, MODEL)] == [RUN]


def test_a_move_interrupted_by_a_crash_is_finished_by_the_next_operation(storage):
    src, dst = f"quarantine/{MODEL}/{RUN}", f"quarantine-events/{MODEL}/20261117T000000000000Z-{RUN}-released"
    for name in ("a", "b", "c"):
        storage.put_text(f"{src}/{name}", name)
    pairs = [(f"{src}/{n}", f"{dst}/{n}") for n in ("a", "b", "c")]
    # the journal, then: `a` copied and deleted, `b` copied only, `c` not reached -- then the crash
    storage.put_text(f"{dst}/move.json", json.dumps({"moves": pairs}))
    storage.put_text(f"{dst}/a", "a")
    storage.delete(f"{src}/a")
    storage.put_text(f"{dst}/b", "b")
    assert quarantine.resume_moves(storage, MODEL) == 1
    assert storage.list(src) == []
    assert storage.list(dst) == [f"{dst}/a", f"{dst}/b", f"{dst}/c"]
    assert [storage.get_text(k) for k in storage.list(dst)] == ["a", "b", "c"]
    assert quarantine.resume_moves(storage, MODEL) == 0


def test_a_quarantine_move_killed_mid_way_is_finished_by_a_rerun(source, storage, settings, tmp_path):
    """A real kill -9 between the copies of a supersede, then the date rerun."""
    import os
    import sys

    from tests import processes
    from tests.conftest import PROJECT_DIR

    _reject(source)
    env = {**os.environ, "RETRAINER_FAULT_KEYS": "quarantine-events/*", "RETRAINER_FAULT_AFTER_WRITES": "3"}
    run = f"t.Run(*{week(AS_OF)!r})"
    code = f"from retrainer.tasks import retrain as t\nt.validate(t.extract({run})['manifest_uri'])"
    killed = processes.run([sys.executable, "-c", code], env, cwd=PROJECT_DIR, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert any(k.endswith("/move.json") for k in storage.list(f"quarantine-events/{MODEL}"))
    with pytest.raises(Rejected):
        tasks.validate(tasks.extract(tasks.Run(*week(AS_OF)))["manifest_uri"])
    assert not [k for k in storage.list("") if k.endswith("/move.json")]
    actions = [e["action"] for e in quarantine.events(storage, MODEL)]
    # the rerun finished the interrupted move (so nothing was left to supersede again), then quarantined
    assert actions == ["quarantined", "superseded", "quarantined"]
    [folder] = _superseded_folders(storage)
    names = {k.rsplit("/", 1)[1] for k in storage.list(folder)}
    assert names == {"event.json", "batch.parquet", "manifest.json", "reason.json"}


def _superseded_folders(storage) -> list[str]:
    keys = storage.list(f"quarantine-events/{MODEL}")
    return sorted({k.rsplit("/", 1)[0] for k in keys if "-superseded/" in k})
