import sys

from fastapi.testclient import TestClient

from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from tests.conftest import PROJECT_DIR


def test_registry_page_lists_versions_aliases_and_audit(storage, monkeypatch):
    registry = Registry(storage, "fraud-xgb")
    record, _ = registry.register(
        {"model.ubj": b"m"},
        {
            "as_of": "2026-11-16T00:00:00+00:00",
            "data_hash": "abc.dir",
            "metrics": {"challenger": {"pr_auc": 0.4321}},
            "git": {"commit": "0123456789abcdef"},
            "airflow_run_id": "manual__x",
        },
        "key",
        actor="test",
    )
    registry.set_alias(CHAMPION, record["version"], "alice", "first <model>", expected=None)
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "plugins"))
    sys.modules.pop("registry_plugin", None)
    import registry_plugin

    client = TestClient(registry_plugin.app)
    page = client.get("/")
    assert page.status_code == 200
    assert "v1" in page.text and "champion" in page.text and "0.4321" in page.text and "abc.dir" in page.text
    assert "first &lt;model&gt;" in page.text  # escaped, never raw HTML from the registry
    data = client.get("/versions").json()
    assert data["aliases"]["champion"]["version"] == 1
    assert client.post("/").status_code == 405  # read-only
    assert registry_plugin.RegistryPlugin.fastapi_apps[0]["url_prefix"] == "/registry"
