"""A registered version's lineage records the feature definitions it was trained with and their hash (a
changed definition, a changed hash), and the registry page shows them, escaped."""

import copy

import pytest
import yaml

from retrainer.core import artifacts, layout
from retrainer.core.feature_declarations import definitions_hash
from retrainer.core.models import load_model
from retrainer.core.settings import Settings
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.page import render
from retrainer.registry.register import register_run
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from tests.conftest import PROJECT_DIR
from tests.published_run import gate_report, publish_run

MODEL = "fraud-xgb"
WINDOWS = [{"entity": "customer_id", "value": "amount", "aggregations": ["mean"], "windows": ["30d"]}]
COMPARISON = {  # what `measure` adds for a model with derived features (evaluation.holdout)
    "comparable": True,
    "derived": 1,
    "features": 6,
    "columns": ["amount", "account_age_days", "channel"],
    "challenger_pr_auc": 0.5812,
    "challenger_roc_auc": 0.95,
    "challenger_features": 7,
    "pr_auc": 0.0437,
    "roc_auc": 0.61,
    "lift": 0.5375,
}


@pytest.fixture
def setup(tmp_path):
    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(tmp_path / "var")})
    return settings, open_storage(settings.storage_root)


def _params(derived: dict | None = None) -> dict:
    params = copy.deepcopy(load_model(PROJECT_DIR, MODEL))
    params["features"]["derived"] = derived or {}
    return params


def _register(setup, run_key: str, params: dict, comparison: dict | None = None) -> dict:
    """Publish a run trained with `params` and a passed gate report for it, register it; the version."""
    settings, storage = setup
    model_bytes = f"model of {run_key}".encode()
    files = {name: f"{name} of {run_key}".encode() for name in artifacts.PUBLISHED}
    files[artifacts.MODEL] = model_bytes
    files["params.yaml"] = yaml.safe_dump(params).encode()
    files["dvc.lock"] = b"stages: {}\n"
    metrics = {"challenger": {"pr_auc": 0.58, "recall_at_fpr": 0.5}}
    measured = metrics | ({"raw_columns": comparison} if comparison else {})
    run = publish_run(storage, MODEL, run_key, files, measured)
    gates = gate_report(
        run_key, model_bytes, metrics, [{"name": "min_pr_auc", "verdict": "passed", "passed": True}]
    )
    gates |= {"raw_columns": comparison} if comparison else {}
    gates_uri, _ = write_sealed(storage, MODEL, run_key, gates)  # as evaluate writes it
    for name in (layout.REPORT_MD, layout.REPORT_HTML):
        storage.put_text(layout.run_file_key(MODEL, run_key, name), "report")
    registered = register_run(settings, storage, run["manifest_uri"], gates_uri, "manual__test")
    return Registry(storage, MODEL).get(registered["version"])


def test_a_version_records_its_feature_definitions_and_their_hash(setup):
    params = _params({"windows": WINDOWS, "threads": 2})
    record = _register(setup, "2026-11-23T000000Z", params, COMPARISON)
    features = record["features"]
    assert features["definitions"] == {"windows": WINDOWS}  # the engine's settings are not definitions
    assert features["definitions_hash"] == definitions_hash(params)
    assert features["derived"] == ["customer_id__amount_mean_30d"]
    assert record["raw_columns"] == COMPARISON


def test_a_changed_definition_is_a_changed_hash_and_a_new_version(setup):
    first = _register(setup, "2026-11-23T000000Z", _params({"windows": WINDOWS}))
    longer = [WINDOWS[0] | {"windows": ["7d", "30d"]}]
    second = _register(setup, "2026-11-23T000000Z", _params({"windows": longer}))
    assert second["version"] != first["version"]
    assert second["features"]["definitions_hash"] != first["features"]["definitions_hash"]
    assert second["features"]["derived"] == ["customer_id__amount_mean_7d", "customer_id__amount_mean_30d"]


def test_a_model_without_derived_features_records_empty_definitions(setup):
    record = _register(setup, "2026-11-23T000000Z", _params())
    assert record["features"]["definitions"] == {} and record["features"]["derived"] == []
    # one hash for "none", however the params spell it
    assert record["features"]["definitions_hash"] == definitions_hash({"features": {"numeric": ["amount"]}})
    assert "raw_columns" not in record


def test_the_registry_page_shows_the_definitions_hash_and_the_raw_columns_comparison(setup):
    _, storage = setup
    record = _register(setup, "2026-11-23T000000Z", _params({"windows": WINDOWS}), COMPARISON)
    page = render(storage, [MODEL])
    assert f"feature definitions hash <code>{record['features']['definitions_hash']}</code>" in page
    assert "<code>customer_id__amount_mean_30d</code>" in page
    assert "declared features vs raw columns alone: PR-AUC 0.5812 against 0.0437, lift +0.5375" in page


def test_the_registry_page_escapes_feature_names_from_the_params(setup):
    _, storage = setup
    hostile = [WINDOWS[0] | {"entity": "<img src=x onerror=alert(1)>"}]
    _register(setup, "2026-11-23T000000Z", _params({"windows": hostile}))
    page = render(storage, [MODEL])
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;__amount_mean_30d" in page
