"""Two versions side by side (issue 22 item 2): metrics with their intervals, every gate and slice, costs,
the params diff, window and rows, data hashes, features added and removed, calibration, approvals and
deployment moves, from real registry records (registered through `register_run`, as evaluate and train
leave a run); the page escapes every value, the plugin route needs a user and 404s an unknown version."""

import copy
import json
import sys
from html import escape

import pytest
import yaml
from fastapi.testclient import TestClient

from retrainer.core import artifacts, layout
from retrainer.core.models import load_model
from retrainer.core.settings import Settings
from retrainer.deployment.approval import ANSWERED, CANARY, decide
from retrainer.registry import compare_html
from retrainer.registry.compare import NoChampion, comparison
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.register import register_run
from retrainer.registry.store import Registry, VersionNotFound
from retrainer.storage import open_storage
from tests.conftest import PROJECT_DIR
from tests.published_run import gate_report, publish_run

MODEL = "fraud-xgb"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def setup(tmp_path):
    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(tmp_path / "var")})
    return settings, open_storage(settings.storage_root)


def _params(**changes) -> dict:
    params = copy.deepcopy(load_model(PROJECT_DIR, MODEL))
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = params
        for part in path:
            node = node[part]
        node[last] = value
    return params


def _gates(run_key: str, model_bytes: bytes, n: int, champion: int | None, slice_name: str) -> dict:
    """A passed gate report as evaluate writes it: metrics, the paired interval against the champion (if
    any), a floor, a per-slice gate, a slice table, costs and the calibration section."""
    metrics = {
        "challenger": {
            "pr_auc": 0.5 + n / 100,
            "roc_auc": 0.9,
            "recall_at_fpr": 0.4,
            "rows": 900,
            "positives": 30,
        }
    }
    gates = [
        {"name": "min_pr_auc", "value": 0.5 + n / 100, "threshold": 0.3, "verdict": "passed", "passed": True},
        {"name": "min_slice_roc_auc", "slice": slice_name, "value": 0.8, "threshold": 0.7,
         "verdict": "passed", "passed": True},
    ]  # fmt: skip
    report = gate_report(run_key, model_bytes, metrics, gates)
    calibration = {
        "method": "isotonic" if n == 2 else "none",
        "fitted_on": {"split": "valid"},
        "uncalibrated": {"ece": 0.05, "brier": 0.03, "mean_score": 0.1, "reliability": []},
        "calibrated": {"ece": 0.01 * n, "brier": 0.02, "mean_score": 0.03, "reliability": []},
    }
    slices = {
        "metric": "roc_auc",
        "rows": [
            {"slice": slice_name, "rows": 300, "positives": 12, "challenger_roc_auc": 0.8 + n / 100,
             "judged": True, "delta": 0.01 if champion else None, "delta_low": -0.02 if champion else None,
             "delta_high": 0.04 if champion else None},
        ],
    }  # fmt: skip
    costs = {"models": {"challenger": {"threshold": 0.2, "alerts": 40 + n, "total": 1000.0 - n}}}
    costs["saved_vs_champion"] = 12.5 if champion else None
    report |= {"champion_version": champion, "slices": slices, "costs": costs, "calibration": calibration}
    if champion:
        report["non_regression"] = {"estimate": 0.01, "low": -0.005, "high": 0.03, "confidence": 0.95}
    return report


def _register(
    setup, n: int, params: dict, champion: int | None = None, slice_name: str = "channel=pos"
) -> int:
    """Publish run n (trained with `params`, tuned and down-sampled as the fit reports it) with a passed
    gate report judged against `champion`, and register it: the version number."""
    settings, storage = setup
    run_key = f"2026-11-{n + 10:02d}T000000Z"
    model_bytes = f"model {n}".encode()
    files = {name: f"{name} of {run_key}".encode() for name in artifacts.PUBLISHED}
    files[artifacts.MODEL] = model_bytes
    files["params.yaml"] = yaml.safe_dump(params).encode()
    files["dvc.lock"] = b"stages: {}\n"
    batches = []
    for day in (n, n + 1):
        batch = f"2026-11-{day:02d}T000000Z"
        uri = storage.put_text(layout.batch_file_key(MODEL, batch, layout.MANIFEST_FILE), "{}")
        batches.append({"run_key": batch, "sha256": f"sha-{day}", "manifest_uri": uri})
    run = publish_run(storage, MODEL, run_key, files, {"challenger": {"pr_auc": 0.5}}, batches)
    run["window"] |= {"rows": 1000 * n, "sha256": f"rows-sha-{n}"}
    run["prepare"] |= {
        "rows_labelled": 900 * n,
        "splits": {
            s: {"rows": r * n, "frauds": n} for s, r in (("train", 600), ("valid", 150), ("holdout", 150))
        },
    }
    run["tuning"] = {"enabled": True, "chosen": {"max_depth": 3 + n, "eta": 0.1}}
    run["fit"] = {"imbalance": {"scale_pos_weight": "auto", "negative_sample_rate": 0.1 * n, "applied": True}}
    storage.put_text(storage.key_of(run["manifest_uri"]), json.dumps(run))
    gates = _gates(run_key, model_bytes, n, champion, slice_name)
    gates_uri, _ = write_sealed(storage, MODEL, run_key, gates)
    for name in (layout.REPORT_MD, layout.REPORT_HTML):
        storage.put_text(layout.run_file_key(MODEL, run_key, name), "report")
    return register_run(settings, storage, run["manifest_uri"], gates_uri, f"manual__{n}")["version"]


@pytest.fixture
def two(setup):
    """v1 the champion (registered first); v2 judged against it, with a changed depth, a new categorical
    level, a hostile slice name, and a 5 % canary answered by a person."""
    _, storage = setup
    first = _register(setup, 1, _params())
    params = _params(train__xgboost__max_depth=7)
    channel = next(iter(params["features"]["categorical"]))
    params["features"]["categorical"][channel] = [*params["features"]["categorical"][channel], "kiosk"]
    params["features"]["numeric"] = params["features"]["numeric"][1:]  # one numeric feature dropped
    second = _register(setup, 2, params, champion=first, slice_name=HOSTILE)
    registry = Registry(storage, MODEL)
    return registry, first, second, channel, _params()["features"]["numeric"][0]


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
    first = _register(setup, 1, _params())
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
    first = _register(setup, 1, _params())
    second = _register(setup, 2, _params(train__xgboost__max_depth=7), champion=first, slice_name=HOSTILE)
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
