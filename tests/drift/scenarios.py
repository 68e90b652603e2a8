"""Scenarios of the multivariate drift tests, on the shipped card-transactions generator: a multi-week
reference (like the champion's validation + holdout rows) and current days that are clean, a weekend,
tiny, or drifted in the joint law or the shape only (marginals or per-feature effect sizes kept).

`retrainer.synthetic.generator.generate_day` has no weekday effect (checked: its law is the same every day),
so `day` adds one: on Saturdays and Sundays more e-commerce, fewer point-of-sale payments, fewer morning
and more daytime/evening transactions (rows resampled from a day twice as large, so every row stays a row
the generator could make)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrainer.synthetic.generator import GeneratorConfig, generate_day

CATEGORICAL = ["channel", "region", "merchant_category"]
NUMERIC = [
    "amount", "tx_count_1h", "tx_count_24h", "tx_count_30d", "amount_sum_1h", "amount_sum_24h",
    "amount_sum_30d", "amount_avg_30d", "amount_to_avg_ratio", "distinct_merchants_24h",
    "distinct_countries_30d", "distance_from_home_km", "distance_from_last_tx_km", "minutes_since_last_tx",
    "account_age_days", "card_age_days", "device_risk_score", "ip_risk_score", "email_risk_score",
    "failed_logins_24h", "declined_tx_24h", "chargebacks_365d", "new_device", "billing_shipping_mismatch",
    "credit_utilization", "hour_of_day", "card_present",
]  # fmt: skip
FEATURES = NUMERIC + CATEGORICAL  # models/fraud-xgb/params.yaml's features
MONDAY = date(2026, 3, 2)
REFERENCE_DAYS = 28
REFERENCE_ROWS_PER_DAY = 1_500  # 42,000 rows: about the champion's validation + holdout
CURRENT_ROWS = 3_000


def weekend_tilt(frame: pd.DataFrame) -> np.ndarray:
    """Relative weights of a weekend day's rows against a weekday's."""
    channel = frame["channel"].to_numpy()
    hour = frame["hour_of_day"].to_numpy()
    by_channel = np.select([channel == "ecom", channel == "pos"], [1.3, 0.9], 1.0)
    by_hour = np.select([hour < 9, hour >= 10], [0.7, 1.15], 1.0)
    return by_channel * by_hour


def day(when: date, seed: int, rows: int) -> pd.DataFrame:
    """One day of `rows` transactions with a weekday effect (see the module's docstring)."""
    pool = generate_day(when, seed, GeneratorConfig(rows_per_day=2 * rows))
    weights = weekend_tilt(pool) if when.weekday() >= 5 else np.ones(len(pool))
    rng = np.random.default_rng([seed, when.toordinal(), 7])
    keep = np.sort(rng.choice(len(pool), rows, replace=False, p=weights / weights.sum()))
    return pool.iloc[keep].reset_index(drop=True)[FEATURES]


def reference(seed: int = 1) -> pd.DataFrame:
    """Four weeks from a Monday, weekends included."""
    return pd.concat(
        [day(MONDAY + timedelta(days=d), seed, REFERENCE_ROWS_PER_DAY) for d in range(REFERENCE_DAYS)],
        ignore_index=True,
    )


def weekday(seed: int, rows: int = CURRENT_ROWS) -> pd.DataFrame:
    """A Tuesday after the reference window."""
    return day(MONDAY + timedelta(days=REFERENCE_DAYS + 1), seed, rows)


def weekend(seed: int, rows: int = CURRENT_ROWS) -> pd.DataFrame:
    """A Saturday after the reference window."""
    return day(MONDAY + timedelta(days=REFERENCE_DAYS + 5), seed, rows)


def decoupled(seed: int, pair: tuple[str, str] = ("amount_sum_30d", "amount_avg_30d")) -> pd.DataFrame:
    """A weekday whose `pair[0]` is shuffled across rows: both marginals kept, their correlation gone."""
    frame = weekday(seed)
    frame[pair[0]] = np.random.default_rng(seed).permutation(frame[pair[0]].to_numpy())
    return frame


def spread(seed: int, feature: str = "credit_utilization", factor: float = 1.3) -> pd.DataFrame:
    """A weekday whose `feature` spreads `factor` times as wide around its mean (kept in [0, 1])."""
    frame = weekday(seed)
    values = frame[feature].to_numpy()
    frame[feature] = np.clip(values.mean() + factor * (values - values.mean()), 0.0, 1.0)
    return frame


def category_doubled(seed: int, column: str = "channel", level: str = "wallet") -> pd.DataFrame:
    """A weekday where `level`'s share of `column` doubles (the other levels shrink in proportion): rows
    drawn from a larger pool of the same day, twice `level`'s share of them of `level`."""
    pool = weekday(seed, rows=4 * CURRENT_ROWS)
    hit = (pool[column] == level).to_numpy()
    wanted = round(2 * hit.mean() * CURRENT_ROWS)
    rng = np.random.default_rng(seed)
    keep = np.r_[
        rng.choice(np.flatnonzero(hit), wanted, replace=False),
        rng.choice(np.flatnonzero(~hit), CURRENT_ROWS - wanted, replace=False),
    ]
    return pool.iloc[np.sort(keep)].reset_index(drop=True)
