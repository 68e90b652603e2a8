"""Concept drift with unchanged inputs: no data drift, but the performance check fires once the labels
have matured, and says "insufficient data" while they have not arrived."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.drift import DRIFT, INSUFFICIENT, NO_DRIFT, drift_check, matured_mask, performance_drift
from tests.drift.conftest import DECISION_THRESHOLD
from tests.drift.generator import START, labelled, make_frame

# The rows' labels arrive 5-30 days after their events (tests.drift.generator.labelled): complete at 30.
MATURITY_DAYS = 30
WIDE = {"performance_window_days": 60}  # every matured row of the one-day frame is in the judged window


@pytest.fixture(scope="module")
def concept_drifted():
    current = make_frame(50_000, seed=41)
    return current, labelled(current, seed=41, concept="new", delay_days=(5, 30))


def _check(profile, holdout, current, rows, as_of, history=()):
    return drift_check(
        profile,
        current,
        {"consecutive_runs": 2, **WIDE},
        holdout_scores=holdout["scores"],
        current_scores=rows["score"].to_numpy(),
        decision_threshold=DECISION_THRESHOLD,
        labelled=rows,
        holdout_pr_auc=holdout["pr_auc"],
        as_of=as_of,
        history=history,
        label_maturity_days=MATURITY_DAYS,
    )


def test_concept_drift_is_caught_by_performance_once_labels_mature(profile, holdout, concept_drifted):
    current, rows = concept_drifted
    report = _check(profile, holdout, current, rows, START + pd.Timedelta(days=40))
    assert report["data"]["verdict"] == NO_DRIFT and report["data"]["root_cause"] == []
    assert report["prediction"]["verdict"] == NO_DRIFT  # same inputs, same model: same scores
    performance = report["performance"]
    assert performance["verdict"] == DRIFT
    assert performance["rows"]["matured"] == len(rows)
    assert performance["drop"] > 0.1 and performance["pr_auc"] < holdout["pr_auc"] - 0.1
    assert report["kinds"] == ["performance"] and report["verdict"] == "drift, not yet persistent"
    again = _check(profile, holdout, current, rows, START + pd.Timedelta(days=41), [report["summary"]])
    assert again["confirmed"]


def test_before_labels_arrive_the_verdict_is_insufficient_data(profile, holdout, concept_drifted):
    current, rows = concept_drifted
    report = _check(profile, holdout, current, rows, START + pd.Timedelta(days=4))  # delays are >= 5 days
    performance = report["performance"]
    assert performance["verdict"] == INSUFFICIENT and performance["rows"]["matured"] == 0
    assert performance["pr_auc"] is None
    assert not report["drifted"] and report["verdict"] == NO_DRIFT


def _judge(rows, as_of, holdout_pr_auc, config=None, days=MATURITY_DAYS):
    return performance_drift(
        rows["score"], rows["is_fraud"], rows["label_available_at"], as_of, holdout_pr_auc,
        {**WIDE, **(config or {})}, event_time=rows["event_ts"], label_maturity_days=days,
    )  # fmt: skip


def test_labels_not_arrived_by_as_of_are_never_used(holdout, concept_drifted):
    _, rows = concept_drifted
    as_of = START + pd.Timedelta(days=15)
    mask = matured_mask(rows["event_ts"], rows["label_available_at"], as_of, 10)
    assert 0 < mask.sum() < len(rows)
    arrived = rows[mask]
    expected = _judge(arrived, as_of, holdout["pr_auc"], days=10)
    # What has not arrived yet may be anything (here: all called fraud): the result must not change.
    scrambled = rows.assign(is_fraud=np.where(mask, rows["is_fraud"], 1))
    got = _judge(scrambled, as_of, holdout["pr_auc"], days=10)
    assert got["pr_auc"] == expected["pr_auc"] and got["positives"] == expected["positives"]
    assert got["rows"]["not_matured"] == len(rows) - mask.sum()


def test_fewer_matured_positives_than_required_is_insufficient_data(holdout, concept_drifted):
    _, rows = concept_drifted
    few = rows.iloc[:1_000]
    positives = int(few["is_fraud"].sum())
    as_of = START + pd.Timedelta(days=40)
    at_most = _judge(few, as_of, holdout["pr_auc"], {"min_positives": positives + 1})
    enough = _judge(few, as_of, holdout["pr_auc"], {"min_positives": positives})
    assert at_most["verdict"] == INSUFFICIENT and at_most["positives"] == positives
    assert enough["verdict"] in (DRIFT, NO_DRIFT)


def test_a_missing_time_never_counts_and_naive_times_are_utc():
    events = pd.Series([START, START, START - pd.Timedelta(days=1), pd.NaT])
    arrived = pd.Series([START, pd.NaT, START + pd.Timedelta(days=2), START])
    as_of = "2026-10-03T12:00:00"  # naive: UTC; horizon 2026-10-01T12:00
    assert matured_mask(events, arrived, as_of, 2).tolist() == [True, False, True, False]
    naive = (events.dt.tz_localize(None), arrived.dt.tz_localize(None))
    assert matured_mask(*naive, "2026-10-03T00:00:00+00:00", 2).tolist() == [False, False, True, False]


def test_a_set_of_one_class_is_insufficient_data_never_a_figure(holdout, concept_drifted):
    """Every matured label a fraud (or none): enough positives, but no PR-AUC worth the name."""
    _, rows = concept_drifted
    as_of = START + pd.Timedelta(days=40)
    for label in (1, 0):
        judged = _judge(rows.assign(is_fraud=label), as_of, holdout["pr_auc"], {"min_positives": 1})
        assert judged["verdict"] == INSUFFICIENT and judged["pr_auc"] is None and judged["drop"] is None
        assert judged["rows"]["matured"] == len(rows)


def test_only_the_most_recent_matured_days_are_judged(holdout, concept_drifted):
    """Rows older than `performance_window_days` before the horizon are left out: one drifted day is not
    diluted by weeks of older days."""
    _, rows = concept_drifted  # events over one day, START
    as_of = START + pd.Timedelta(days=MATURITY_DAYS + 3)  # horizon: START + 3 days
    inside = _judge(rows, as_of, holdout["pr_auc"], {"performance_window_days": 4})
    outside = _judge(rows, as_of, holdout["pr_auc"], {"performance_window_days": 2})
    assert inside["rows"]["matured"] == len(rows) and inside["verdict"] == DRIFT
    assert outside["rows"]["matured"] == 0 and outside["rows"]["older_than_window"] == len(rows)
    assert outside["verdict"] == INSUFFICIENT
