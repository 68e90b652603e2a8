"""`retrainer models check` says where each model's alerts go, as Airflow resolves the alert connection,
and refuses (exit 1, naming the connection and how to define it) a model whose alerts would go nowhere; a
model whose alerts are turned off says so."""

from __future__ import annotations

import json

import pytest
import yaml

from retrainer.cli import main
from tests.conftest import copy_configuration

HOOK = {"conn_type": "http", "host": "hooks.example.com", "schema": "https"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the project's models and suites, pointed at as a user would, no alert connection set."""
    copy_configuration(tmp_path, ("models", "expectations"))
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("RETRAINER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("RETRAINER_MODEL", raising=False)
    for name in ("AIRFLOW_CONN_RETRAINER_ALERTS", "AIRFLOW_CONN_FRAUD_PAGER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _set_alerts(project, model: str, alerts: dict) -> None:
    path = project / "models" / model / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["alerts"] = alerts
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _lines(capsys) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())


def test_models_check_refuses_alerts_that_would_go_nowhere_and_says_where_they_go(
    project, capsys, monkeypatch
):
    assert main(["models", "check"]) == 1
    lines = _lines(capsys)
    with capsys.disabled():
        print("\nfraud-xgb: " + lines["fraud-xgb"])
    assert set(lines) == {"ato-xgb", "fraud-xgb", "raw-fraud-xgb"}
    for line in lines.values():
        assert line.startswith("REFUSED; ALERTS UNDELIVERABLE: alert connection 'retrainer_alerts'")
        assert "AIRFLOW_CONN_RETRAINER_ALERTS=" in line and "alerts.enabled: false" in line  # the two fixes

    monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", json.dumps(HOOK))  # as a user defines it
    assert main(["models", "check"]) == 0
    lines = _lines(capsys)
    with capsys.disabled():
        print("fraud-xgb: " + lines["fraud-xgb"])
    assert lines["fraud-xgb"] == (
        "ok; alerts to https://hooks.example.com (connection retrainer_alerts, http, "
        "from environment AIRFLOW_CONN_RETRAINER_ALERTS)"
    )

    # a model with its own pager that nobody defined is refused; one with its alerts off says so, and passes
    _set_alerts(project, "fraud-xgb", {"connection": "fraud_pager"})
    _set_alerts(project, "ato-xgb", {"connection": "fraud_pager", "enabled": False})
    assert main(["models", "check"]) == 1
    lines = _lines(capsys)
    assert "'fraud_pager'" in lines["fraud-xgb"] and "AIRFLOW_CONN_FRAUD_PAGER=" in lines["fraud-xgb"]
    assert lines["ato-xgb"].startswith("ok; alerts off (alerts.enabled: false)")
    assert lines["raw-fraud-xgb"].startswith("ok; alerts to https://hooks.example.com")


def test_a_connection_without_a_host_is_no_destination(project, capsys, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", json.dumps({"conn_type": "http"}))
    assert main(["models", "check"]) == 1
    assert "defined but has no host to post to" in _lines(capsys)["fraud-xgb"]
