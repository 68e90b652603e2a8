"""Synthetic account logins for the account-takeover model (`models/ato-xgb`): another schema than the card
transactions, no label-arrival column (takeovers are confirmed a fixed delay after the login) and another
positive rate. Deterministic from a seed, one Parquet partition per day, like the transactions.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

AUTH_METHODS = ("password", "sso", "otp", "magic_link")
PLATFORMS = ("web", "ios", "android")
SHARPNESS = 2.5


def generate_logins_day(day: date, seed: int, rows: int, takeover_rate: float) -> pd.DataFrame:
    """One day of logins; the same (day, seed, rows, rate) always gives the same frame."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1_000_003, day.toordinal()]))
    seconds = np.sort(rng.integers(0, 86_400, size=rows))
    login_ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    hour = (seconds // 3600).astype(np.int8)
    accounts = rng.integers(0, 50_000, size=rows)
    trait = np.random.default_rng(seed + 1).random((50_000, 2))
    account_age = np.round(1 + trait[accounts, 0] ** 2 * 3000).astype(float)
    mfa = (trait[accounts, 1] < 0.4).astype(np.int8)
    platform = rng.choice(PLATFORMS, size=rows, p=(0.5, 0.25, 0.25))
    auth = rng.choice(AUTH_METHODS, size=rows, p=(0.55, 0.2, 0.2, 0.05))
    features = {
        "failed_attempts_1h": rng.poisson(0.3, rows),
        "password_reset_7d": (rng.random(rows) < 0.04).astype(np.int8),
        "new_device": (rng.random(rows) < 0.08).astype(np.int8),
        "new_country": (rng.random(rows) < 0.03).astype(np.int8),
        "ip_distance_km": np.round(rng.exponential(40.0, rows), 1),
        "sessions_24h": rng.poisson(2.0, rows),
        "account_age_days": account_age,
        "mfa_enabled": mfa,
        "typing_speed_ratio": np.round(rng.lognormal(0.0, 0.25, rows), 4),
        "hour_of_day": hour,
    }
    risk = (
        0.9 * np.minimum(features["failed_attempts_1h"], 5)
        + 1.6 * features["new_device"] * features["new_country"]
        + 0.9 * features["new_device"]
        + 1.2 * features["password_reset_7d"]
        + 0.8 * np.log1p(features["ip_distance_km"] / 100)
        + 1.0 * np.abs(np.log(features["typing_speed_ratio"])) * 4
        - 1.2 * mfa * (auth != "password")
        + 0.6 * (hour < 5)
        + 0.5 * (account_age < 30)
        + rng.normal(0.0, 0.4, rows)
    )
    probability = _calibrated(SHARPNESS * risk, takeover_rate)
    return pd.DataFrame(
        {
            "login_id": [f"lg-{day:%Y%m%d}-{i:07d}" for i in range(rows)],
            "login_ts": login_ts,
            "account_id": [f"a{a:06d}" for a in accounts],
            "platform": platform,
            "auth_method": auth,
            **features,
            "is_takeover": (rng.random(rows) < probability).astype(np.int8),
        }
    )


def _calibrated(risk: np.ndarray, rate: float) -> np.ndarray:
    """sigmoid(risk + b) with b chosen so that the mean probability equals `rate`."""
    low, high = -40.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (low, mid) if np.mean(1 / (1 + np.exp(-(risk + mid)))) > rate else (mid, high)
    return 1 / (1 + np.exp(-(risk + (low + high) / 2)))
