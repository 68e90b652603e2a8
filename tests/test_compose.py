"""docker-compose.yaml cannot start here (no Docker engine): hold it against the code instead."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def common_env(compose):
    return compose["services"]["airflow-scheduler"]["environment"]


def _locked_version(package: str) -> str:
    lock = tomllib.loads((PROJECT_DIR / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


def test_it_has_the_services_of_airflows_official_compose_plus_minio(compose):
    services = set(compose["services"])
    assert AIRFLOW_SERVICES | {"postgres", "redis", "minio", "minio-init"} <= services
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert "healthcheck" in compose["services"][name], f"{name} has no healthcheck"


def test_image_is_the_locked_airflow_version():
    airflow = _locked_version("apache-airflow")
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow)}-python3\.11$", dockerfile, re.M)
    compose_text = (PROJECT_DIR / "docker-compose.yaml").read_text()
    assert f"retrainer-airflow:{airflow}" in compose_text
    uv = re.search(r"UV_VERSION=(\S+)", (PROJECT_DIR / "scripts/bootstrap.sh").read_text()).group(1)
    assert f"uv=={uv}" in dockerfile


def test_celery_executor_uses_the_redis_and_postgres_services(compose, common_env):
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "@redis:" in common_env["AIRFLOW__CELERY__BROKER_URL"]
    assert "@postgres/" in common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
    for name in AIRFLOW_SERVICES:
        assert (
            compose["services"][name]["environment"]["RETRAINER_STORAGE_ROOT"]
            == common_env["RETRAINER_STORAGE_ROOT"]
        )


def test_every_retrainer_variable_is_one_the_code_reads(common_env):
    source = "\n".join(p.read_text() for p in (PROJECT_DIR / "include/retrainer").rglob("*.py"))
    read = set(re.findall(r"\"(RETRAINER_[A-Z_]+)\"", source))
    given = {k for k in common_env if k.startswith("RETRAINER_")}
    assert given <= read, f"compose sets variables the code never reads: {given - read}"
    assert {"RETRAINER_STORAGE_ROOT", "RETRAINER_SOURCE_ROOT", "RETRAINER_DVC_REMOTE"} <= given


def test_storage_lives_in_a_bucket_that_minio_init_creates(compose, common_env):
    buckets = set(
        re.findall(
            r"mc mb --ignore-existing local/([\w.-]+)", compose["services"]["minio-init"]["entrypoint"]
        )
    )
    for key in ("RETRAINER_STORAGE_ROOT", "RETRAINER_SOURCE_ROOT", "RETRAINER_DVC_REMOTE"):
        assert common_env[key].startswith("s3://")
        assert common_env[key].split("/")[2] in buckets
    assert common_env["AWS_ENDPOINT_URL"] == "http://minio:9000"


def test_mounts_put_the_project_where_the_settings_look(compose, common_env):
    mounts = (v.rsplit(":", 1) for v in compose["services"]["airflow-worker"]["volumes"])
    volumes = {target: source.replace("${AIRFLOW_PROJ_DIR:-.}/", "") for source, target in mounts}
    assert volumes["/opt/airflow/dags"] == "dags"
    assert volumes["/opt/airflow/plugins"] == "plugins"
    project = common_env["RETRAINER_PROJECT_DIR"]
    for name in ("include", "expectations", "dvc.yaml", "params.yaml"):
        assert volumes[f"{project}/{name}"] == name
        assert (PROJECT_DIR / name).exists()
    # the package is installed editable from the project dir, so the mounted include/ is the code that runs
    assert f"-e {project}" in (PROJECT_DIR / "Dockerfile").read_text()
    assert Path(project, "include").as_posix() in (PROJECT_DIR / "Dockerfile").read_text()
