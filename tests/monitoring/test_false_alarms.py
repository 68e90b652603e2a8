"""The drift check on the transaction generator's own data: clean days of 20 seeds raise no alarm."""

from datetime import date, timedelta

import pandas as pd

from retrainer.core.models import load_model
from retrainer.drift import drift_check
from retrainer.synthetic import generate_day
from tests.conftest import PROJECT_DIR


def test_no_drift_no_alarm_over_20_seeds_of_the_generator():
    params = load_model(PROJECT_DIR, "fraud-xgb")
    spec = params["features"]
    names = [*spec["numeric"], *spec["categorical"]]
    reference = pd.concat([generate_day(date(2026, 10, 1) + timedelta(days=d), 7) for d in range(14)])
    drifted = []
    for seed in range(100, 120):
        current = generate_day(date(2026, 11, 16), seed)
        report = drift_check(
            reference[names],
            current[names],
            params["monitoring"]["drift"],
            features=names,
            categorical=list(spec["categorical"]),
        )
        drifted += [(seed, f) for f in report["root_cause"]]
    print(f"no drift, 20 seeds of the generator x {len(names)} features: {len(drifted)} false alarm(s)")
    assert drifted == []
