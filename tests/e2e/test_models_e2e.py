"""Many models side by side through real Airflow, in one AIRFLOW_HOME, one storage root, one registry and one
DVC remote: the shipped fraud and account-takeover models each retrained on their own logical date, and a
third model added to a copy of the project by writing only a model folder and its suite (scaffolded from a
clean batch): zero Python files touched, and its generated DAG runs end to end."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.e2e

FIRST_RUN = {"extract_window_days": 56}
# A third model: logins again, under a source of its own, fewer features, its own label delay and gates.
THIRD = {
    "model": {
        "name": "ato-lite",
        "description": "A lighter account-takeover model, added with configuration only",
        "tags": ["account-takeover"],
        "id_column": "login_id",
        "event_time": "login_ts",
        "label": "is_takeover",
        "label_delay_days": 10,
    },
    "source": {"prefix": "ato-lite", "synthetic": "account_logins"},
    "data": {"start_date": "2026-01-05", "label_maturity_days": 10, "suite": "ato-lite"},
    "features": {
        "numeric": [
            "failed_attempts_1h",
            "new_device",
            "new_country",
            "ip_distance_km",
            "typing_speed_ratio",
        ],
        "categorical": {"platform": ["web", "ios", "android"]},
    },
    "evaluate": {"rule": "failed_attempts_1h + 2 * new_device"},
    "slices": {"levels": ["platform"]},
    "costs": {"amount_column": None, "review_cost": 0.2},
    "gates": {"min_pr_auc": 0.2, "min_recall_at_fpr": 0.15, "min_slice_roc_auc": 0.75},
}


@pytest.fixture
def project(tmp_path):
    """A copy of the project as a deployment holds it: DAGs, plugins, model folders, suites, pipeline."""
    copy = tmp_path / "project"
    for name in ("dags", "plugins", "models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, copy / name)
    shutil.copy2(PROJECT_DIR / "dvc.yaml", copy / "dvc.yaml")
    return copy


def _python_files(root):
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*.py")}


def _registry(airflow, model):
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage

    return Registry(open_storage((airflow.var / "storage").as_uri()), model)


def test_models_side_by_side_and_a_third_added_with_configuration_only(airflow, project):
    airflow.project = project
    python_before = _python_files(project)
    # The third model: a folder and a suite, nothing else. Its source first (the demo's generator).
    (project / "models/ato-lite").mkdir()
    (project / "models/ato-lite/params.yaml").write_text(yaml.safe_dump(THIRD, sort_keys=False))
    for model, rate in (("fraud-xgb", "0.01"), ("ato-xgb", "0.03"), ("ato-lite", "0.03")):
        airflow.retrainer(
            "generate", "--model", model, "--end", "2026-11-15", "--days", "70", "--fraud-rate", rate
        )
    scaffolded = json.loads(
        airflow.retrainer("suite", "scaffold", "--model", "ato-lite", "--as-of", "2026-11-09")
    )
    assert scaffolded["suite"] == str(project / "expectations/ato-lite.json")
    # where the models' alerts go, defined in Airflow's metadata DB as an operator does in the UI
    airflow.airflow(
        "connections", "add", "retrainer_alerts", "--conn-type", "http", "--conn-host", "hooks.example"
    )
    checked = airflow.retrainer("models", "check", env={"RETRAINER_MODEL": ""})
    assert "ato-lite: ok; alerts to http://hooks.example (connection retrainer_alerts" in checked
    assert _python_files(project) == python_before  # zero Python files touched

    listed = airflow.airflow("dags", "list", "--local", "--output", "json")  # as the DAG processor parses
    dag_ids = {d["dag_id"] for d in json.loads(listed[listed.rindex("\n[") :])}
    for model in ("fraud-xgb", "ato-xgb", "ato-lite"):
        assert {f"retrain_{model}", f"monitor_{model}", f"score_{model}", f"deploy_{model}"} <= dag_ids

    # Each model on its own logical date, in the same AIRFLOW_HOME, storage root, registry and DVC remote.
    for model, logical_date in (
        ("fraud-xgb", "2026-11-16"),
        ("ato-xgb", "2026-11-09"),
        ("ato-lite", "2026-11-16"),
    ):
        run = airflow.dags_test(f"retrain_{model}", logical_date, FIRST_RUN)
        assert run.state == "success", run.log[-3000:]
        assert set(run.tasks.values()) <= {"success", "skipped"} and run.tasks["register"] == "success"
        champion = _registry(airflow, model).get("champion")
        assert champion["version"] == 1 and champion["run_key"] == f"{logical_date}T000000Z"
        assert champion["params"]["model"]["name"] == model
        lock = (airflow.var / "work" / model / champion["run_key"] / "dvc.yaml").read_text()
        assert list(yaml.safe_load(lock)["artifacts"]) == [model]  # DVC's artifact is named after the model

    registry = airflow.retrainer("registry", "list", env={"RETRAINER_MODEL": ""})
    for model in ("fraud-xgb", "ato-xgb", "ato-lite"):
        assert f"{model}:\nv1 champion" in registry
    ato = _registry(airflow, "ato-xgb").get("champion")
    assert ato["params"]["model"]["label_delay_days"] == 14 and "label_time" not in ato["params"]["model"]
    assert {p.name for p in (airflow.var / "storage/batches").iterdir()} == {
        "fraud-xgb",
        "ato-xgb",
        "ato-lite",
    }

    from retrainer.registry.page import render
    from retrainer.storage import open_storage

    page = render(open_storage((airflow.var / "storage").as_uri()))
    assert "Models: ato-lite, ato-xgb, fraud-xgb." in page  # one section per registered model
