"""Warnings a person sees (issue 28, item 3): a warning-level expectation that fails on a generated batch
reaches the validate task's log summary, `validation.json`, the model's alert connection (a receiver on
127.0.0.1) and the registry page of the version trained on that batch, escaped."""

from __future__ import annotations

import json
import logging
from datetime import date
from types import SimpleNamespace

import pytest
import yaml

from retrainer.core import artifacts, layout
from retrainer.core.models import load_model
from retrainer.core.settings import Settings
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.page import render
from retrainer.registry.register import register_run
from retrainer.storage import open_storage
from retrainer.synthetic import GeneratorConfig, generate
from retrainer.tasks import retrain
from tests.conftest import AS_OF, copy_configuration, week
from tests.published_run import gate_report, publish_run
from tests.test_alerts import receiving

MODEL = "fraud-xgb"
RUN_KEY = "2026-11-16T000000Z"
SCRIPT = "<script>alert(1)</script>"
# A warning-level expectation the generated week breaks: channels other than "pos" arrive every day. Its
# value set holds markup, which must reach a page only as text.
WARNING = {
    "type": "expect_column_values_to_be_in_set",
    "kwargs": {"column": "channel", "value_set": ["pos", SCRIPT]},
    "severity": "warning",
    "meta": {"notes": "card-present only: a warning, not a verdict"},
}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Settings:
    """A copy of the project whose fraud suite has the warning-level expectation, its storage and a
    generated week of source, as a deployment points at them (`RETRAINER_PROJECT_DIR`, `_VAR_DIR`)."""
    copy_configuration(tmp_path / "project")
    suite_path = tmp_path / "project" / "expectations" / "transactions.json"
    suite = json.loads(suite_path.read_text())
    suite["expectations"].append(WARNING)
    suite_path.write_text(json.dumps(suite, indent=2))
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(tmp_path / "project"))
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    for name in ("RETRAINER_MODEL", "RETRAINER_STORAGE_ROOT", "RETRAINER_SOURCE_ROOT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    source = open_storage(settings.source_root)
    generate(source, date(2026, 11, 9), date(2026, 11, 15), seed=7, config=GeneratorConfig(rows_per_day=300))
    return settings


def _validated(caplog) -> tuple[dict, str]:
    """The week extracted and validated by the retraining DAG's task entry points; their result and the
    contract's summary in the validate task's log."""
    batch = retrain.extract(retrain.Run(*week(AS_OF), run_id=f"scheduled__{RUN_KEY}"), None, MODEL)
    with caplog.at_level(logging.INFO, logger="retrainer.data.validate"):
        validated = retrain.validate(batch["manifest_uri"], None, MODEL)
    [summary] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("contract '")]
    return validated, summary


def _context(result: dict) -> dict:
    """The validate task's success callback context as Airflow gives it: its return value is in XCom."""
    ti = SimpleNamespace(
        dag_id=f"retrain_{MODEL}",
        task_id="validate",
        run_id=f"scheduled__{RUN_KEY}",
        log_url="http://airflow.example/dags/retrain_fraud-xgb/runs/x/tasks/validate",
        xcom_pull=lambda task_ids=None: result if task_ids == "validate" else None,
    )
    return {"ti": ti}


def test_a_warning_reaches_the_log_summary_validation_json_and_the_alert_connection(
    project, caplog, monkeypatch
):
    validated, summary = _validated(caplog)
    print(summary)
    assert validated["success"] and validated["run_key"] == RUN_KEY
    assert "0 critical failure(s), 1 warning(s)" in summary.splitlines()[0]
    [row] = [line.split() for line in summary.splitlines()[1:] if line.split()[0] == "warning"]
    assert row[1:3] == ["expect_column_values_to_be_in_set", "channel"]

    storage = open_storage(project.storage_root)
    stored = json.loads(storage.get_text(storage.key_of(validated["validation_uri"])))
    [warning] = stored["warnings"]
    assert (warning["severity"], warning["column"]) == ("warning", "channel")
    assert warning["expected"]["value_set"] == ["pos", SCRIPT] and warning["unexpected_count"] > 0

    from retrainer_airflow.notifiers import DataWarnings

    notifier = DataWarnings(MODEL, load_model(project.project_dir, MODEL))
    with receiving() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", receiver.connection())
        notifier.notify(_context(validated))
        notifier.notify(_context(validated | {"warnings": []}))  # a batch without warnings: nothing
    [post] = receiver.posts
    print(post["text"])
    assert post["event"] == "data_warnings" and post["model"] == MODEL and post["run_key"] == RUN_KEY
    assert post["validation_uri"] == validated["validation_uri"] and post["warnings"] == validated["warnings"]
    assert post["text"].startswith(f"[{MODEL}] batch {RUN_KEY} passed its contract with 1 warning(s)")
    assert "expect_column_values_to_be_in_set on column 'channel'" in post["text"]
    notifier.notify(_context(validated))  # nobody listening: logged, the run goes on, nothing raised


def test_the_version_trained_on_the_batch_shows_its_warnings_on_the_registry_page_escaped(project, caplog):
    validated, _ = _validated(caplog)
    storage = open_storage(project.storage_root)
    manifest_key = layout.batch_file_key(MODEL, RUN_KEY, layout.MANIFEST_FILE)
    manifest = json.loads(storage.get_text(manifest_key))
    trained_on = {"run_key": RUN_KEY, "manifest_uri": storage.uri(manifest_key), "sha256": manifest["sha256"]}
    # a training run over that batch (published as train_run leaves it), gated and registered
    run_key = "2026-11-23T000000Z"
    params = load_model(project.project_dir, MODEL)
    files = {name: f"{name} of {run_key}".encode() for name in artifacts.PUBLISHED}
    files |= {"params.yaml": yaml.safe_dump(params).encode(), "dvc.lock": b"stages: {}\n"}
    metrics = {"challenger": {"pr_auc": 0.58, "recall_at_fpr": 0.5}}
    run = publish_run(storage, MODEL, run_key, files, metrics, batches=[trained_on])
    gates = gate_report(run_key, files[artifacts.MODEL], metrics, [{"name": "min_pr_auc", "passed": True}])
    gates_uri, _ = write_sealed(storage, MODEL, run_key, gates)
    for name in (layout.REPORT_MD, layout.REPORT_HTML):
        storage.put_text(layout.run_file_key(MODEL, run_key, name), "report")
    registered = register_run(project, storage, run["manifest_uri"], gates_uri, "manual__test")

    page = render(storage, [MODEL])
    section = page.split("<h3>Data warnings</h3>")[1].split("<h3>")[0]
    print(section)
    assert f"<td>v{registered['version']}</td><td>{RUN_KEY}</td>" in section
    assert "expect_column_values_to_be_in_set" in section and "<td>channel</td>" in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and SCRIPT not in page
