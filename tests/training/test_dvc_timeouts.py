"""A DVC stage that hangs does not hold the training run forever: past timeouts.subprocess_minutes DVC and
the stage are killed and StageTimeout names the stage, the command, the workspace and the setting."""

import sys
import time

import psutil
import pytest

from retrainer.core.errors import StageTimeout
from retrainer.training.workspace import dvc


def test_a_hanging_stage_is_killed_and_named(tmp_path):
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  hang:\n"
        f"    cmd: {sys.executable} -c \"import os, time; open('stage.pid', 'w').write(str(os.getpid())); "
        'time.sleep(300)"\n'
    )
    dvc(tmp_path, "init", "--no-scm", "--quiet", seconds=60)
    started = time.monotonic()
    with pytest.raises(StageTimeout) as caught:
        dvc(tmp_path, "repro", "--quiet", seconds=8)  # DVC starts in ~1-3 s, then the stage sleeps
    took = time.monotonic() - started
    message = str(caught.value)
    assert "stage hang of `dvc repro --quiet`" in message and str(tmp_path) in message
    assert "after 8 s" in message and "timeouts.subprocess_minutes" in message
    assert took < 8 + 10, f"stopping the stage took {took:.1f} s"
    stage = int((tmp_path / "stage.pid").read_text())
    deadline = time.monotonic() + 5
    while not _gone(stage):
        assert time.monotonic() < deadline, "the stage outlived DVC's time-out"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
