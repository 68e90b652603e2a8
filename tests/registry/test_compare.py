"""Two versions side by side (issue 22 item 2): metrics with their intervals, every gate and slice, costs,
the params diff, window and rows, data hashes, features added and removed, calibration, approvals and
deployment moves, from real registry records (registered through `register_run`, as evaluate and train
leave a run); the page escapes every value, the plugin route needs a user and 404s an unknown version."""

import json
import sys
from html import escape

import pytest
from fastapi.testclient import TestClient

from retrainer.core import layout
from retrainer.core.settings import Settings
from retrainer.deployment.approval import ANSWERED, CANARY, decide
from retrainer.registry import compare_html
from retrainer.registry.compare import NoChampion, comparison
from retrainer.registry.store import Registry, VersionNotFound
from retrainer.storage import open_storage
from tests.conftest import PROJECT_DIR
from tests.registered_versions import MODEL, model_params, register_version

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def setup(tmp_path):
    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(tmp_path / "var")})
    return settings, open_storage(settings.storage_root)


@pytest.fixture
def two(setup):
    """v1 the champion (registered first); v2 judged against it, with a changed depth, a new categorical
    level, a hostile slice name, and a 5 % canary answered by a person."""
    _, storage = setup
    first = register_version(setup, 1, model_params())
    params = model_params(train__xgboost__max_depth=7)
    channel = next(iter(params["features"]["categorical"]))
    params["features"]["categorical"][channel] = [*params["features"]["categorical"][channel], "kiosk"]
    params["features"]["numeric"] = params["features"]["numeric"][1:]  # one numeric feature dropped
    second = register_version(setup, 2, params, champion=first, slice_name=HOSTILE)
    registry = Registry(storage, MODEL)
    return registry, first, second, channel, model_params()["features"]["numeric"][0]


def test_the_comparison_matches_gates_slices_and_metrics_with_the_paired_interval(two):
    registry, first, second, _, _ = two
    found = comparison(registry, second)  # b defaults to the champion
    assert (found["a"]["version"], found["b"]["version"], found["champion"]) == (second, first, first)
    metrics = {r["name"]: r for r in found["metrics"]}
    assert metrics["pr_auc"]["a"] == pytest.approx(0.52) and metrics["pr_auc"]["b"] == pytest.approx(0.51)
    assert metrics["pr_auc"]["difference"] == pytest.approx(0.01)
    # v2 was judged against v1 on its own holdout: the difference has a paired interval
    paired = found["intervals"]["paired"]
    assert (paired["low"], paired["high"], paired["holdout_of"]) == (-0.005, 0.03, second)
    assert found["intervals"]["b"] is None  # v1 had no champion when judged
    # the other way round, the same interval with its sign flipped
    flipped = comparison(registry, first, second)["intervals"]["paired"]
    assert (flipped["estimate"], flipped["low"], flipped["high"]) == (-0.01, -0.03, 0.005)

    gates = {g["gate"]: g for g in found["gates"]}
    assert gates["min_pr_auc"]["a"] == {"verdict": "passed", "value": pytest.approx(0.52), "threshold": 0.3}
    # a slice gate either version alone was held to shows on its own row, the other side empty
    assert gates[f"min_slice_roc_auc [slice {HOSTILE}]"]["b"] is None
    assert gates["min_slice_roc_auc [slice channel=pos]"]["a"] is None
    slices = {s["slice"]: s for s in found["slices"]}
    assert slices[HOSTILE]["a"]["delta_low"] == -0.02 and slices[HOSTILE]["b"] is None
    assert slices["channel=pos"]["b"]["value"] == pytest.approx(0.81)
    costs = {r["name"]: r for r in found["costs"]}
    assert (costs["alerts"]["a"], costs["alerts"]["b"], costs["alerts"]["difference"]) == (42, 41, 1)


def test_the_params_diff_names_only_what_differs_with_tuning_imbalance_and_calibration(two):
    registry, first, second, _, _ = two
    diff = {r["key"]: (r["a"], r["b"]) for r in comparison(registry, second, first)["params"]}
    assert diff["params.train.xgboost.max_depth"][0] == 7
    assert diff["tuning.chosen.max_depth"] == (5, 4)
    assert diff["imbalance.negative_sample_rate"] == pytest.approx((0.2, 0.1))
    assert diff["calibration.method"] == ("isotonic", "none")
    assert "params.train.seed" not in diff and "tuning.chosen.eta" not in diff  # the same in both


