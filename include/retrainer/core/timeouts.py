"""Time limits from a model's params (`timeouts`): each task's, each subprocess's, each S3 call's; and
the one way the platform starts a process, bounded, killing its whole process group when the limit passes.
Standard library only: the DAG files read the task limits when Airflow parses them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

# After SIGTERM, the seconds a process group gets to stop before SIGKILL.
GRACE_SECONDS = 5.0


def task_timeout(config: dict[str, Any], task_id: str | None = None) -> timedelta:
    """The execution_timeout of a task of the model's DAGs: `timeouts.tasks.<task_id>`, else
    `timeouts.task_minutes` (also with no task_id: the DAG's default)."""
    timeouts = config["timeouts"]
    return timedelta(minutes=timeouts["tasks"].get(task_id, timeouts["task_minutes"]))


def subprocess_seconds(params: dict[str, Any]) -> float:
    """How long one process the platform starts may run (`timeouts.subprocess_minutes`), in seconds."""
    return params["timeouts"]["subprocess_minutes"] * 60.0


def run_bounded(
    command: Sequence[str],
    *,
    seconds: float,
    what: str,
    fix: str,
    describe_hang=None,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """Run `command` to its end, its output captured as text, like `subprocess.run(capture_output=True,
    text=True)`; but past `seconds` its whole process group (the command and every process it started,
    e.g. DVC's stage commands) is sent SIGTERM, then SIGKILL after GRACE_SECONDS, and StageTimeout names
    `what` (refined by `describe_hang(pgid)` while the group still runs, e.g. the stage that hung), the
    limit and `fix`, what to do (e.g. the setting that raises the limit).
    """
    from retrainer.core.errors import StageTimeout

    # A session of its own: the group can be killed whole, and this process is never in it.
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )
    try:
        stdout, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        hung = what
        if describe_hang is not None:
            with contextlib.suppress(Exception):  # naming the culprit must never hide the time-out
                hung = describe_hang(process.pid) or what
        _kill_group(process)
        raise StageTimeout(hung, seconds, fix) from None
    except BaseException:  # interrupted (e.g. Airflow's own execution_timeout): leave nothing running
        _kill_group(process)
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL to what is left after GRACE_SECONDS; the leader reaped."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=GRACE_SECONDS)  # reaps the leader once the group lets go of the pipes
            if not _group_alive(process.pid):
                return
    # A process that left the group (its own session) still holds the pipes: stop reading them.
    for stream in (process.stdout, process.stderr):
        with contextlib.suppress(OSError):
            stream.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=GRACE_SECONDS)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group `pgid` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal is still a member
        return True
    return True
