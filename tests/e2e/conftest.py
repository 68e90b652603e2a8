"""Real Airflow: a fresh SQLite metadata DB in a temporary AIRFLOW_HOME, runs through `airflow dags test`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import processes
from tests.conftest import PROJECT_DIR

BIN = Path(sys.executable).parent


def airflow_env(home: Path, var: Path, project: Path = PROJECT_DIR) -> dict[str, str]:
    """The environment of Airflow and `retrainer` for a project (its DAGs, model folders and suites)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RETRAINER_", "AWS_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(PROJECT_DIR / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY="1",
        # LocalExecutor starts this many workers (32 by default): no more than the machine has.
        AIRFLOW__CORE__PARALLELISM=str(os.cpu_count() or 2),
        RETRAINER_VAR_DIR=str(var),
        RETRAINER_PROJECT_DIR=str(project),
        GX_ANALYTICS_ENABLED="False",
        DVC_NO_ANALYTICS="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """`airflow db migrate` once; each test starts from a copy of the fresh database."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = airflow_env(home, home / "unused")
    done = processes.run([str(BIN / "airflow"), "db", "migrate"], env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return home / "airflow.db"


@dataclass
class DagRun:
    state: str
    log: str

    @property
    def tasks(self) -> dict[str, str]:
        """{task_id: final state} of every task instance that ran, from Airflow's own log lines: a run can
        end "success" with no task run at all (a logical date before a start_date), so check these too."""
        names = dict(re.findall(r"running task <TaskInstance: [\w-]+\.(\w+) .*? ti_id=([\w-]+)>", self.log))
        names = {ti: task for task, ti in names.items()}
        states = {}
        for state, ti in re.findall(
            r"Task instance state updated .*?new_state=(\w+) .*?ti_id=([\w-]+)", self.log
        ):
            states[names.get(ti, ti)] = state
        return states

    @property
    def data_interval(self) -> tuple[str, str]:
        found = re.findall(
            r"DagRun Finished: .*?data_interval_start=([^,]+), data_interval_end=([^,]+),", self.log
        )
        return found[-1] if found else ("", "")


@dataclass
class Airflow:
    home: Path
    var: Path
    project: Path = PROJECT_DIR  # a test may point it at a copy of the project with other model folders

    @property
    def env(self) -> dict[str, str]:
        return airflow_env(self.home, self.var, self.project)

    def retrainer(self, *args: str, env: dict | None = None) -> str:
        """A `retrainer` command, on the fraud model unless it names one (as a user of the CLI sets
        RETRAINER_MODEL with two models configured). Airflow's own processes get no RETRAINER_MODEL: each
        DAG names its model, as shipped."""
        env = self.env | {"RETRAINER_MODEL": "fraud-xgb"} | (env or {})
        done = processes.run([str(BIN / "retrainer"), *args], env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def airflow(self, *args: str) -> str:
        """An Airflow CLI command in this environment."""
        done = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    def dags_test(
        self, dag_id: str, logical_date: str, conf: dict | None = None, extra_env: dict | None = None
    ) -> DagRun:
        command = [str(BIN / "airflow"), "dags", "test", dag_id, logical_date]
        if conf:
            command += ["--conf", json.dumps(conf)]
        env = self.env | (extra_env or {})
        done = processes.run(command, env=env, timeout=600)
        log = done.stdout + done.stderr
        states = re.findall(r"DagRun Finished: .*?state=(\w+)", log)
        return DagRun(states[-1] if states else "unknown", log)


@pytest.fixture
def airflow(tmp_path, migrated_db) -> Airflow:
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copy2(migrated_db, home / "airflow.db")
    return Airflow(home, tmp_path / "var")


def _postgres_bin() -> Path:
    """Debian's PostgreSQL server binaries (scripts/test.sh installs the `postgresql` package if missing)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
        )
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server of our own on 127.0.0.1 with an empty `airflow` database; stopped afterwards."""
    import tempfile

    from tests.conftest import _free_port

    bin_dir = _postgres_bin()
    # Not under pytest's tmp_path: that is private to root, and the server may run as another user.
    root = Path(tempfile.mkdtemp(prefix="retrainer-postgres-"))
    data, port = root / "data", _free_port()
    # initdb refuses to run as root: as root (CI), run the server as Debian's `postgres` user.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    run(
        str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"
    )
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "airflow")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/airflow"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
