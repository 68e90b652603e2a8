"""Register reads the gate report only through the sha256 evaluate recorded for it and judges each gate's
own verdict: an edited metric, a failed gate under a top-level `passed: true`, or an unsealed report is
refused (a verdict), and the version records the sha256 of the report it was registered on."""

import copy
import hashlib
import json

import pytest
import yaml

from retrainer.core import artifacts, layout
from retrainer.core.errors import Rejected
from retrainer.core.models import load_model
from retrainer.core.settings import Settings
from retrainer.registry.gate_report import NotGated, write_sealed
from retrainer.registry.register import register_run
from retrainer.registry.store import Registry
from retrainer.storage import ChecksumMismatch, open_storage
from tests.conftest import PROJECT_DIR
from tests.published_run import gate_report, publish_run

MODEL = "fraud-xgb"
RUN = "2026-11-23T000000Z"
PASSED = {"name": "min_pr_auc", "value": 0.58, "threshold": 0.3, "verdict": "passed", "passed": True}
FAILED = {
    "name": "slice_floor",
    "slice": "region=north",
    "value": 0.41,
    "threshold": 0.6,
    "verdict": "failed",
    "passed": False,
}


@pytest.fixture(params=["local", "s3"])
def run(tmp_path, request):
    """A published run and a passing gate report for it, as evaluate writes them, under a local root and
    on S3 (the local endpoint): (settings, storage, run manifest, gate report)."""
    env = {"RETRAINER_VAR_DIR": str(tmp_path / "var")}
    if request.param == "s3":
        env["RETRAINER_STORAGE_ROOT"] = f"s3://{request.getfixturevalue('s3_env')}/root"
    settings = Settings.from_env(env)
    storage = open_storage(settings.storage_root)
    model_bytes = b"model bytes"
    files = {name: f"{name} bytes".encode() for name in artifacts.PUBLISHED}
    files[artifacts.MODEL] = model_bytes
    files["params.yaml"] = yaml.safe_dump(copy.deepcopy(load_model(PROJECT_DIR, MODEL))).encode()
    files["dvc.lock"] = b"stages: {}\n"
    metrics = {"challenger": {"pr_auc": 0.58, "recall_at_fpr": 0.5}}
    manifest = publish_run(storage, MODEL, RUN, files, metrics)
    for name in (layout.REPORT_MD, layout.REPORT_HTML):
        storage.put_text(layout.run_file_key(MODEL, RUN, name), "report")
    report = gate_report(RUN, model_bytes, metrics, [PASSED])
    return settings, storage, manifest, report


def _register(run, gates_uri: str, gates_sha256: str | None = None) -> dict:
    settings, storage, manifest, _ = run
    uri = manifest["manifest_uri"]
    return register_run(settings, storage, uri, gates_uri, "manual__t", gates_sha256=gates_sha256)


def _versions(run) -> list:
    return Registry(run[1], MODEL).versions()


def test_the_version_records_the_sha256_of_the_gate_report_it_was_registered_on(run):
    settings, storage, manifest, report = run
    uri, sha256 = write_sealed(storage, MODEL, RUN, report)
    assert sha256 == hashlib.sha256(storage.get_bytes(storage.key_of(uri))).hexdigest()
    registered = _register(run, uri, sha256)
    record = Registry(storage, MODEL).get(registered["version"])
    assert record["gates_sha256"] == sha256 == record["files"][layout.GATES_FILE]["sha256"]


@pytest.mark.parametrize("from_xcom", [True, False], ids=["xcom-sha256", "recorded-sha256"])
def test_a_gate_report_with_an_edited_metric_is_refused(run, from_xcom):
    """Edited after evaluate wrote it (a higher PR-AUC): refused whether register got the sha256 from
    evaluate's XCom or reads the one recorded beside the run."""
    _, storage, _, report = run
    uri, sha256 = write_sealed(storage, MODEL, RUN, report)
    edited = json.loads(storage.get_text(storage.key_of(uri)))
    edited["metrics"]["challenger"]["pr_auc"] = 0.99
    storage.put_text(storage.key_of(uri), json.dumps(edited, indent=2))
    with pytest.raises(ChecksumMismatch, match="gates.json") as refused:
        _register(run, uri, sha256 if from_xcom else None)
    assert isinstance(refused.value, Rejected)  # a verdict: never retried
    assert _versions(run) == []


def test_a_report_whose_top_level_passed_hides_a_failed_gate_is_refused(run):
    _, storage, _, report = run
    uri, sha256 = write_sealed(storage, MODEL, RUN, report | {"passed": True, "gates": [PASSED, FAILED]})
    with pytest.raises(NotGated, match=r"top level says passed, but gate\(s\) failed: slice_floor \[slice"):
        _register(run, uri, sha256)
    assert _versions(run) == []


@pytest.mark.parametrize(
    "gates",
    [
        [PASSED, FAILED | {"passed": True}],  # a failed verdict marked passed
        [PASSED | {"verdict": "failed"}],  # the same, on the only gate
        [],  # nothing judged
    ],
    ids=["failed-marked-passed", "only-gate-failed", "no-gates"],
)
def test_each_gate_is_judged_by_its_own_verdict(run, gates):
    _, storage, _, report = run
    uri, sha256 = write_sealed(storage, MODEL, RUN, report | {"gates": gates})
    with pytest.raises(NotGated):
        _register(run, uri, sha256)
    assert _versions(run) == []


def test_a_gate_report_evaluate_did_not_seal_is_refused(run):
    """Written by hand next to the run (or before reports were sealed): no recorded sha256, no version."""
    _, storage, _, report = run
    uri = storage.put_text(layout.run_file_key(MODEL, RUN, layout.GATES_FILE), json.dumps(report))
    with pytest.raises(NotGated, match=r"gates.sha256.json is missing\); rerun evaluate"):
        _register(run, uri)
    other = storage.put_text(layout.run_file_key(MODEL, RUN, "gates-other.json"), json.dumps(report))
    write_sealed(storage, MODEL, RUN, report)  # the run's sealed report is gates.json, not the other one
    with pytest.raises(NotGated, match="gates-other.json"):
        _register(run, other)
    assert _versions(run) == []
