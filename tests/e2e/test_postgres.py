"""Airflow on a PostgreSQL metadata database, as the docs describe: only the connection URL changes."""

import json
import subprocess

import pytest

from tests.e2e.conftest import BIN, Airflow

pytestmark = pytest.mark.e2e


def test_retraining_runs_with_postgres_as_the_metadata_database(tmp_path, postgres_url):
    airflow = Airflow(tmp_path / "airflow", tmp_path / "var")
    airflow.home.mkdir()
    env = airflow.env | {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_url}
    migrate = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    airflow.retrainer("generate", "--end", "2026-11-15", "--days", "70")

    run = airflow.dags_test("retrain_fraud-xgb", "2026-11-16", {"extract_window_days": 56}, extra_env=env)
    assert run.state == "success", run.log[-5000:]
    assert not (airflow.home / "airflow.db").exists()  # nothing fell back to SQLite

    import psycopg2

    connection = psycopg2.connect(postgres_url.replace("postgresql+psycopg2", "postgresql"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT state FROM dag_run WHERE dag_id = 'retrain_fraud-xgb'")
            assert cursor.fetchall() == [("success",)]
    finally:
        connection.close()
    versions = json.loads(airflow.retrainer("registry", "list", "--json"))
    assert [v["aliases"] for v in versions] == [["champion"]]