def test_features_added_and_removed_window_rows_and_data_hashes(two):
    registry, first, second, channel, dropped = two
    found = comparison(registry, second, first)
    assert found["features"]["added"] == [f"{channel}=kiosk"]
    assert found["features"]["removed"] == [dropped]
    window = {r["name"]: r for r in found["window"]}
    assert (window["train rows"]["a"], window["train rows"]["b"]) == (1200, 600)
    assert window["holdout positives"]["a"] == 2 and window["rows in window"]["difference"] == 1000
    data = {r["name"]: r for r in found["data"]}
    assert data["data hash (dvc)"]["a"] != data["data hash (dvc)"]["b"]
    assert data["training rows sha256"]["a"] == "rows-sha-2"
    assert found["batches"]["a"] == {"2026-11-02T000000Z": "sha-2", "2026-11-03T000000Z": "sha-3"}
    calibration = {r["name"]: r for r in found["calibration"]}
    assert calibration["ECE after"]["difference"] == pytest.approx(0.01)


def test_who_approved_and_how_it_was_deployed_come_from_the_audit_log(two, params):
    registry, first, second, _, _ = two
    registered = {"version": second, "aliases": registry.aliases_by_version()[second]}
    answer = {
        "chosen_options": [CANARY],
        "responded_by_user": {"name": "carol"},
        "responded_at": "2026-11-20T10:00:00+00:00",
        "params_input": {"comment": "looks right"},
    }
    decide(registry, registered, answer, "required", params)
    history = comparison(registry, second)["history"]["a"]
    assert history["answer"][0]["actor"] == "carol" and history["answer"][0]["comment"] == "looks right"
    assert [e["event"] for e in history["approvals"]] == [ANSWERED]
    canary = [e for e in history["moves"] if e["event"] == "canary_started"]
    assert canary and canary[0]["mode"] == "canary" and canary[0]["actor"] == "carol"
    assert canary[0]["share"] == params["deployment"]["canary"]["steps"][0]
    assert comparison(registry, second)["history"]["b"]["approvals"] == []  # v1: champion without one


def test_unknown_versions_and_a_missing_champion_are_named(setup):
    _, storage = setup
    registry = Registry(storage, MODEL)
    with pytest.raises(NoChampion, match="fraud-xgb has no champion to compare v1 with"):
        comparison(registry, 1)
    first = register_version(setup, 1, model_params())
    with pytest.raises(VersionNotFound, match="fraud-xgb has no version 9"):
        comparison(registry, 9, first)


def test_a_tampered_gate_report_is_refused_and_said_so(two):
    registry, first, second, _, _ = two
    entry = registry.get(second)["files"][layout.GATES_FILE]
    registry.storage.put_text(entry["key"], json.dumps({"gates": [{"name": "forged", "verdict": "passed"}]}))
    found = comparison(registry, second, first)
    assert any(f"v{second}" in p and "sha256" in p for p in found["problems"])
    labels = [g["gate"] for g in found["gates"]]
    assert "forged" not in labels and "min_pr_auc" in labels  # the record's own gates stand in


def test_the_page_escapes_every_value(two):
    registry, first, second, _, _ = two
    page = compare_html.render(comparison(registry, second))
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page
    assert f"v{second} against v{first} (champion)" in page
    assert f'href="versions/{second}/report.html?model=fraud-xgb"' in page


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "plugins"))
    sys.modules.pop("registry_plugin", None)
    import registry_plugin

    yield registry_plugin
    registry_plugin.app.dependency_overrides.clear()


def test_the_route_needs_a_user_and_404s_an_unknown_version(setup, plugin, monkeypatch, tmp_path):
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    for name in ("RETRAINER_STORAGE_ROOT", "RETRAINER_MODEL", "RETRAINER_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    first = register_version(setup, 1, model_params())
    second = register_version(
        setup, 2, model_params(train__xgboost__max_depth=7), champion=first, slice_name=HOSTILE
    )
    client = TestClient(plugin.app)
    assert client.get(f"/compare?model={MODEL}&a={second}").status_code == 401  # no token, no cookie

    create_auth_manager()
    plugin.app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="ada", role="viewer")
    page = client.get(f"/compare?model={MODEL}&a={second}")
    assert page.status_code == 200
    assert f"v{second} against v{first} (champion)" in page.text and "train.xgboost.max_depth" in page.text
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert HOSTILE not in page.text
    missing = client.get(f"/compare?model={MODEL}&a=9")
    assert missing.status_code == 404 and "fraud-xgb has no version 9" in missing.text
    assert client.get(f"/compare?model=nope&a={second}").status_code == 404
    # the registry page links each non-champion version to its comparison with the champion
    index = client.get("/").text
    assert f'href="{escape(layout.compare_route(MODEL, second))}">compare with champion' in index
    assert escape(layout.compare_route(MODEL, first)) not in index  # the champion itself: no link

    plugin.app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="mallory", role="")
    assert client.get(f"/compare?model={MODEL}&a={second}").status_code == 403
