"""Matured-label performance on the shipped generator's days (retrainer.synthetic), judged as the daily
monitor judges them (fraud-xgb's params: label horizon, window, thresholds, slices, persistence):

- the old set ("labels arrived by the logical date") is fraud-heavy; the matured set's positive rate is
  near the truth;
- a concept drift at half strength everywhere, and at full strength in one region, is confirmed within the
  label horizon plus persistence (and a few days) of its start; the clean days are never confirmed.

Figures are printed (`pytest -s`)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from retrainer.core.maturity import matured_mask
from retrainer.drift import DRIFT, confirm, performance_drift
from retrainer.monitoring.slice_performance import slice_performance
from retrainer.synthetic.generator import (
    BEHAVIOURAL_FEATURES,
    CHANNELS,
    REGIONS,
    GeneratorConfig,
    generate_day,
)

SEED, ROWS = 7, 2000  # the generator's defaults (`retrainer generate`: 2,000 rows a day)
TRAINED_UNTIL = date(2026, 3, 1)  # the champion: 60 days of training, then 15 days of holdout
DRIFT_START = date(2026, 4, 1)
MONITORED = [DRIFT_START + timedelta(days=k) for k in range(0, 36)]  # the monitor's logical dates
# "A little": the judged window is the last 7 matured days, and a drifted day is one of the seven. Measured
# at 2,000 rows a day (~140 positives a week): full strength in one region is confirmed 4-5 days after the
# horizon, half strength everywhere 8 (its first days move the week's PR-AUC less than the draw does).
SLACK_DAYS = 6


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    one_hot = [frame["channel"] == c for c in CHANNELS] + [frame["region"] == r for r in REGIONS]
    return np.column_stack([frame[list(BEHAVIOURAL_FEATURES)].to_numpy(float), *one_hot]).astype(float)


def _days(first: date, count: int, config: GeneratorConfig) -> pd.DataFrame:
    frames = [generate_day(first + timedelta(days=d), SEED, config) for d in range(count)]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def champion():
    """An XGBoost champion on 60 clean days, its holdout (15 later days) and its scores."""
    import xgboost as xgb

    clean = GeneratorConfig(rows_per_day=ROWS)
    train = _days(TRAINED_UNTIL - timedelta(days=75), 60, clean)
    holdout = _days(TRAINED_UNTIL - timedelta(days=15), 15, clean)
    model = xgb.XGBClassifier(n_estimators=150, max_depth=4, learning_rate=0.1, n_jobs=1, random_state=0)
    model.fit(_matrix(train), train["is_fraud"])
    scores = model.predict_proba(_matrix(holdout))[:, 1]
    return model, holdout, scores, float(average_precision_score(holdout["is_fraud"], scores))


def _monitored_rows(model, config: GeneratorConfig, params: dict) -> pd.DataFrame:
    """The days the monitor's lookback reads, scored by the champion, with their label arrival times."""
    lookback = params["monitoring"]["labels_lookback_days"]
    frame = _days(MONITORED[0] - timedelta(days=lookback), lookback + len(MONITORED), config)
    return frame.assign(
        score=model.predict_proba(_matrix(frame))[:, 1], label_arrived_at=frame["label_available_at"]
    )


def _first_confirmed(
    champion, config: GeneratorConfig, params: dict, name: str, first: date = MONITORED[0]
) -> tuple[date | None, dict]:
    """Each monitored day's (from `first`) overall and per-slice verdicts, persistence as the monitor counts
    it; the first day drift is confirmed (None: never)."""
    model, holdout, holdout_scores, holdout_pr_auc = champion
    rows = _monitored_rows(model, config, params)
    drift, days = params["monitoring"]["drift"], params["data"]["label_maturity_days"]
    history, confirmed, figures = [], None, []
    for as_of in (d for d in MONITORED if d >= first):
        moment = pd.Timestamp(as_of, tz="UTC")
        overall = performance_drift(
            rows["score"], rows["is_fraud"], rows["label_arrived_at"], moment, holdout_pr_auc, drift,
            event_time=rows["event_ts"], label_maturity_days=days,
        )  # fmt: skip
        slices = slice_performance(holdout, holdout_scores, rows, rows["score"].to_numpy(), moment, params)
        summary = {"drifted": DRIFT in (overall["verdict"], slices["verdict"])}
        if confirm(history, summary, drift["consecutive_runs"])["confirmed"] and confirmed is None:
            confirmed = as_of
        history.append(summary)
        figures[len(figures) :] = [
            f"{as_of} PR-AUC {overall['pr_auc'] or float('nan'):.3f} ({overall['positives']} pos) "
            f"slices drifted {slices['drifted']}"
        ]
    print(f"\n[{name}] holdout PR-AUC {holdout_pr_auc:.3f}; confirmed on {confirmed}")
    print("\n".join(f"  {line}" for line in figures))
    return confirmed, {"figures": figures}


