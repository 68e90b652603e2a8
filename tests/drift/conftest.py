"""Fixtures of the drift tests: one reference (the training window) and one holdout, built once."""

from __future__ import annotations

import pytest
from sklearn.metrics import average_precision_score

from retrainer.drift import profile_reference
from tests.drift.generator import labelled, make_frame

REFERENCE_ROWS = 50_000
DECISION_THRESHOLD = 0.5


@pytest.fixture(scope="session")
def reference():
    return make_frame(REFERENCE_ROWS, seed=1)


@pytest.fixture(scope="session")
def profile(reference):
    return profile_reference(reference)


@pytest.fixture(scope="session")
def holdout():
    """The model's holdout: its scores and the PR-AUC measured on them at training time."""
    frame = labelled(make_frame(20_000, seed=2), seed=2)
    return {
        "scores": frame["score"].to_numpy(),
        "pr_auc": float(average_precision_score(frame["is_fraud"], frame["score"])),
    }
