import json
import shutil
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


@pytest.fixture
def as_user(plugin):
    """Log a user in as the api-server would: `get_user` resolves the JWT against the metadata database's
    revoked tokens (no database in a fast test), so only it is replaced; the plugin's own authorization
    (the auth manager's `is_authorized_custom_view`) runs for real."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    create_auth_manager()

    def login(name: str, role: str) -> None:
        plugin.app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username=name, role=role)

    return login


@pytest.fixture
def two_models(var_dir, monkeypatch):
    """The shipped project, where two models are configured and a user sets no RETRAINER_MODEL."""
    monkeypatch.delenv("RETRAINER_MODEL")
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)  # links relative to the UI's host
    from retrainer.core.models import model_names

    assert len(model_names(PROJECT_DIR)) >= 2


def test_registry_page_shows_versions_deployment_lineage_and_audit(
    storage, params, plugin, two_models, as_user
):
    registry = Registry(storage, "fraud-xgb")
    _version(registry, 1)
    registry.set_alias(CHAMPION, 1, "alice", "first <model>", expected=None)
    _version(registry, 2, max_depth=6)
    actions.start_canary(registry, 2, "bob", "try it", params)

    client = TestClient(plugin.app)
    assert client.get("/").status_code == 401  # no token, no cookie: not even the page
    assert client.get("/versions?model=fraud-xgb").status_code == 401
    assert client.get("/versions/1/report.html?model=fraud-xgb").status_code == 401

    as_user("ada", "viewer")
    page = client.get("/")
    assert page.status_code == 200
    text = page.text
    assert "v1" in text and "v2" in text and "champion" in text and "0.4321" in text and "abc1.dir" in text
    assert "mode <b>canary</b>: champion <b>v1</b>, challenger <b>v2</b> deciding <b>5%</b>" in text
    assert "first &lt;model&gt;" in text  # escaped, never raw HTML from the registry
    assert "train.xgboost.max_depth" in text  # params diff against the champion
    assert 'href="/dags/retrain_fraud-xgb/runs/manual__2026-11-02" target="_top"' in text
    assert 'href="versions/2/report.html?model=fraud-xgb"' in text
    assert "canary_started" in text
    assert client.get("/versions/2/report.html?model=fraud-xgb").text == "<h1>gate report 2</h1>"
    assert client.get("/versions/9/report.html?model=fraud-xgb").status_code == 404
    data = client.get("/versions?model=fraud-xgb").json()
    assert data["aliases"]["champion"]["version"] == 1 and data["deployment"]["share"] == 5
    assert client.post("/").status_code == 405  # read-only
    assert plugin.RegistryPlugin.fastapi_apps[0]["url_prefix"] == "/registry"
    assert plugin.RegistryPlugin.external_views[0]["url_route"] == "registry"


def test_every_route_takes_its_model_from_the_request_without_retrainer_model(
    storage, plugin, two_models, as_user, monkeypatch
):
    from retrainer.core import layout

    _version(Registry(storage, "fraud-xgb"), 1)
    run = "2026-11-16T000000Z"
    storage.put_text(f"{layout.data_docs_prefix('fraud-xgb', run)}/index.html", "<h1>docs of fraud-xgb</h1>")
    storage.put_text(f"{layout.data_docs_prefix('fraud-xgb', run)}/static/styles/x.css", "p { }")
    drift = layout.monitoring_file_key("ato-xgb", run, layout.DRIFT_PAGE)
    storage.put_text(drift, "<h1>drift of ato-xgb</h1>")
    storage.put_text("registry/fraud-xgb/deployment.json", "null")
    client = TestClient(plugin.app)
    as_user("ada", "viewer")

    index = client.get("/")
    assert index.status_code == 200
    assert "<h2>fraud-xgb</h2>" in index.text and "<h2>ato-xgb</h2>" in index.text  # every configured model
    # the latest Data Docs and drift report, linked through this plugin (never file:// or s3://)
    docs_link = layout.ui_url(f"{layout.data_docs_prefix('fraud-xgb', run)}/index.html")
    assert f'href="{docs_link}"' in index.text and f'href="{layout.ui_url(drift)}"' in index.text
    assert docs_link == f"/registry/data-docs/fraud-xgb/{run}/index.html"  # relative to the UI's host

    def section(model: str) -> str:  # a model's section: from its heading to the next model's
        return index.text.split(f"<h2>{model}</h2>", 1)[1].split("<section>", 1)[0]

    assert f'href="{docs_link}"' in section("fraud-xgb") and docs_link not in section("ato-xgb")
    assert f'href="{layout.ui_url(drift)}"' in section("ato-xgb")
    assert "file://" not in index.text.split("<h3>Shadow")[0]

    assert client.get("/versions?model=ato-xgb").json()["versions"] == []
    assert client.get("/versions/1/report.html?model=fraud-xgb").status_code == 200  # the gate report
    for unknown in ("/versions?model=nope", "/versions/1/report.html?model=nope"):
        assert client.get(unknown).status_code == 404, unknown
    assert client.get(f"/data-docs/nope/{run}/index.html").status_code == 404

    docs = client.get(f"/data-docs/fraud-xgb/{run}/index.html")
    assert (docs.status_code, docs.text) == (200, "<h1>docs of fraud-xgb</h1>")
    assert docs.headers["content-type"].startswith("text/html")
    assert docs.headers["x-content-type-options"] == "nosniff"
    css = client.get(f"/data-docs/fraud-xgb/{run}/static/styles/x.css")
    assert css.headers["content-type"].startswith("text/css")
    report = client.get(f"/monitoring/ato-xgb/{run}/drift.html")
    assert (report.status_code, report.text) == (200, "<h1>drift of ato-xgb</h1>")
    assert client.get(f"/monitoring/ato-xgb/{run}/missing.html").status_code == 404
    # the pages that hold no script tell the browser to run none: a value that slipped escaping stays inert
    gate_report = client.get("/versions/1/report.html?model=fraud-xgb")
    for page in (index, gate_report, report):
        assert "script-src 'none'" in page.headers["content-security-policy"]

    # nothing outside the served areas, whatever the path says
    storage.put_text("registry/fraud-xgb/secret.json", "{}")
    for path in (
        f"/data-docs/fraud-xgb/{run}/%2e%2e/%2e%2e/%2e%2e/registry/fraud-xgb/secret.json",
        f"/data-docs/fraud-xgb/{run}/..%2f..%2f..%2fregistry/fraud-xgb/secret.json",
        "/monitoring/..%2fregistry/fraud-xgb/x/secret.json",
        "/data-docs/fraud-xgb/../../registry/fraud-xgb/secret.json",
    ):
        assert client.get(path).status_code == 404, path

    # a user whom the auth manager gives no role may not see any of it
    as_user("mallory", "")
    for path in ("/", "/versions?model=fraud-xgb", f"/data-docs/fraud-xgb/{run}/index.html"):
        assert client.get(path).status_code == 403, path

    # with the UI's address configured, the links the platform prints are under it
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/ops/")
    assert layout.ui_url(drift) == f"https://airflow.example.com/ops/registry/{drift}"


def test_a_broken_model_shows_its_error_and_the_others_still_open(
    storage, plugin, two_models, as_user, tmp_path, monkeypatch
):
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR / "models", project / "models")
    shutil.copytree(PROJECT_DIR / "expectations", project / "expectations")
    broken = project / "models" / "ato-xgb" / "params.yaml"
    broken.write_text(broken.read_text().replace("label_delay_days:", "label_delay_dayz:"))
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(project))
    _version(Registry(storage, "fraud-xgb"), 1)
    client = TestClient(plugin.app)
    as_user("ada", "viewer")

    index = client.get("/")
    assert index.status_code == 200
    assert "models/ato-xgb/params.yaml: model.label_delay_dayz: unknown key" in index.text
    assert "<h2>fraud-xgb</h2>" in index.text and "abc1.dir" in index.text
    assert client.get("/versions/1/report.html?model=fraud-xgb").status_code == 200


def test_params_diff_names_each_changed_key():
    assert params_diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == {
        "a.c": (2, 3),
        "d": (None, 4),
    }


def test_a_day_scored_before_the_deployment_moved_is_not_shown_as_running_now(storage, params):
    """Approving *Shadow first* for v3 ended v2's canary: the page's latest scored day (v2's canary day)
    says it was scored under the old revision, not that v2's canary runs."""
    from retrainer.core import layout
    from retrainer.deployment.state import read_or_none
    from retrainer.registry.page import render_model

    registry = Registry(storage, "fraud-xgb")
    _version(registry, 1)
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)
    _version(registry, 2)
    actions.start_canary(registry, 2, "bob", "try it", params)
    canary_revision = read_or_none(registry)["revision"]
    report = {"day": "2026-11-17", "mode": "canary", "share": 5, "deployment_revision": canary_revision}
    storage.put_text(
        f"{layout.scores_area('fraud-xgb')}/2026-11-17/{layout.SCORE_REPORT_FILE}", json.dumps(report)
    )

    assert "has moved since" not in render_model(registry)  # the canary still runs: its day is now
    _version(registry, 3)
    actions.start_shadow(registry, 3, "carol", "shadow first")
    page = render_model(registry)
    assert f"scored under deployment revision {canary_revision} (mode canary)" in page
    assert f"now revision {read_or_none(registry)['revision']}, mode shadow" in page


