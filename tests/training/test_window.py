"""The training window: rows by event time from checked bytes, each transaction once, whatever other runs
happened."""

import io
import json

import pandas as pd
import pytest

from retrainer.core.clock import window_bounds
from retrainer.data.extract import extract_batch
from retrainer.storage import ChecksumMismatch, sha256_file
from retrainer.training.window import assemble_window
from retrainer.training.workspace import TrainingError
from tests.conftest import AS_OF, generate_source


def _validated(source, storage, end, days):
    manifest = extract_batch(source, storage, "m", *window_bounds(end, days))
    record = {"success": True, "run_key": manifest["run_key"], "batch_sha256": manifest["sha256"]}
    storage.put_text(
        storage.key_of(manifest["manifest_uri"]).replace("manifest", "validation"), json.dumps(record)
    )
    return manifest


@pytest.fixture
def model_params(params):
    return params | {
        "model": params["model"] | {"name": "m"},
        "data": params["data"] | {"training_window_days": 28},
    }


def test_overlapping_batches_give_each_row_once_within_the_window(source, storage, model_params, tmp_path):
    generate_source(source, days=49, rows_per_day=100)
    _validated(source, storage, "2026-11-09", 42)  # a backfill reaching before the window
    _validated(source, storage, AS_OF, 7)
    window = assemble_window(storage, "m", AS_OF, model_params, tmp_path / "w.parquet")
    rows = pd.read_parquet(tmp_path / "w.parquet")
    assert window["rows"] == len(rows) == 28 * 100  # 4 weeks, not 6 + 1
    assert rows["transaction_id"].is_unique
    assert rows["event_ts"].min() >= pd.Timestamp(window["start"]) and rows["event_ts"].max() < pd.Timestamp(
        AS_OF
    )
    assert window["sha256"] == sha256_file(tmp_path / "w.parquet")
    used = {b["run_key"]: (b["rows_in_window"], b["rows_used"]) for b in window["batches"]}
    assert used == {"2026-11-09T000000Z": (2100, 2100), "2026-11-16T000000Z": (700, 700)}


def test_the_window_is_the_same_bytes_whichever_other_runs_happened(source, storage, model_params, tmp_path):
    """The rerun of 2026-11-16 after 2026-11-09 ran: same rows, same bytes, so the same data hash."""
    generate_source(source, days=49, rows_per_day=100)
    _validated(source, storage, AS_OF, 28)
    first = assemble_window(storage, "m", AS_OF, model_params, tmp_path / "first.parquet")
    _validated(source, storage, "2026-11-09", 42)  # an earlier week's run, reaching further back
    again = assemble_window(storage, "m", AS_OF, model_params, tmp_path / "again.parquet")
    assert (tmp_path / "first.parquet").read_bytes() == (tmp_path / "again.parquet").read_bytes()
    assert first["sha256"] == again["sha256"] and len(again["batches"]) == 2


def test_a_batch_of_a_later_period_is_never_read(source, storage, model_params, tmp_path):
    generate_source(source, days=35, rows_per_day=100, last_day=pd.Timestamp("2026-11-22").date())
    _validated(source, storage, AS_OF, 28)
    _validated(source, storage, "2026-11-23", 7)
    window = assemble_window(storage, "m", AS_OF, model_params, tmp_path / "w.parquet")
    assert [b["run_key"] for b in window["batches"]] == ["2026-11-16T000000Z"]


def test_a_batch_changed_after_validation_stops_training_as_a_verdict(
    source, storage, model_params, tmp_path
):
    generate_source(source, days=28, rows_per_day=100)
    manifest = _validated(source, storage, AS_OF, 28)
    key = storage.key_of(manifest["batch_uri"])
    frame = pd.read_parquet(io.BytesIO(storage.get_bytes(key)))
    frame.loc[frame.index[::20], "amount"] *= -1
    storage.put_bytes(key, frame.to_parquet(index=False))
    with pytest.raises(ChecksumMismatch) as caught:
        assemble_window(storage, "m", AS_OF, model_params, tmp_path / "w.parquet")
    assert not isinstance(caught.value, TrainingError)


def test_rows_in_window_gives_the_same_rows_from_a_shuffled_copy_with_repeats_as_from_the_window_file(
    source, storage, model_params, tmp_path
):
    """prepare reads the window file, already in order and each id once, and then skips the copies; any
    other input (rows outside the window, repeated ids, any order) still gives the same rows."""
    from retrainer.training.window import rows_in_window, window_bounds_of

    generate_source(source, days=14, rows_per_day=150)
    _validated(source, storage, AS_OF, 14)
    window = assemble_window(storage, "m", AS_OF, model_params, tmp_path / "w.parquet")
    clean = pd.read_parquet(tmp_path / "w.parquet")
    start, end = window_bounds_of(model_params, AS_OF)
    before = start - pd.Timedelta(days=1)
    outside = clean.head(5).assign(event_ts=before, transaction_id=lambda f: f.transaction_id + "x")
    stale = clean.sample(20, random_state=1).assign(amount=-1.0)  # older copies: the later copy wins
    messy = pd.concat([outside, stale, clean.sample(frac=1.0, random_state=2)], ignore_index=True)

    assert window["rows"] == len(clean) > 0
    pd.testing.assert_frame_equal(rows_in_window(clean, start, end, model_params), clean)
    pd.testing.assert_frame_equal(rows_in_window(messy, start, end, model_params), clean)
