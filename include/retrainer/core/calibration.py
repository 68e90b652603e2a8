"""Calibrated scores: the map from a version's raw XGBoost scores to probabilities, fitted on its validation
rows (`train.calibration`: isotonic | platt | off), stored with the version as JSON numbers (never pickle)
and applied wherever the version's scores are made (scoring, evaluation, monitoring), so that a score of
0.02 means about 2 % positives.

Decisions do not change: a calibrated score is `(1 - TIE_BREAK) * g(raw) + TIE_BREAK * raw`, where g is the
fitted non-decreasing map (isotonic steps, or Platt's sigmoid). The small raw term keeps the raw order
strictly (an isotonic step would tie every row in it), so a threshold chosen on the calibrated validation
scores alerts exactly the rows the same threshold chosen on the raw scores alerts, on any later day.

In: raw scores (probabilities from the booster) and 0/1 labels. Out: a `Calibration` (JSON round trip,
`apply`), and the measures of how well scores are calibrated (`reliability`, `ece`, `brier`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrainer.core.artifacts import CALIBRATION_FILE
from retrainer.core.errors import ConfigError

METHODS = ("isotonic", "platt", "off")
# Weight of the raw score in a calibrated one: it moves a score by at most 1e-6, far below any fraud rate
# a person reads, and keeps distinct raw scores distinct (strictly increasing map).
TIE_BREAK = 1e-6
_LOGIT_CLIP = 1e-12  # raw scores of exactly 0 or 1 (float32) still have a finite logit for Platt
FILE_KIND = "retrainer-score-calibration"


class CalibrationFileError(ConfigError):
    """A stored calibration file is not one this code wrote (edited, or another format)."""


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration map. `method` off: scores pass through unchanged (today's behaviour).
    isotonic: `x`, `y` are the knots of sklearn's IsotonicRegression (X_thresholds_, y_thresholds_),
    applied by linear interpolation, clipped at both ends. platt: sigmoid(`slope` * logit(raw) +
    `intercept`). `fitted_on`: rows and positives of the validation split it was fitted on; `reason`:
    why a method was asked for and not fitted (then `method` is off)."""

    method: str = "off"
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0
    fitted_on: dict[str, int] = field(default_factory=dict)
    reason: str | None = None

    @property
    def identity(self) -> bool:
        """True when scores pass through unchanged."""
        return self.method == "off"

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated scores of raw scores `raw`: the array itself (off) or float64 probabilities in [0, 1]
        (float64: a float32 cast could merge two neighbouring scores and move a row across its threshold)."""
        if self.identity:
            return raw
        s = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            mapped = np.interp(s, np.asarray(self.x), np.asarray(self.y))
        else:
            clipped = np.clip(s, _LOGIT_CLIP, 1 - _LOGIT_CLIP)
            mapped = 1.0 / (1.0 + np.exp(-(self.slope * np.log(clipped / (1 - clipped)) + self.intercept)))
        return (1 - TIE_BREAK) * mapped + TIE_BREAK * s

    def summary(self) -> dict[str, Any]:
        """What the fit report and the version's lineage say of it (no knots)."""
        found: dict[str, Any] = {"method": self.method, "fitted_on": dict(self.fitted_on)}
        if self.method == "isotonic":
            found["knots"] = len(self.x)
        if self.method == "platt":
            found |= {"slope": self.slope, "intercept": self.intercept}
        if self.reason:
            found["reason"] = self.reason
        return found

    def to_json(self) -> str:
        """The stored file: JSON numbers only (floats written exactly, so a reload scores identically)."""
        payload: dict[str, Any] = {"kind": FILE_KIND, **self.summary(), "tie_break": TIE_BREAK}
        if self.method == "isotonic":
            payload |= {"x": list(self.x), "y": list(self.y)}
        return json.dumps(payload, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, what: str = "calibration.json") -> Calibration:
        """A calibration from the bytes `to_json` wrote (check their sha256 first); CalibrationFileError
        naming `what` if they are not such a file."""
        try:
            spec = json.loads(text)
            if spec.get("kind") != FILE_KIND or spec.get("method") not in METHODS:
                raise ValueError(f"kind {spec.get('kind')!r}, method {spec.get('method')!r}")
            calibration = cls(
                method=spec["method"],
                x=tuple(float(v) for v in spec.get("x", ())),
                y=tuple(float(v) for v in spec.get("y", ())),
                slope=float(spec.get("slope", 1.0)),
                intercept=float(spec.get("intercept", 0.0)),
                fitted_on={k: int(v) for k, v in spec.get("fitted_on", {}).items()},
                reason=spec.get("reason"),
            )
        except (ValueError, TypeError, AttributeError) as error:
            raise CalibrationFileError(
                f"{what} is not a score calibration written by retrainer ({error}): retrain the version, "
                "or restore the file the registry recorded (`retrainer registry verify` names changed files)"
            ) from None
        if calibration.method == "isotonic" and (
            len(calibration.x) != len(calibration.y) or not calibration.x
        ):
            raise CalibrationFileError(
                f"{what}: isotonic knots x and y must be equal-length, non-empty lists"
            )
        return calibration


