"""Processes the tests start, and how they are all stopped, also on a slow machine.

Every process started from this test session carries `TESTS_SESSION_TAG` in its environment (set at import,
inherited by every descendant, including those that leave our process group: Airflow puts each task and
its scheduler's workers in groups of their own). `start` gives a process its own session and a tag of its
own; `stop` sends SIGTERM to its group and to every process that carries its tag, waits, then SIGKILLs what
is left. `survivors` finds whatever of the session still runs: conftest checks it at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

TAG = "TESTS_SESSION_TAG"
SESSION = os.environ.setdefault(TAG, f"tests-{uuid.uuid4().hex[:12]}")
_numbers = itertools.count(1)


def tagged(prefix: str) -> list[int]:
    """Pids of live processes (not zombies, not this one) whose tag starts with `prefix`."""
    found = []
    needle = f"{TAG}={prefix}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(v.startswith(needle) for v in environ.split(b"\0")):
            found.append(int(entry.name))
    return sorted(found)


def start(command: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start `command` in a session of its own, tagged so that `stop` finds it and all it starts."""
    # Unique across the session's processes (xdist workers share SESSION and each counts from 1) and
    # closed by "/", so that the prefix match of `tagged` never takes process 1's tag for process 12's.
    tag = f"{SESSION}/{os.getpid()}.{next(_numbers)}/"
    process = subprocess.Popen(
        command, env={**(env if env is not None else os.environ), TAG: tag}, start_new_session=True, **kwargs
    )
    process.tag = tag  # type: ignore[attr-defined]
    return process


def _signal_all(process: subprocess.Popen, sig: signal.Signals) -> None:
    for kill, target in [(os.killpg, process.pid)] + [(os.kill, p) for p in tagged(process.tag)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(target, sig)


def stop(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM the process's group and everything tagged as its own; after `grace` s, SIGKILL the rest."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30)):
        _signal_all(process, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, or it stays a zombie in its group
            if process.returncode is not None and not tagged(process.tag):
                return
            time.sleep(0.2)
    raise AssertionError(f"processes {tagged(process.tag)} of {process.args} survived SIGKILL")


def run(command: list[str], env: dict[str, str] | None = None, timeout: float = 600, **kwargs):
    """Run `command` to its end (like subprocess.run, output captured as text); stopped on time-out."""
    process = start(command, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process, grace=5)
        raise
    finally:
        if process.returncode is None or tagged(process.tag):
            stop(process, grace=5)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def survivors() -> list[str]:
    """`pid command` of every process of this test session still running."""
    lines = []
    for pid in tagged(SESSION):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        lines.append(f"{pid} {command[:160]}")
    return lines
