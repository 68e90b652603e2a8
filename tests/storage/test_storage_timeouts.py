"""A stalled S3 endpoint (it accepts connections and never answers) fails a storage call within the
model's `timeouts.storage` with StorageTimeout naming the endpoint and the key; the same call against a
working endpoint later (the task's retry) succeeds."""

import contextlib
import os
import socket
import threading
import time

import pytest
import yaml

from retrainer.core.errors import StorageTimeout
from retrainer.storage import open_storage
from retrainer.storage.s3 import DEFAULT_TIMEOUTS
from tests.conftest import PROJECT_DIR

LIMITS = {"connect_seconds": 1, "read_seconds": 1, "max_attempts": 2}


@contextlib.contextmanager
def stalled_endpoint():
    """An endpoint on 127.0.0.1 that accepts every connection and never sends a byte; closed after."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(server.accept()[0])  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()


def test_a_stalled_endpoint_fails_in_bounded_time_and_a_retry_later_succeeds(s3_env, monkeypatch):
    working = os.environ["AWS_ENDPOINT_URL"]
    uri = f"s3://{s3_env}/root"
    with stalled_endpoint() as stalled:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stalled)
        storage = open_storage(uri, LIMITS)
        started = time.monotonic()
        with pytest.raises(StorageTimeout) as caught:
            storage.get_bytes("runs/fraud-xgb/manifest.json")
        took = time.monotonic() - started
    message = str(caught.value)
    assert stalled in message and f"{uri}/runs/fraud-xgb/manifest.json" in message
    assert "read 1 s" in message and "timeouts.storage" in message
    # two attempts of a 1 s read, and botocore's back-off between them; never botocore's default minutes
    print(f"stalled S3 endpoint: StorageTimeout after {took:.2f} s")
    assert took < 8, f"the stalled call took {took:.1f} s"

    monkeypatch.setenv("AWS_ENDPOINT_URL", working)  # the endpoint is back: the task's retry
    storage = open_storage(uri, LIMITS)
    storage.put_text("runs/fraud-xgb/manifest.json", "{}")
    assert storage.get_text("runs/fraud-xgb/manifest.json") == "{}"


def test_commands_without_a_model_use_the_shipped_limits():
    shipped = yaml.safe_load((PROJECT_DIR / "models" / "defaults.yaml").read_text())["timeouts"]["storage"]
    assert shipped == DEFAULT_TIMEOUTS