IDENTITY = Calibration()


def fit(raw: np.ndarray, y: np.ndarray, method: str) -> Calibration:
    """The calibration of raw scores `raw` to labels `y` (the validation split's), by `method`.

    A method that cannot be fitted gives the identity with the `reason`: no validation rows
    (`split.valid_fraction: 0`), one class only, or a Platt slope that is not positive (the scores rank
    the rows backwards: calibrating would reverse every decision)."""
    if method not in METHODS:
        raise ConfigError(f"train.calibration: {method!r} is not one of {', '.join(METHODS)}")
    if method == "off":
        return IDENTITY
    raw, y = np.asarray(raw, dtype=np.float64), np.asarray(y).astype(np.int64)
    fitted_on = {"rows": int(len(y)), "positives": int(y.sum())}
    if len(y) == 0 or y.min() == y.max():
        return Calibration(
            fitted_on=fitted_on,
            reason=f"{method} asked, not fitted: the validation split has no rows of both classes "
            "(split.valid_fraction above 0 gives it some); scores are the model's raw ones",
        )
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(raw, y)
        return Calibration(
            "isotonic",
            x=tuple(float(v) for v in iso.X_thresholds_),
            y=tuple(float(v) for v in iso.y_thresholds_),
            fitted_on=fitted_on,
        )
    from sklearn.linear_model import LogisticRegression

    clipped = np.clip(raw, _LOGIT_CLIP, 1 - _LOGIT_CLIP)
    logit = np.log(clipped / (1 - clipped)).reshape(-1, 1)
    platt = LogisticRegression(C=np.inf, max_iter=1000).fit(logit, y)  # C=inf: no penalty
    slope, intercept = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    if slope <= 0:
        return Calibration(
            fitted_on=fitted_on,
            reason=f"platt asked, not fitted: its slope {slope:.4g} is not positive (the model ranks the "
            "validation rows backwards); scores are the model's raw ones",
        )
    return Calibration("platt", slope=slope, intercept=intercept, fitted_on=fitted_on)


def of_files(files: dict[str, Any], name: str, read: Callable[[str], bytes], what: str) -> Calibration:
    """The calibration stored as `name` among a version's or a run's `files` (read through `read`, which
    checks its sha256), or the identity for one stored before calibration existed."""
    if name not in files:
        return IDENTITY
    return Calibration.from_json(read(name), what)


def of_version(registry: Any, record: dict[str, Any]) -> Calibration:
    """The calibration stored with a registry version (`record`, read through `registry.read_file`, which
    checks its sha256), or the identity for a version registered before calibration existed."""
    version = record["version"]
    return of_files(
        record.get("files", {}),
        CALIBRATION_FILE,
        lambda name: registry.read_file(version, name),
        f"{CALIBRATION_FILE} of {registry.model} version {version}",
    )


# --- how well scores are calibrated --------------------------------------------------------------------

BINS = 10


def reliability(y: np.ndarray, scores: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    """The reliability table of `scores` against labels `y`: the rows cut into `bins` groups of about equal
    size by score (quantile bins: with rare positives, equal-width bins would hold nearly every row in the
    first one), each with its rows, mean score and observed positive rate, lowest scores first."""
    y, scores = np.asarray(y, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if not len(y):
        return []
    order = np.argsort(scores, kind="stable")
    table = []
    for part in np.array_split(order, min(bins, len(y))):
        table.append(
            {
                "rows": int(len(part)),
                "mean_score": float(scores[part].mean()),
                "positive_rate": float(y[part].mean()),
            }
        )
    return table


def ece(y: np.ndarray, scores: np.ndarray, bins: int = BINS) -> float | None:
    """Expected calibration error: the row-weighted mean of |mean score - positive rate| over the
    `reliability` bins (0: calibrated); None without rows."""
    table = reliability(y, scores, bins)
    if not table:
        return None
    rows = sum(b["rows"] for b in table)
    return float(sum(b["rows"] * abs(b["mean_score"] - b["positive_rate"]) for b in table) / rows)


def brier(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Brier score: the mean squared difference of score and label (lower is better); None without rows."""
    y, scores = np.asarray(y, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    return float(np.mean((scores - y) ** 2)) if len(y) else None


def assessment(
    y: np.ndarray, raw: np.ndarray, calibrated: np.ndarray, calibration: Calibration, bins: int = BINS
) -> dict[str, Any]:
    """The gate report's calibration section: the map (`Calibration.summary`), the positive rate, and for
    the raw (uncalibrated) and calibrated scores their ECE, Brier score, mean and reliability table."""

    def measures(scores: np.ndarray) -> dict[str, Any]:
        return {
            "ece": ece(y, scores, bins),
            "brier": brier(y, scores),
            "mean_score": float(np.mean(scores)) if len(scores) else None,
            "reliability": reliability(y, scores, bins),
        }

    return {
        **calibration.summary(),
        "bins": bins,
        "rows": int(len(y)),
        "positive_rate": float(np.mean(y)) if len(y) else None,
        "uncalibrated": measures(raw),
        "calibrated": measures(calibrated),
    }
