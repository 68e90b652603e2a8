"""Through real Airflow (`airflow dags test`): the scheduled 06:00 monitor run of a day that has only 18 of
its 24 hours at the source is not judged. Its `wait_for_days` sensor fails at once with DayNotLanded (the
wait for that day is long over), naming the day and why, never retried; check_drift does not run; and the
model's alert connection receives one post naming the error."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest

from retrainer.core.models import load_model
from retrainer.registry.store import Registry
from retrainer.sources.partitions import partition_key
from retrainer.storage import open_storage
from retrainer.synthetic import GeneratorConfig, generate
from tests.conftest import PROJECT_DIR
from tests.deploy_helpers import champion_and_challenger
from tests.test_alerts import receiving

pytestmark = pytest.mark.e2e


def test_a_partial_day_is_refused_by_name_and_never_judged(airflow):
    source = open_storage(airflow.var / "source")
    generate(source, date(2026, 11, 14), date(2026, 11, 17), seed=7, config=GeneratorConfig(rows_per_day=600))
    frame = pd.read_parquet(io.BytesIO(source.get_bytes(partition_key(date(2026, 11, 17)))))
    cut = frame.loc[pd.to_datetime(frame["event_ts"], utc=True).dt.hour < 18]  # 18 of 24 hours landed
    source.put_bytes(partition_key(date(2026, 11, 17)), cut.to_parquet(index=False))
    params = load_model(PROJECT_DIR, "fraud-xgb")
    champion_and_challenger(Registry(open_storage(airflow.var / "storage"), "fraud-xgb"), params)

    with receiving() as receiver:
        env = {"AIRFLOW_CONN_RETRAINER_ALERTS": receiver.connection()}
        run = airflow.dags_test("monitor_fraud-xgb", "2026-11-18T06:00:00+00:00", extra_env=env)
    print(f"\nmonitor run at 2026-11-18 06:00: {run.state}, tasks {run.tasks}")
    assert run.state == "failed" and run.tasks.get("wait_for_days") == "failed", run.log[-3000:]
    assert run.tasks.get("check_drift") in (None, "upstream_failed"), run.tasks  # never judged
    assert "day 2026-11-17 (UTC) has not fully landed: its events stop at 2026-11-17T17:" in run.log
    [post] = receiver.posts  # a verdict: failed at once, one alert
    print(f"alert: {post['text'][:300]}")
    assert post["task_id"] == "wait_for_days" and post["error"]["type"] == "DayNotLanded"
    assert (
        "2026-11-17" in post["error"]["message"] and "6.0 h before the day's end" in post["error"]["message"]
    )