def _deadline(params: dict) -> date:
    persistence = params["monitoring"]["drift"]["consecutive_runs"]
    return DRIFT_START + timedelta(days=params["data"]["label_maturity_days"] + persistence + SLACK_DAYS)


def test_clean_days_are_never_confirmed(champion, params):
    confirmed, _ = _first_confirmed(champion, GeneratorConfig(rows_per_day=ROWS), params, "clean")
    assert confirmed is None


@pytest.mark.parametrize(
    "knobs",
    [
        {"concept_drift": 0.5},
        {"concept_drift": 1.0, "concept_drift_regions": ("latam",)},
        {"concept_drift": 1.0, "concept_drift_regions": ("mea",)},
    ],
    ids=["half strength everywhere", "full strength in latam", "full strength in mea"],
)
def test_concept_drift_is_confirmed_within_the_label_horizon_plus_persistence(champion, params, knobs):
    config = GeneratorConfig(rows_per_day=ROWS, drift_start=DRIFT_START, **knobs)
    # Before the horizon the judged rows are all from before drift_start: the clean scenario's rows, which
    # test_clean_days_are_never_confirmed judges. From the day before the first drifted day matures:
    first = DRIFT_START + timedelta(days=params["data"]["label_maturity_days"])
    confirmed, _ = _first_confirmed(champion, config, params, str(knobs), first)
    assert confirmed is not None, "never confirmed"
    horizon = DRIFT_START + timedelta(days=params["data"]["label_maturity_days"])
    print(
        f"  confirmed {(confirmed - DRIFT_START).days} days after the drift started "
        f"(deadline {_deadline(params)})"
    )
    assert horizon < confirmed <= _deadline(params)  # not before the drifted labels could be known


def test_the_arrived_labels_set_is_fraud_heavy_and_the_matured_set_is_not(champion, params):
    """The old mask ("label arrived by as_of") against the matured one, on the same lookback of clean
    days: positive rate against the truth (every label of those days), and the PR-AUC each would report."""
    model, _, _, holdout_pr_auc = champion
    rows = _monitored_rows(model, GeneratorConfig(rows_per_day=ROWS), params)
    as_of = pd.Timestamp(MONITORED[-1], tz="UTC")
    lookback = rows["event_ts"] >= as_of - pd.Timedelta(days=params["monitoring"]["labels_lookback_days"])
    rows = rows.loc[lookback & (rows["event_ts"] < as_of)]
    truth = rows["is_fraud"].mean()
    arrived = (rows["label_arrived_at"] <= as_of).to_numpy()
    matured = matured_mask(
        rows["event_ts"], rows["label_arrived_at"], as_of, params["data"]["label_maturity_days"]
    )

    def figures(mask):
        return rows["is_fraud"][mask].mean(), average_precision_score(
            rows["is_fraud"][mask], rows["score"][mask]
        )

    (old_rate, old_pr_auc), (new_rate, new_pr_auc) = figures(arrived), figures(matured)
    everything = average_precision_score(rows["is_fraud"], rows["score"])
    print(
        f"\n[bias] {len(rows)} rows of {params['monitoring']['labels_lookback_days']} days, "
        f"true positive rate {truth:.4f}, PR-AUC on every label {everything:.3f} "
        f"(holdout {holdout_pr_auc:.3f})\n"
        f"  old mask (label arrived by as_of): {arrived.sum()} rows, positive rate {old_rate:.4f},"
        f" PR-AUC {old_pr_auc:.3f}\n"
        f"  matured (older than the horizon):  {matured.sum()} rows, positive rate {new_rate:.4f},"
        f" PR-AUC {new_pr_auc:.3f}"
    )
    assert old_rate > 1.3 * truth  # frauds arrive first: the old set is biased toward them
    assert abs(new_rate - truth) < 0.25 * truth
    # What the concept-drift check judges: the matured rows of its window, at the true base rate.
    judged = performance_drift(
        rows["score"], rows["is_fraud"], rows["label_arrived_at"], as_of, holdout_pr_auc,
        params["monitoring"]["drift"], event_time=rows["event_ts"],
        label_maturity_days=params["data"]["label_maturity_days"],
    )  # fmt: skip
    print(
        f"  the check's window {judged['window']}: {judged['rows']['matured']} rows, positive rate "
        f"{judged['positive_rate']:.4f}, PR-AUC {judged['pr_auc']:.3f} {judged['verdict']}"
    )
    assert abs(judged["positive_rate"] - truth) < 0.3 * truth
