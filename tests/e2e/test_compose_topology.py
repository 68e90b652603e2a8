"""docker-compose.yaml's topology started for real, without containers (there is no Docker engine here).

PostgreSQL, Redis and an S3 endpoint run on 127.0.0.1; Airflow runs as the compose file's services, each a
process group of its own: api-server, scheduler, dag-processor, triggerer and two Celery workers. Every
process gets the environment a container of that service would get: the image's ENV (from the
Dockerfile), the compose file's `x-airflow-common` environment, and then only the overrides listed in
`LOOPBACK` (where the servers are) and `ONE_MACHINE` (ports and sizes that clash when all services share
one 2-core host). Each "container" has a root directory of its own holding what the Dockerfile COPYs and
the compose volumes; container paths in the environment point into it. Each worker gets its own host name
(a UTS namespace, as a container has), so the task instances' `hostname` says which worker ran them.

Auth is on: SimpleAuthManager users from configuration, a passwords file, a JWT from `POST /auth/token`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.compose_files import (
    Image,
    compose_command,
    compose_environment,
    compose_volumes,
    dockerfile_image,
    healthcheck_url,
)
from tests.conftest import PROJECT_DIR, _free_port
from tests.e2e import servers
from tests.e2e.conftest import BIN
from tests.test_alerts import receiving

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="a host name per worker needs root (unshare --uts)"),
]

BASE_IMAGE_ENV = {"AIRFLOW_HOME": "/opt/airflow"}  # set by apache/airflow, the Dockerfile's FROM
# What an operator puts in .env next to docker-compose.yaml.
# `nobody:` is a user with no role: logged in, allowed nothing.
OPERATOR_ENV = {
    "AIRFLOW_JWT_SECRET": secrets.token_hex(32),
    "AIRFLOW_USERS": "admin:admin,ada:viewer,nobody:",
}
SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
WORKERS = ("celery-worker-a", "celery-worker-b")
RUN_BOUND_S = 300  # the DAG run, once triggered
TEST_BOUND_S = 720  # every wait also ends by then (the test takes 3-7 minutes on 2 cores)


def LOOPBACK(database: str, redis_port: int, s3: str, api_port: int) -> dict[str, str]:
    """The only values of the compose environment replaced: the servers, here on 127.0.0.1."""
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database.replace("+psycopg2", ""),
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AWS_ENDPOINT_URL": s3,
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
    }


def ONE_MACHINE(api_port: int, scheduler_health_port: int) -> dict[str, str]:
    """Containers each have their own ports and a machine each; here all share one host with 2 cores."""
    return {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(scheduler_health_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
    }


_CELERY_CONTROL = """
import sys
from airflow.configuration import conf
from airflow.providers.celery.executors.celery_executor import app
queue = conf.get("operators", "default_queue")
for action, worker in zip(sys.argv[1::2], sys.argv[2::2]):
    consumer = getattr(app.control, f"{action}_consumer")
    assert consumer(queue, destination=[f"celery@{worker}"], reply=True, timeout=10), (action, worker)
"""

# --- processes ----------------------------------------------------------------------------------------


def stop(processes: list[subprocess.Popen], grace: float = 30) -> None:
    """SIGTERM to each whole process group, wait, then SIGKILL what is left (the scheduler has ignored
    SIGTERM for 15 s before)."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):  # also the group's leftovers after its leader exited
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _page(url: str, token: str | None = None) -> tuple[int, str, str]:
    """GET a page of the UI: (status, content type, text)."""
    call = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(call, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), ""


def _status(method: str, url: str, token: str | None = None, body: dict | None = None) -> int:
    try:
        servers.request(method, url, token, body)
        return 200
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def redis_port(tmp_path):
    """Debian's redis-server on 127.0.0.1 (scripts/test.sh installs it when missing), stopped afterwards."""
    server = shutil.which("redis-server") or pytest.fail(
        "redis-server not found (apt-get install redis-server)"
    )
    port = _free_port()
    log = (tmp_path / "redis.log").open("w")
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def pong() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        servers.wait(pong, 30, "redis-server")
        yield port
    finally:
        stop([process])
        log.close()


