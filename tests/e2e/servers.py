"""Talking to the Airflow servers a test starts: its REST API, waiting on it, `airflow standalone`
(scheduler, API server, DAG processor, triggerer) and `airflow api-server` alone, on free ports of
127.0.0.1, stopped whatever happens."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from tests import processes
from tests.conftest import _free_port
from tests.e2e.conftest import BIN

# The one user of an API server started with `viewer=True`: SimpleAuthManager's lowest role that may view the
# registry page, with a password (no "all admins").
USER, PASSWORD = "viewer", "a-test-password"


def request(method: str, url: str, token: str | None = None, body: dict | None = None) -> dict:
    """A JSON call to the REST API."""
    call = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None)
    call.method = method
    call.add_header("Content-Type", "application/json")
    if token:
        call.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(call, timeout=15) as response:
        return json.loads(response.read() or b"{}")


def wait(predicate, timeout: float, what: str, watched: dict[str, subprocess.Popen] | None = None):
    """`predicate()`'s first truthy result, tried every 2 s (a server not answering yet counts as not
    yet); fails after `timeout` s, or at once if a watched process exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in (watched or {}).items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited ({process.returncode}) while waiting for {what}")
        try:
            if result := predicate():
                return result
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.contextmanager
def standalone(airflow, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """`airflow standalone` on the test's AIRFLOW_HOME; yields the API's base URL and a token. Its log is
    `standalone.log` in that home."""
    port = _free_port()
    env = airflow.env | {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(_free_port()),
    }
    log = (airflow.home / "standalone.log").open("w")
    process = processes.start(
        [str(BIN / "airflow"), "standalone"],
        env=env | (extra_env or {}),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: request("GET", f"{base}/api/v2/version"), 180, "the API server", {"standalone": process})
        yield base, request("GET", f"{base}/auth/token")["access_token"]
    finally:
        # The scheduler was seen ignoring SIGTERM for 15 s, and each task runs in a process group of its
        # own: stop every process the standalone started, whatever group it is in, then kill what is left.
        processes.stop(process, grace=30)
        assert not processes.tagged(process.tag)
        log.close()


@contextlib.contextmanager
def api_server(airflow, viewer: bool = True) -> Iterator[str]:
    """`airflow api-server` alone over the test's AIRFLOW_HOME on a free port of 127.0.0.1, configured as
    `make airflow` and docker-compose.yaml run it (every model of the project, no RETRAINER_MODEL) with its
    `[api] base_url` set; with `viewer`, SimpleAuthManager's only user is a viewer (`USER`, `PASSWORD`),
    else every user is an admin. Yields its base URL; its log is `api-server.log` in that home."""
    port = _free_port()
    env = {k: v for k, v in airflow.env.items() if k != "RETRAINER_MODEL"}
    env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{port}"
    if viewer:
        passwords = airflow.home / "passwords.json"
        passwords.write_text(json.dumps({USER: PASSWORD}))
        env |= {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        }
    else:
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    log = (airflow.home / "api-server.log").open("w")
    process = processes.start(
        [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: request("GET", f"{base}/api/v2/version"), 180, "the API server", {"api-server": process})
        yield base
    finally:
        processes.stop(process, grace=30)
        log.close()


def viewer_token(base: str) -> str:
    """A JWT for the viewer of an `api_server(viewer=True)`, as the UI's login form gets it."""
    login = {"username": USER, "password": PASSWORD}
    return request("POST", f"{base}/auth/token", body=login)["access_token"]