def test_a_version_s_lineage_says_how_it_was_tuned_balanced_and_calibrated(storage):
    """The registry page's lineage of a version names its search (trials, pruned, seed, what stopped it,
    the valid score as written and chosen, the chosen values), its class imbalance handling and its score
    calibration's holdout ECE, from the version's record, as text; a version without a search says so."""
    from retrainer.registry import page

    registry = Registry(storage, "fraud-xgb")
    tuned, _ = registry.register(
        {"model.ubj": b"m1"},
        {
            "as_of": "2026-11-16T00:00:00+00:00",
            "metrics": {"challenger": {"pr_auc": 0.48}},
            "tuning": {
                "enabled": True,
                "seed": 20261202,
                "metric": "aucpr",
                "trials_run": 20,
                "trials_pruned": 13,
                "stopped_by": "trials",
                "as_written": {"value": 0.4616},
                "best": {"value": 0.4994},
                "chosen": {"max_depth": 3, "learning_rate": 0.0831234},
            },
            "imbalance": {
                "applied": True,
                "scale_pos_weight_used": 99.5,
                "sample": {"negatives_before": 45000, "negatives_after": 4500},
            },
            "calibration": {
                "method": "isotonic<b>",
                "uncalibrated": {"ece": 0.0026, "brier": 0.00724, "mean_score": 0.009},
                "calibrated": {"ece": 0.00113, "brier": 0.00725, "mean_score": 0.01},
            },
        },
        "key1",
        actor="test",
    )
    untuned, _ = registry.register(
        {"model.ubj": b"m2"},
        {"as_of": "2026-11-23T00:00:00+00:00", "tuning": {"enabled": False}},
        "key2",
        actor="test",
    )

    html = page.render(storage, ["fraud-xgb"])
    assert (
        "tuned: 20 trials (13 pruned, seed 20261202, stopped by trials), valid aucpr 0.4616 as written, "
        "0.4994 chosen: max_depth 3, learning_rate 0.08312" in html
    )
    assert "class imbalance: scale_pos_weight 99.5, negatives kept 4500 of 45000" in html
    assert "scores calibrated: isotonic&lt;b&gt;, holdout ECE 0.0026 raw, 0.0011 calibrated" in html
    assert "not tuned: train.xgboost as written" in html and "<b>" not in html
