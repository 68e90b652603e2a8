"""`retrainer suite scaffold`: a new model's suite, or a new feature's expectations, written from a clean
batch for review; the suite then holds every column the params name and judges clean data as passing."""

from __future__ import annotations

import json
import shutil
from datetime import date

import yaml

from retrainer.cli import main
from retrainer.core.models import load_model, suite_columns
from tests.conftest import PROJECT_DIR


def _project(tmp_path, monkeypatch):
    for name in ("models", "expectations"):
        shutil.copytree(PROJECT_DIR / name, tmp_path / name)
    monkeypatch.setenv("RETRAINER_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("RETRAINER_MODEL", "ato-xgb")
    # alerts go somewhere: `models check` refuses a model whose alert connection Airflow cannot resolve
    monkeypatch.setenv("AIRFLOW_CONN_RETRAINER_ALERTS", "https://hooks.example.com")
    return tmp_path


def test_a_new_feature_gets_its_expectations_and_nothing_else_changes(tmp_path, var_dir, monkeypatch):
    project = _project(tmp_path, monkeypatch)
    assert main(["generate", "--end", "2026-11-15", "--days", "7", "--rows-per-day", "300"]) == 0
    suite_path = project / "expectations/ato-logins.json"
    suite = json.loads(suite_path.read_text())
    # The suite before `sessions_24h` was a feature: its expectations and its place in the column set gone.
    suite["expectations"] = [e for e in suite["expectations"] if e["kwargs"].get("column") != "sessions_24h"]
    for e in suite["expectations"]:
        if e["type"] == "expect_table_columns_to_match_set":
            e["kwargs"]["column_set"].remove("sessions_24h")
    suite_path.write_text(json.dumps(suite, indent=2))
    before = {json.dumps(e, sort_keys=True) for e in suite["expectations"]}
    assert main(["models", "check"]) == 1  # the params name a column the suite lacks

    assert main(["suite", "scaffold", "--as-of", "2026-11-16"]) == 0
    after = json.loads(suite_path.read_text())
    added = [e for e in after["expectations"] if json.dumps(e, sort_keys=True) not in before]
    # the column's own expectations, and the table's exact column set now holding it
    assert {e["kwargs"].get("column") for e in added} == {"sessions_24h", None}
    [column_set] = [e for e in added if e["type"] == "expect_table_columns_to_match_set"]
    assert "sessions_24h" in column_set["kwargs"]["column_set"]
    assert {e["type"] for e in added} >= {
        "expect_column_to_exist",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_be_between",
        "expect_column_unique_value_count_to_be_between",
    }
    assert "sessions_24h" in suite_columns(after)
    assert main(["models", "check"]) == 0


def test_a_new_models_suite_is_scaffolded_and_passes_a_clean_batch(tmp_path, var_dir, monkeypatch):
    import pandas as pd

    from retrainer.data.contracts import load_suite, run_suite
    from retrainer.data.extract import read_window

    project = _project(tmp_path, monkeypatch)
    (project / "expectations/ato-logins.json").unlink()
    assert main(["generate", "--end", "2026-11-15", "--days", "7", "--rows-per-day", "300"]) == 0
    assert main(["suite", "scaffold", "--as-of", "2026-11-16"]) == 0
    params = load_model(project, "ato-xgb")  # the suite now holds every column the params name
    suite = json.loads((project / "expectations/ato-logins.json").read_text())
    assert suite["name"] == "ato-logins" and yaml.safe_dump(suite)
    from retrainer.storage import open_storage

    source = open_storage((var_dir / "source/ato").as_uri())
    start, end = pd.Timestamp("2026-11-09", tz="UTC"), pd.Timestamp("2026-11-16", tz="UTC")
    frame, _, _ = read_window(source, start, end, params["model"]["event_time"])
    result = run_suite(
        frame,
        load_suite(project / "expectations/ato-logins.json"),
        {"window_start": start, "window_end": end, "min_rows": 1},
    )
    assert result.failures == [], [f.describe() for f in result.failures]
    assert date(2026, 11, 9) <= frame["login_ts"].min().date()


def test_a_counter_column_is_expected_to_grow_not_to_stay_in_last_weeks_range(tmp_path):
    """Issue 27: a scaffolded suite warned on every run for a column that only grows (an id, a time
    counter): its range from the profiled week is left behind by every later week."""
    import pandas as pd

    from retrainer.data.contracts import load_suite, run_suite
    from retrainer.data.scaffold import column_expectations

    def week(n: int) -> pd.DataFrame:
        start = n * 7 * 86_400  # seconds since the service started: a time counter
        return pd.DataFrame({"seconds_since_launch": range(start, start + 7 * 86_400, 600), "n": n})

    found = column_expectations(week(0), "seconds_since_launch", "feature")
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"name": "counters", "expectations": found}))
    assert "expect_column_values_to_be_increasing" in {e["type"] for e in found}
    later = run_suite(week(5), load_suite(path))
    assert later.failures == []  # no warning on a later week for being a later week
    shuffled = week(5).sample(frac=1.0, random_state=1)  # a counter out of order is still reported
    assert [f.expectation for f in run_suite(shuffled, load_suite(path)).failures] == [
        "expect_column_values_to_be_increasing"
    ]
