"""docker-compose.yaml cannot start here (no Docker engine): hold it against the code instead."""

import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.compose_files import dockerfile_image
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
    given = {k for k in common_env | dockerfile_image().env if k.startswith("RETRAINER_")}
    assert given <= read, f"compose or the image set variables the code never reads: {given - read}"
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


def test_the_image_holds_everything_the_runtime_reads():
    image = dockerfile_image()
    copied = dict(image.copies)
    project = image.env["RETRAINER_PROJECT_DIR"]
    # Airflow's default DAG and plugin folders under the base image's AIRFLOW_HOME (/opt/airflow)
    assert copied["dags"] == "/opt/airflow/dags"
    assert copied["plugins"] == "/opt/airflow/plugins"
    for name in ("include", "models", "expectations", "dvc.yaml", "pyproject.toml", "uv.lock"):
        assert copied.get(name) == f"{project}/{name}", f"the image lacks {name}"
    for name in copied:
        assert (PROJECT_DIR / name).exists(), name
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert f"-e {project}" in dockerfile  # the package installed from the copy the settings point at
    assert "uv pip check" in dockerfile


def test_compose_mounts_no_code_and_development_mounts_shadow_only_what_the_image_holds(compose):
    mounted = [v.rsplit(":", 1)[1] for v in compose["x-airflow-common"]["volumes"]]
    assert sorted(mounted) == ["/opt/airflow/config", "/opt/airflow/logs"]
    copied = dict(dockerfile_image().copies)
    dev = yaml.safe_load((PROJECT_DIR / "docker-compose.dev.yaml").read_text())
    for name, service in dev["services"].items():
        assert name in compose["services"], name
        for volume in service["volumes"]:
            source, target = volume.replace("${AIRFLOW_PROJ_DIR:-.}/", "").rsplit(":", 1)
            assert copied.get(source) == target, f"{volume} mounts what the image does not hold"


def test_every_airflow_service_shares_one_config_and_jwt_secret(compose, common_env):
    assert common_env["AIRFLOW_CONFIG"].startswith("/opt/airflow/config/")
    assert "AIRFLOW_JWT_SECRET:?" in common_env["AIRFLOW__API_AUTH__JWT_SECRET"]  # required, no default
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        for key in ("AIRFLOW_CONFIG", "AIRFLOW__API_AUTH__JWT_SECRET"):
            assert env[key] == common_env[key], (name, key)


def test_auth_is_on_with_simple_auth_manager_users_from_configuration(compose, common_env):
    assert common_env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("simple_auth_manager.SimpleAuthManager")
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS" not in common_env
    assert common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    passwords = common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords.startswith("/opt/airflow/config/")  # a volume: it outlives the api-server container
    assert "_AIRFLOW_WWW_USER" not in (PROJECT_DIR / "docker-compose.yaml").read_text()  # FAB only


def test_minio_healthcheck_needs_no_curl(compose):
    assert compose["services"]["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]


def test_the_git_revision_is_baked_in_at_build_time(compose, common_env):
    args = compose["x-airflow-common"]["build"]["args"]
    assert args["RETRAINER_GIT_REVISION"].startswith("${RETRAINER_GIT_REVISION")
    assert "RETRAINER_GIT_REVISION" not in common_env  # an unset variable at `up` would override the image
    image = dockerfile_image({"RETRAINER_GIT_REVISION": "abc123"})
    assert image.env["RETRAINER_GIT_REVISION"] == "abc123"


def test_the_locked_environment_passes_pip_check():
    uv = shutil.which("uv") or str(PROJECT_DIR / ".cache/uv/bin/uv")
    done = subprocess.run(
        [uv, "pip", "check", "--python", sys.executable], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
