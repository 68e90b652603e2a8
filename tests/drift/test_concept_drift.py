"""Concept drift with unchanged inputs: no data drift, but the performance check fires once the labels
have matured, and says "insufficient data" while they have not arrived."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.drift import DRIFT, INSUFFICIENT, NO_DRIFT, drift_check, matured_mask, performance_drift
from tests.drift.conftest import DECISION_THRESHOLD
from tests.drift.generator import START, labelled, make_frame


@pytest.fixture(scope="module")
def concept_drifted():
    current = make_frame(50_000, seed=41)
    return current, labelled(current, seed=41, concept="new", delay_days=(5, 30))


def _check(profile, holdout, current, rows, as_of, history=()):
    return drift_check(
        profile,
        current,
        {"consecutive_runs": 2},
        holdout_scores=holdout["scores"],
        current_scores=rows["score"].to_numpy(),
        decision_threshold=DECISION_THRESHOLD,
        labelled=rows,
        holdout_pr_auc=holdout["pr_auc"],
        as_of=as_of,
        history=history,
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


def test_labels_not_arrived_by_as_of_are_never_used(holdout, concept_drifted):
    _, rows = concept_drifted
    as_of = START + pd.Timedelta(days=15)
    mask = matured_mask(rows["label_available_at"], as_of)
    assert 0 < mask.sum() < len(rows)
    arrived = rows[mask]
    expected = performance_drift(
        arrived["score"], arrived["is_fraud"], arrived["label_available_at"], as_of, holdout["pr_auc"]
    )
    # What has not arrived yet may be anything (here: all called fraud): the result must not change.
    scrambled = rows.assign(is_fraud=np.where(mask, rows["is_fraud"], 1))
    got = performance_drift(
        scrambled["score"], scrambled["is_fraud"], scrambled["label_available_at"], as_of, holdout["pr_auc"]
    )
    assert got["pr_auc"] == expected["pr_auc"] and got["positives"] == expected["positives"]
    assert got["rows"]["not_arrived"] == len(rows) - mask.sum()


def test_fewer_matured_positives_than_required_is_insufficient_data(holdout, concept_drifted):
    _, rows = concept_drifted
    few = rows.iloc[:1_000]
    positives = int(few["is_fraud"].sum())
    arrived_at = few["label_available_at"]
    at_most = performance_drift(
        few["score"],
        few["is_fraud"],
        arrived_at,
        START + pd.Timedelta(days=40),
        holdout["pr_auc"],
        {"min_positives": positives + 1},
    )
    enough = performance_drift(
        few["score"],
        few["is_fraud"],
        arrived_at,
        START + pd.Timedelta(days=40),
        holdout["pr_auc"],
        {"min_positives": positives},
    )
    assert at_most["verdict"] == INSUFFICIENT and at_most["positives"] == positives
    assert enough["verdict"] in (DRIFT, NO_DRIFT)


def test_a_missing_arrival_time_never_counts_and_naive_as_of_is_utc():
    arrived = pd.Series([START, pd.NaT, START + pd.Timedelta(days=2)])
    assert matured_mask(arrived, "2026-10-01T12:00:00").tolist() == [True, False, False]
    naive = arrived.dt.tz_localize(None)
    assert matured_mask(naive, "2026-10-03T00:00:00+00:00").tolist() == [True, False, True]
