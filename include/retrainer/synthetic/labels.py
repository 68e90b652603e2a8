"""How a synthetic row's label is observed, shared by every generator: label noise (a share flipped), and
its arrival: a fraud's chargeback 2-20 days after the event, a legitimate row confirmed when that window has
closed. The random draws are made in one fixed order, so a seed gives the same days as it always did."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Chargebacks arrive 2-20 days after the event; a transaction with no chargeback after this many days is
# confirmed legitimate, which is when its label "arrives".
MAX_LABEL_DELAY_DAYS = 20


def with_label_noise(is_fraud: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """`is_fraud` (0/1) with about `share` of its labels flipped (none, and no draw, when share is 0)."""
    if share <= 0:
        return is_fraud
    flip = rng.random(len(is_fraud)) < share
    return np.where(flip, 1 - is_fraud, is_fraud).astype(np.int8)


def label_arrival(event_ts: pd.Series, is_fraud: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """When each label arrives: frauds 2-20 days after the event (lognormal around 7), legitimate rows at
    MAX_LABEL_DELAY_DAYS."""
    delay_days = np.where(
        is_fraud == 1,
        np.clip(rng.lognormal(np.log(7.0), 0.5, len(is_fraud)), 2, MAX_LABEL_DELAY_DAYS),
        MAX_LABEL_DELAY_DAYS,
    )
    return event_ts + pd.to_timedelta(np.round(delay_days * 86_400), unit="s")
