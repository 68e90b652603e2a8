"""The calibration map on its own: fitted, stored as JSON numbers and applied the same after a reload;
strictly increasing (ties of an isotonic step broken by the raw score), so a threshold chosen on calibrated
scores decides the rows a threshold chosen on raw scores does; the identity, with the reason, where it
cannot be fitted; ECE and Brier score."""

import numpy as np
import pytest

from retrainer.core import calibration
from retrainer.core.calibration import Calibration, CalibrationFileError
from retrainer.evaluation.costs import choose_threshold


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn at a known probability p, and raw float32 scores that overstate it (p ** 0.4)."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) * 1.5 - 4.5)))
    return (p**0.4).astype(np.float32), (rng.random(n) < p).astype(np.int8)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_a_stored_calibration_scores_exactly_as_the_fitted_one(method):
    raw, y = _miscalibrated(20_000, 1)
    fitted = calibration.fit(raw, y, method)
    again = Calibration.from_json(fitted.to_json())
    assert again == fitted
    later, _ = _miscalibrated(5_000, 2)
    assert np.array_equal(again.apply(later), fitted.apply(later))
    assert fitted.apply(later).dtype == np.float64 and 0 <= fitted.apply(later).min() <= 1


def test_isotonic_is_sklearns_fit_up_to_the_tie_break():
    from sklearn.isotonic import IsotonicRegression

    raw, y = _miscalibrated(20_000, 3)
    fitted = calibration.fit(raw, y, "isotonic")
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw.astype(np.float64), y)
    later, _ = _miscalibrated(5_000, 4)
    gap = np.abs(fitted.apply(later) - reference.predict(later.astype(np.float64)))
    assert gap.max() <= calibration.TIE_BREAK


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_a_threshold_chosen_on_calibrated_scores_decides_every_later_row_as_the_raw_one(method):
    raw_valid, y_valid = _miscalibrated(30_000, 5)
    amounts = np.random.default_rng(6).lognormal(4, 1, len(y_valid))
    fitted = calibration.fit(raw_valid, y_valid, method)
    raw_threshold = choose_threshold(y_valid, raw_valid, amounts, 5.0)
    threshold = choose_threshold(y_valid, fitted.apply(raw_valid), amounts, 5.0)
    later, _ = _miscalibrated(200_000, 7)
    raw_decisions = later >= raw_threshold
    decisions = fitted.apply(later) >= threshold
    alerts = int(decisions.sum())
    print(f"\n{method}: threshold {raw_threshold:.5f} raw -> {threshold:.5f} calibrated, {alerts} alerts")
    assert 0 < decisions.sum() < len(later) and np.array_equal(decisions, raw_decisions)


def test_the_rows_of_one_isotonic_step_keep_their_order():
    raw, y = _miscalibrated(20_000, 8)
    fitted = calibration.fit(raw, y, "isotonic")
    steps = np.flatnonzero(np.diff(fitted.y) == 0)  # a flat piece between two knots
    assert len(steps)
    low, high = fitted.x[steps[0]], fitted.x[steps[0] + 1]
    inside = np.unique(raw[(raw > low) & (raw < high)])
    assert len(inside) > 1
    assert np.all(np.diff(fitted.apply(inside)) > 0)  # strictly increasing, no tie


def test_off_passes_the_raw_scores_through():
    raw, y = _miscalibrated(1_000, 9)
    off = calibration.fit(raw, y, "off")
    assert off.identity and off.apply(raw) is raw
    assert Calibration.from_json(off.to_json()).identity


def test_what_cannot_be_calibrated_scores_raw_and_says_why():
    raw, y = _miscalibrated(1_000, 10)
    empty = calibration.fit(raw[:0], y[:0], "isotonic")
    assert empty.identity and "no rows of both classes" in empty.reason
    backwards = calibration.fit(1 - raw, y, "platt")  # the scores rank the rows the wrong way round
    assert backwards.identity and "slope" in backwards.reason and "not positive" in backwards.reason
    assert backwards.summary()["reason"] == backwards.reason


def test_a_file_that_is_not_a_calibration_is_refused_with_its_name():
    with pytest.raises(CalibrationFileError, match=r"calibration\.json of fraud-xgb version 3 is not"):
        Calibration.from_json('{"method": "isotonic"}', "calibration.json of fraud-xgb version 3")
    with pytest.raises(CalibrationFileError, match="knots"):
        Calibration.from_json('{"kind": "retrainer-score-calibration", "method": "isotonic", "x": [0.1]}')


def test_an_unknown_method_is_a_config_error_naming_the_key():
    from retrainer.core.errors import ConfigError

    with pytest.raises(ConfigError, match="train.calibration: 'beta'"):
        calibration.fit(np.zeros(2), np.array([0, 1]), "beta")


def test_ece_and_brier_are_zero_for_scores_equal_to_each_bin_s_rate_and_grow_when_overstated():
    y = np.array([0] * 90 + [1] * 10)
    exact = np.full(100, 0.1)
    assert calibration.ece(y, exact, bins=1) == pytest.approx(0.0)
    assert calibration.ece(y, exact * 3, bins=1) == pytest.approx(0.2)
    assert calibration.brier(y, exact) == pytest.approx(0.09)
    table = calibration.reliability(y, np.linspace(0, 1, 100), bins=10)
    assert [b["rows"] for b in table] == [10] * 10 and table[-1]["positive_rate"] == 1.0
