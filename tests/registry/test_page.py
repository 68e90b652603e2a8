import sys

import pytest
from fastapi.testclient import TestClient

from retrainer.deployment import actions
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.page import params_diff
from retrainer.registry.store import Registry
from tests.conftest import PROJECT_DIR


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "plugins"))
    sys.modules.pop("registry_plugin", None)
    import registry_plugin

    yield registry_plugin
    registry_plugin.app.dependency_overrides.clear()


def _version(registry, n: int, **params) -> int:
    record, _ = registry.register(
        {"model.ubj": f"m{n}".encode(), "report.html": f"<h1>gate report {n}</h1>".encode()},
        {
            "as_of": "2026-11-16T00:00:00+00:00",
            "data_hash": f"abc{n}.dir",
            "dvc_lock_hashes": {"data/batches": f"abc{n}.dir"},
            "batches": [f"file:///s/batches/fraud-xgb/run{n}/manifest.json"],
            "metrics": {"challenger": {"pr_auc": 0.4321}},
            "git": {"commit": "0123456789abcdef"},
            "airflow_run_id": f"manual__2026-11-{n:02d}",
            "params": {"train": {"xgboost": {"max_depth": 5, **params}}},
            "gates": [{"name": "min_pr_auc", "verdict": "passed"}],
        },
        f"key{n}",
        actor="test",
    )
    return record["version"]


def test_registry_page_shows_versions_deployment_lineage_and_audit(storage, params, plugin):
    from airflow.api_fastapi.core_api.security import get_user

    registry = Registry(storage, "fraud-xgb")
    _version(registry, 1)
    registry.set_alias(CHAMPION, 1, "alice", "first <model>", expected=None)
    _version(registry, 2, max_depth=6)
    actions.start_canary(registry, 2, "bob", "try it", params)

    client = TestClient(plugin.app)
    assert client.get("/").status_code == 401  # no token, no cookie: not even the page
    assert client.get("/versions").status_code == 401
    assert client.get("/versions/1/report.html").status_code == 401

    plugin.app.dependency_overrides[get_user] = lambda: "a user"
    page = client.get("/")
    assert page.status_code == 200
    text = page.text
    assert "v1" in text and "v2" in text and "champion" in text and "0.4321" in text and "abc1.dir" in text
    assert "mode <b>canary</b>: champion <b>v1</b>, challenger <b>v2</b> deciding <b>5%</b>" in text
    assert "first &lt;model&gt;" in text  # escaped, never raw HTML from the registry
    assert "train.xgboost.max_depth" in text  # params diff against the champion
    assert 'href="/dags/retrain_fraud/runs/manual__2026-11-02" target="_top"' in text
    assert 'href="versions/2/report.html?model=fraud-xgb"' in text
    assert "canary_started" in text
    assert client.get("/versions/2/report.html").text == "<h1>gate report 2</h1>"
    assert client.get("/versions/9/report.html").status_code == 404
    data = client.get("/versions").json()
    assert data["aliases"]["champion"]["version"] == 1 and data["deployment"]["share"] == 5
    assert client.post("/").status_code == 405  # read-only
    assert plugin.RegistryPlugin.fastapi_apps[0]["url_prefix"] == "/registry"
    assert plugin.RegistryPlugin.external_views[0]["url_route"] == "registry"


def test_params_diff_names_each_changed_key():
    assert params_diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == {
        "a.c": (2, 3),
        "d": (None, 4),
    }
