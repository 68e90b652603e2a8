"""Each measured step gets its own peak RSS, even when steps share a process, and is logged as one line."""

import pytest

from retrainer.core.resources import RESOURCE_LOG, measure_step, measured, read_resource_log

MiB = 2**20


def _touch(megabytes: int) -> bytearray:
    block = bytearray(megabytes * MiB)
    block[::4096] = b"x" * len(block[::4096])  # resident, not only reserved
    return block


def test_a_step_s_peak_is_its_own_not_the_one_of_an_earlier_step(tmp_path, monkeypatch):
    monkeypatch.setenv(RESOURCE_LOG, str(tmp_path / "resources.jsonl"))
    with measured("big"):
        block = _touch(300)
        del block
    with measured("small") as record:
        block = _touch(20)
        del block
    big, small = read_resource_log(tmp_path / "resources.jsonl")
    assert (big["step"], small["step"]) == ("big", "small") and record["step"] == "small"
    assert big["peak_rss_bytes"] - big["start_rss_bytes"] >= 290 * MiB
    if small["peak_reset"]:
        assert small["peak_rss_bytes"] - small["start_rss_bytes"] < 100 * MiB


def test_a_failed_step_is_recorded_as_failed(tmp_path, monkeypatch):
    monkeypatch.setenv(RESOURCE_LOG, str(tmp_path / "resources.jsonl"))

    @measure_step("boom")
    def boom():
        raise ValueError("no")

    with pytest.raises(ValueError):
        boom()
    [record] = read_resource_log(tmp_path / "resources.jsonl")
    assert record["failed"] and record["seconds"] >= 0


def test_no_log_file_is_written_unless_named(tmp_path, monkeypatch):
    monkeypatch.delenv(RESOURCE_LOG, raising=False)
    with measured("quiet"):
        pass
    assert read_resource_log(tmp_path / "resources.jsonl") == []
