"""A small generator of fraud-like frames for the drift tests (independent of retrainer.synthetic):
numeric features from normal, lognormal and Poisson laws, categorical features, scores and delayed labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = {
    "channel": ["pos", "ecom", "atm", "wallet"],
    "region": ["na", "eu", "latam", "apac", "mea"],
    "merchant_category": ["grocery", "fuel", "restaurant", "apparel", "electronics", "travel", "gambling"],
}
# 27 numeric features: (name, law) with law "normal", "lognormal" or "poisson".
NUMERIC = [(f"num_{i:02d}", ("normal", "lognormal", "poisson")[i % 3]) for i in range(27)]
FEATURES = [name for name, _ in NUMERIC] + list(CATEGORIES)
START = pd.Timestamp("2026-10-01", tz="UTC")


def _shares(k: int, reverse: bool) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1)  # Zipf-like: a few frequent categories, a tail of rare ones
    p = p[::-1] if reverse else p
    return p / p.sum()


def make_frame(rows: int, seed: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """`rows` rows; `shift` moves numeric features by that many standard deviations (of the underlying
    normal for lognormal, of the rate for Poisson) and mixes categorical ones toward reversed frequencies."""
    shift = shift or {}
    rng = np.random.default_rng(seed)
    columns = {}
    for i, (name, law) in enumerate(NUMERIC):
        delta = shift.get(name, 0.0)
        if law == "normal":
            columns[name] = rng.normal(10 + i, 2.0, rows) + 2.0 * delta
        elif law == "lognormal":
            columns[name] = rng.lognormal(3.0 + 0.1 * i + delta, 1.0, rows)
        else:
            rate = 3.0 + i % 5
            columns[name] = rng.poisson(rate + delta * np.sqrt(rate), rows).astype(np.float64)
    for name, levels in CATEGORIES.items():
        mix = min(shift.get(name, 0.0), 1.0)
        p = (1 - mix) * _shares(len(levels), False) + mix * _shares(len(levels), True)
        columns[name] = pd.Series(np.asarray(levels)[rng.choice(len(levels), rows, p=p)], dtype="str")
    return pd.DataFrame(columns)


def _logit(frame: pd.DataFrame, concept: str) -> np.ndarray:
    """Fraud log-odds: the model's concept, or a new one that the inputs alone cannot reveal."""
    if concept == "old":
        z = (
            1.2 * (frame["num_00"] - 10) / 2
            + 1.0 * (np.log(frame["num_01"]) - 3.1)
            + 1.5 * (frame["channel"] == "ecom")
        )
    else:  # fraud moved: it now follows features the model gives no weight
        z = (
            1.2 * (frame["num_03"] - 13) / 2
            - 1.0 * (np.log(frame["num_04"]) - 3.4)
            + 1.5 * (frame["channel"] == "atm")
        )
    return np.asarray(z, dtype=np.float64) - 4.0


def model_scores(frame: pd.DataFrame) -> np.ndarray:
    """The deployed model: the old concept's probability (a perfect fit of the data it was trained on)."""
    return 1 / (1 + np.exp(-_logit(frame, "old")))


def labelled(
    frame: pd.DataFrame, seed: int, concept: str = "old", delay_days: tuple = (5, 30)
) -> pd.DataFrame:
    """Scores, labels drawn under `concept`, event times over one day and label arrival times after a
    random delay of `delay_days` (chargebacks come late)."""
    rng = np.random.default_rng(seed + 10_000)
    rows = len(frame)
    labels = (rng.random(rows) < 1 / (1 + np.exp(-_logit(frame, concept)))).astype(np.int64)
    event = START + pd.to_timedelta(rng.uniform(0, 86_400, rows), unit="s")
    arrival = event + pd.to_timedelta(rng.uniform(*delay_days, rows), unit="D")
    return pd.DataFrame(
        {"score": model_scores(frame), "is_fraud": labels, "event_ts": event, "label_available_at": arrival}
    )
