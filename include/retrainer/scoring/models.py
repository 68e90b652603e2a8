"""The deployed models as scorers: loaded only through `Registry.read_file` (sha256-checked) and scored
with XGBoost's `inplace_predict`, calibrated by the calibration stored with its version (if any), each with
the decision threshold stored with its version (on that calibrated scale)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrainer.core import artifacts
from retrainer.core.calibration import IDENTITY, Calibration, of_version
from retrainer.registry.store import Registry
from retrainer.training.models import load_xgboost


class ScoringError(RuntimeError):
    """A day cannot be scored (no source partition, a version without a decision threshold, ...)."""


@dataclass(frozen=True)
class Scorer:
    version: int
    booster: Any
    threshold: float
    feature_params: dict
    calibration: Calibration = IDENTITY  # stored with the version; its threshold is on this scale

    @property
    def features_key(self) -> str:
        """Equal for models that read the same feature matrix, so it is built once for both."""
        return json.dumps(self.feature_params, sort_keys=True)

    def score(self, x: np.ndarray) -> np.ndarray:
        """The version's scores of the rows of `x`: calibrated (float64) if its version stores a
        calibration, else the booster's raw float32 scores."""
        return self.calibration.apply(np.asarray(self.booster.inplace_predict(x), dtype=np.float32))


def load_scorer(registry: Registry, version: int) -> Scorer:
    """Version `version` ready to score; its bytes are refused unless they match the recorded sha256."""
    record = registry.get(version)
    threshold = (record.get("decision") or {}).get("threshold")
    if threshold is None:
        raise ScoringError(f"{registry.model} v{version} stores no decision threshold: it cannot decide rows")
    booster = load_xgboost(registry.read_file(version, artifacts.MODEL_FILE))
    features = record["params"]["features"]
    return Scorer(version, booster, float(threshold), features, of_version(registry, record))
