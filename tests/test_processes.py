"""The tests' own process control: what a test starts is stopped, even a child that left the group and
ignores SIGTERM (as Airflow's task processes and a busy scheduler do)."""

import subprocess
import sys
import time

from tests import processes

# A parent that ignores SIGTERM, with a child in a session of its own that ignores it too.
STUBBORN = (
    "import os, signal, subprocess, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "subprocess.Popen(['sleep', '300'], start_new_session=True, preexec_fn=lambda: "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)); time.sleep(300)"
)


def test_stop_ends_the_group_and_children_that_left_it_even_when_they_ignore_sigterm():
    process = processes.start([sys.executable, "-c", STUBBORN])
    deadline = time.monotonic() + 30
    while len(processes.tagged(process.tag)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(processes.tagged(process.tag)) == 2  # the parent and its child in another session
    started = time.monotonic()
    processes.stop(process, grace=1)
    assert processes.tagged(process.tag) == [] and process.returncode is not None
    assert time.monotonic() - started < 20


def test_run_returns_the_output_and_leaves_nothing_behind():
    done = processes.run([sys.executable, "-c", "print('hello')"], timeout=60)
    assert (done.returncode, done.stdout) == (0, "hello\n")
    assert not [line for line in processes.survivors() if "print('hello')" in line]


def test_every_process_of_the_session_is_found_by_its_tag():
    child = subprocess.Popen(["sleep", "30"])  # not started through `processes`: still tagged
    try:
        assert any(line.startswith(f"{child.pid} sleep") for line in processes.survivors())
    finally:
        child.kill()
        child.wait()


def test_another_worker_stopping_its_process_leaves_ours_alone():
    """xdist workers share the session's tag and each counts its processes from 1: a worker stopping its
    own n-th process must not stop another worker's n-th (the S3 endpoint of one worker was killed so)."""
    ours = processes.start(["sleep", "300"])
    try:
        number = ours.tag.rstrip("/").rsplit(".", 1)[-1].rsplit("/", 1)[-1]
        worker = (
            "import itertools, sys; from tests import processes; "
            "processes._numbers = itertools.count(int(sys.argv[1])); "  # at our counter's place
            "p = processes.start(['sleep', '300']); processes.stop(p, grace=1)"
        )
        subprocess.run([sys.executable, "-c", worker, number], check=True, timeout=60)
        assert ours.poll() is None and processes.tagged(ours.tag)
    finally:
        processes.stop(ours, grace=1)