@pytest.fixture
def metadata_database(postgres_url):
    """A database of this test's own on the session's PostgreSQL server."""
    import psycopg2

    name = "compose_topology"
    admin = psycopg2.connect(postgres_url.replace("postgresql+psycopg2", "postgresql"))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {name}")
    finally:
        admin.close()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


@dataclass
class Topology:
    tmp: Path
    image: Image
    common: dict[str, str]
    overrides: dict[str, str]

    def container(self, name: str) -> tuple[Path, dict[str, str]]:
        """A root holding what the image COPYs and the shared volumes, and the service's environment."""
        root = self.tmp / "containers" / name
        for source, target in self.image.copies:
            self._link(root / target.lstrip("/"), PROJECT_DIR / source)
        for target, shared in compose_volumes(OPERATOR_ENV).items():
            (self.tmp / "volumes" / shared).mkdir(parents=True, exist_ok=True)
            self._link(root / target.lstrip("/"), self.tmp / "volumes" / shared)
        host = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RETRAINER_", "AWS_"))}
        host["PATH"] = f"{BIN}{os.pathsep}{host.get('PATH', '')}"  # the image's python and airflow
        inside = BASE_IMAGE_ENV | self.image.env | self.common
        env = host | {k: (f"{root}{v}" if v.startswith("/") else v) for k, v in inside.items()}
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
        return root, env | self.overrides

    @staticmethod
    def _link(path: Path, target: Path) -> None:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)

    def run(self, name: str, *command: str, timeout: float = 300) -> str:
        """A one-off command in a container of its own (compose's airflow-init / airflow-cli)."""
        _, env = self.container(name)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, command: list[str], extra_env: dict | None = None, hostname: str = ""):
        _, env = self.container(name)
        if hostname:  # a UTS namespace of its own: the host name a container would have
            command = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *command]
        log = (self.tmp / f"{name}.log").open("w")
        return subprocess.Popen(
            command,
            env=env | (extra_env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def celery_control(self, *calls: tuple[str, str]) -> None:
        """Celery's remote control: ("cancel" | "add", worker) stops or resumes its consuming the queue."""
        words = (word for call in calls for word in call)
        self.run("airflow-cli", "python", "-c", _CELERY_CONTROL, *words, timeout=60)

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        return f"--- {name}.log\n" + "\n".join(text)


@pytest.fixture
def alert_receiver():
    """The operator's alert endpoint (RETRAINER_ALERTS_CONNECTION in .env), on 127.0.0.1."""
    with receiving() as receiver:
        yield receiver


def test_compose_topology_runs_the_dag_on_two_celery_workers_with_auth_on(
    tmp_path, metadata_database, redis_port, s3_endpoint, alert_receiver
):
    started = time.monotonic()
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True
    ).stdout.strip()
    image = dockerfile_image({"RETRAINER_GIT_REVISION": revision})
    common = compose_environment(OPERATOR_ENV | {"RETRAINER_ALERTS_CONNECTION": alert_receiver.connection()})
    api_port, scheduler_health_port = _free_port(), _free_port()
    loopback = LOOPBACK(metadata_database, redis_port, s3_endpoint, api_port)
    # The overrides replace what the file says; they add no setting of their own.
    assert set(loopback) <= set(common), set(loopback) - set(common)
    topology = Topology(tmp_path, image, common, loopback | ONE_MACHINE(api_port, scheduler_health_port))

    # minio-init's job: the bucket of storage, source and DVC remote
    import boto3

    _, cli_env = topology.container("airflow-cli")
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=cli_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=cli_env["AWS_SECRET_ACCESS_KEY"],
        region_name=cli_env["AWS_DEFAULT_REGION"],
    )
    for bucket in {cli_env[k].split("/")[2] for k in ("RETRAINER_STORAGE_ROOT", "RETRAINER_SOURCE_ROOT")}:
        s3.create_bucket(Bucket=bucket)

    # The operator's passwords file in the shared config volume; airflow-init migrates, writes airflow.cfg.
    password = secrets.token_urlsafe(16)
    _, api_env = topology.container("airflow-apiserver")
    passwords_file = Path(api_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    passwords_file.write_text(
        json.dumps({"admin": password, "ada": "viewer-" + password, "nobody": "nobody-" + password})
    )
    topology.run("airflow-init", "airflow", "db", "migrate")
    topology.run("airflow-init", "airflow", "config", "list")

    processes: dict[str, subprocess.Popen] = {}

    def wait(predicate, bound: float, what: str):
        """Until `predicate` holds, at most `bound` s and never past the test's bound; fails at once if a
        service exits."""
        return servers.wait(predicate, min(bound, started + TEST_BOUND_S - time.monotonic()), what, processes)

    try:
        for service in SERVICES:
            processes[service] = topology.start(service, ["airflow", *compose_command(service)])
        for worker in WORKERS:
            processes[worker] = topology.start(
                worker,
                ["airflow", *compose_command("airflow-worker"), "--celery-hostname", worker],
                {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port())},
                hostname=worker,
            )
        topology.run(
            "airflow-cli",
            "retrainer",
            "generate",
            "--model",
            "fraud-xgb",
            "--end",
            "2026-11-15",
            "--days",
            "70",
        )

        base = f"http://127.0.0.1:{api_port}"
        # the compose healthchecks' endpoints answer without a token
        for service, port in (("airflow-apiserver", api_port), ("airflow-scheduler", scheduler_health_port)):
            path = urllib.parse.urlparse(healthcheck_url(service)).path
            up = lambda u=f"http://127.0.0.1:{port}{path}": _status("GET", u) == 200  # noqa: E731
            wait(up, 180, f"{service}'s healthcheck")
        assert _status("GET", f"{base}/api/v2/dags") == 401  # no token, no API
        login = f"{base}/auth/token"
        assert _status("POST", login, body={"username": "admin", "password": "wrong"}) == 401
        token = servers.request("POST", login, body={"username": "admin", "password": password})[
            "access_token"
        ]
        viewer = servers.request("POST", login, body={"username": "ada", "password": "viewer-" + password})
        dag_url = f"{base}/api/v2/dags/retrain_fraud-xgb"
        wait(lambda: servers.request("GET", dag_url, token), 180, "the DAG to be parsed")

        body = {"logical_date": "2026-11-16T00:00:00Z", "conf": {"extract_window_days": 56}}
        assert _status("POST", f"{dag_url}/dagRuns", viewer["access_token"], body) == 403
        # Left alone, each task goes to whichever idle worker polls Redis first (seen: b a a a a), so all
        # five land on one worker in about one run in 16. Hand over as an operator drains a worker: only
        # b consumes until it runs a task, then only a until it runs one, then both.
        worker_a, worker_b = WORKERS
        topology.celery_control(("cancel", worker_a))
        run = servers.request("POST", f"{dag_url}/dagRuns", token, body)
        servers.request("PATCH", dag_url, token, {"is_paused": False})
        run_url = f"{dag_url}/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"

        def ran_on(worker: str) -> bool:
            tis = servers.request("GET", f"{run_url}/taskInstances", token)["task_instances"]
            return any(ti["hostname"] == worker for ti in tis)

        wait(lambda: ran_on(worker_b), 180, f"a task on {worker_b}")
        topology.celery_control(("add", worker_a), ("cancel", worker_b))
        wait(lambda: ran_on(worker_a), 180, f"a task on {worker_a}")
        topology.celery_control(("add", worker_b))
        state = wait(
            lambda: (s := servers.request("GET", run_url, token)["state"]) in ("success", "failed") and s,
            RUN_BOUND_S,
            "the run",
        )
        tis = servers.request("GET", f"{run_url}/taskInstances", token)["task_instances"]
        ran = {ti["task_id"]: (ti["state"], ti["hostname"]) for ti in tis}
        assert state == "success", ran
        # a first model becomes champion without the approval form, and by register, not by a deployment
        # move: those two tasks are skipped, never run
        assert ran.pop("approve")[0] == "skipped" and ran.pop("announce_move")[0] == "skipped", ran
        assert ran and all(s == "success" for s, _ in ran.values()), ran
        assert {host for _, host in ran.values()} == set(WORKERS), f"not spread over both workers: {ran}"
        print(f"\ntask -> worker: {ran}\nfrom start to success: {time.monotonic() - started:.0f} s")

        versions = json.loads(
            topology.run("airflow-cli", "retrainer", "registry", "list", "--model", "fraud-xgb", "--json")
        )
        mine = [v for v in versions if v["airflow_run_id"] == run["dag_run_id"]]
        assert len(mine) == 1 and "champion" in mine[0]["aliases"], versions
        assert revision and revision in json.dumps(mine[0]), "lineage lacks the build's git revision"

        # Browse -> Model registry through the api-server: two models configured, no RETRAINER_MODEL,
        # storage on S3; the viewer sees the page, the gate report and the run's Data Docs it links to.
        registry = f"{base}/registry"
        report = f"{registry}/versions/{mine[0]['version']}/report.html?model=fraud-xgb"
        nobody = servers.request("POST", login, body={"username": "nobody", "password": "nobody-" + password})
        for url in (f"{registry}/", report):
            assert _page(url)[0] == 401, url  # no token
            assert _page(url, "not-a-jwt")[0] == 403, url
            assert _page(url, nobody["access_token"])[0] == 403, url  # a user whose role allows nothing
        status, _, page = _page(f"{registry}/", viewer["access_token"])
        assert status == 200 and "<h2>fraud-xgb</h2>" in page and "<h2>ato-xgb</h2>" in page, page[-2000:]
        status, kind, gate_report = _page(report, viewer["access_token"])
        assert status == 200 and kind.startswith("text/html") and "<html" in gate_report.lower()
        assert _page(report.replace("fraud-xgb", "no-such-model"), viewer["access_token"])[0] == 404
        # absolute: compose sets the UI's address (AIRFLOW__API__BASE_URL), which links in logs and alerts use
        [docs] = re.findall(rf'href="({re.escape(base)}/registry/data-docs/fraud-xgb/[^"]+)"', page)
        status, kind, site = _page(docs, viewer["access_token"])
        assert status == 200 and kind.startswith("text/html") and "<html" in site.lower(), (docs, status)
        assert _page(docs)[0] == 401

        # A failure reaches a person: a run of a week the source lacks fails at extract on a Celery worker,
        # and the model's alert connection (the operator's endpoint) gets the task, the named error and
        # the run's link in the UI.
        missing = {"logical_date": "2026-11-26T00:00:00Z", "conf": {}}  # the week 11-16 .. 11-23
        failing = servers.request("POST", f"{dag_url}/dagRuns", token, missing)["dag_run_id"]

        def alerted() -> dict | None:
            return next((p for p in alert_receiver.posts if p.get("run_id") == failing), None)

        post = wait(alerted, RUN_BOUND_S, "the failed run's alert")
        assert (post["event"], post["task_id"]) == ("task_failed", "extract"), post
        assert post["error"]["type"] == "MissingSourcePartition" and "2026-11-16" in post["error"]["message"]
        assert post["url"].startswith(f"{base}/dags/retrain_fraud-xgb/runs/"), post["url"]
    except BaseException:
        print("\n".join(topology.tail(name) for name in processes))  # shown with the failure
        raise
    finally:
        stop(list(processes.values()))
