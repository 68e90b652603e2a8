"""A process the platform starts never runs past its limit: it is killed with everything it started, and
the error names what hung, after how long, and what raises the limit."""

import sys
import time

import psutil
import pytest

from retrainer.core.errors import StageTimeout
from retrainer.core.timeouts import run_bounded

# A command that starts a child of its own, then sleeps: both must be gone after the time-out.
SLEEPS_WITH_A_CHILD = (
    "import subprocess, sys, time;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
    "print(child.pid, flush=True); open(sys.argv[1], 'w').write(str(child.pid)); time.sleep(120)"
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_hanging_command_is_killed_with_its_children_and_named(tmp_path):
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(StageTimeout) as caught:
        run_bounded(
            [sys.executable, "-c", SLEEPS_WITH_A_CHILD, str(pid_file)],
            seconds=2,
            what="the sleeper",
            fix="raise sleeper.minutes",
        )
    took = time.monotonic() - started
    message = str(caught.value)
    assert "the sleeper" in message and "2 s" in message and "raise sleeper.minutes" in message
    assert took < 2 + 10, f"the time-out took {took:.1f} s"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child), "the command's child outlived the time-out"


def test_a_command_within_its_limit_runs_as_before():
    done = run_bounded(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
        seconds=30,
        what="a quick one",
        fix="-",
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def _problems(tmp_path, timeouts: dict) -> list[str]:
    """The problems load_model names in a copy of the project whose fraud-xgb sets `timeouts`."""
    import shutil

    import yaml

    from retrainer.core.models import ModelConfigError, load_model
    from tests.conftest import PROJECT_DIR

    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / name)
    path = tmp_path / "models" / "fraud-xgb" / "params.yaml"
    path.write_text(path.read_text() + "\n" + yaml.safe_dump({"timeouts": timeouts}))
    with pytest.raises(ModelConfigError) as raised:
        load_model(tmp_path, "fraud-xgb")
    return raised.value.problems


def test_a_process_limit_past_its_tasks_limit_is_refused(tmp_path):
    """DVC runs inside train: a longer process limit would let Airflow kill the task before the error
    could name the stage that hung."""
    (problem,) = _problems(tmp_path, {"subprocess_minutes": 300, "tasks": {"train": 240}})
    assert "models/fraud-xgb/params.yaml: timeouts" in problem and "subprocess_minutes (300)" in problem


def test_a_time_limit_for_a_task_that_does_not_exist_is_refused(tmp_path):
    (problem,) = _problems(tmp_path, {"tasks": {"trian": 30}})
    assert "timeouts.tasks.trian" in problem
