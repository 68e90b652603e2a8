"""Shared fixtures: an isolated var/ directory per test, generated data, a local S3 endpoint."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests import processes

PROJECT_DIR = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-16T00:00:00+00:00"  # a Monday; the data ends the day before
LAST_DAY = date(2026, 11, 15)


def copy_configuration(root: Path, parts: tuple[str, ...] = ("models", "expectations", "dags")) -> Path:
    """A copy of the project's configuration under `root` (its model folders, suites, DAG files and
    dvc.yaml), for a test to break or edit; returns `root`."""
    for name in parts:
        shutil.copytree(PROJECT_DIR / name, root / name)
    shutil.copy2(PROJECT_DIR / "dvc.yaml", root / "dvc.yaml")
    return root


def week(end: str) -> tuple[str, str]:
    """The data interval of the week ending at `end` (a Monday 00:00 UTC), as Airflow gives it to tasks."""
    from datetime import datetime

    moment = datetime.fromisoformat(end)
    return (moment - timedelta(days=7)).isoformat(), moment.isoformat()


os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


# Fixtures that start a server (Airflow, a database, S3) or run the whole retraining path through DVC; a
# test using one is end-to-end, and `pytest -m "not e2e"` leaves it out.
E2E_FIXTURES = {"s3_endpoint", "airflow", "migrated_db", "postgres_url", "pipeline"}


def pytest_collection_modifyitems(items):
    """Mark as `e2e` every test under tests/e2e/ and every test that uses an end-to-end fixture."""
    e2e_dir = Path(__file__).parent / "e2e"
    for item in items:
        if e2e_dir in Path(item.fspath).parents or E2E_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.e2e)


def pytest_sessionfinish(session):
    """No process started by the tests may outlive them: wait a little, then kill them and fail.

    Checked by a single-process session (the e2e run, where every server is started); under xdist the
    workers themselves carry the session's tag until the session is over.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") or getattr(session.config.option, "numprocesses", None):
        return
    import multiprocessing.resource_tracker

    # The helper that multiprocessing's spawn context starts once, for this process: end it here.
    with contextlib.suppress(Exception):
        multiprocessing.resource_tracker._resource_tracker._stop()
    deadline = time.monotonic() + 15
    while (left := processes.survivors()) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not left:
        return
    for line in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"{len(left)} process(es) started by the tests outlived them (killed now):\n" + "\n".join(left)
    if reporter:
        reporter.write_line(message, red=True)
    else:
        print(message, file=sys.stderr)


@pytest.fixture
def var_dir(tmp_path, monkeypatch) -> Path:
    """Point every retrainer setting at a fresh directory (storage, source, DVC cache and remote)."""
    var = tmp_path / "var"
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(var))
    monkeypatch.setenv("RETRAINER_MODEL", "fraud-xgb")  # commands without --model work on the fraud model
    for name in (
        "RETRAINER_STORAGE_ROOT",
        "RETRAINER_SOURCE_ROOT",
        "RETRAINER_DVC_REMOTE",
        "RETRAINER_WORK_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    return var


@pytest.fixture
def settings(var_dir):
    from retrainer.core.settings import Settings

    return Settings.from_env()


@pytest.fixture
def params():
    from retrainer.core.models import load_model

    return load_model(PROJECT_DIR, "fraud-xgb")


@pytest.fixture
def storage(settings):
    from retrainer.storage import open_storage

    return open_storage(settings.storage_root)


@pytest.fixture
def source(settings):
    from retrainer.storage import open_storage

    return open_storage(settings.source_root)


def generate_source(source, days: int = 70, last_day: date = LAST_DAY, **knobs) -> None:
    from retrainer.synthetic import GeneratorConfig, generate

    generate(source, last_day - timedelta(days=days - 1), last_day, seed=7, config=GeneratorConfig(**knobs))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 endpoint (moto_server) on 127.0.0.1, started for the session and stopped after it."""
    port = _free_port()
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    process = processes.start(
        [server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        processes.stop(process, grace=5)
        pytest.fail("moto_server did not start within 30 s")
    yield url
    processes.stop(process, grace=10)


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    """boto3 pointed at the local endpoint with throwaway credentials; returns a fresh bucket's name."""
    import uuid

    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"retrainer-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


# The features a covariate shift moves in the drift tests: riskier IPs, longer gaps between transactions.
SHIFTED_FEATURES = ("ip_risk_score", "minutes_since_last_tx")


def shift_features(source, first: date, last: date) -> None:
    """Move SHIFTED_FEATURES in the source partitions of the days first..last (inclusive)."""
    import io

    import pandas as pd

    from retrainer.sources.partitions import partition_key

    day = first
    while day <= last:
        frame = pd.read_parquet(io.BytesIO(source.get_bytes(partition_key(day))))
        frame["ip_risk_score"] = (frame["ip_risk_score"] + 0.25).clip(upper=1.0)
        frame["minutes_since_last_tx"] = frame["minutes_since_last_tx"] * 3
        source.put_bytes(partition_key(day), frame.to_parquet(index=False))
        day += timedelta(days=1)
