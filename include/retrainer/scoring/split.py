"""Which customers a canary challenger decides: a stable hash of the customer id, salted with the model and
the challenger's version, so a customer meets one model on every day of a canary, a ramp only adds
customers to the challenger's side, and each new canary draws a different group."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

BUCKETS = 10_000  # a share is decided to 0.01 %


def buckets(customer_ids: pd.Series | np.ndarray, salt: str) -> np.ndarray:
    """A bucket in [0, BUCKETS) per row, the same for the same (customer id, salt) in any process."""
    codes, uniques = pd.factorize(np.asarray(customer_ids), use_na_sentinel=False)
    per_customer = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(f"{salt}|{u}".encode(), digest_size=8).digest(), "big") % BUCKETS
            for u in uniques
        ),
        dtype=np.int64,
        count=len(uniques),
    )
    return per_customer[codes]


def in_share(customer_ids: pd.Series | np.ndarray, salt: str, share_percent: float) -> np.ndarray:
    """True for the rows whose customer falls in the first `share_percent` % of buckets."""
    return buckets(customer_ids, salt) < round(share_percent * BUCKETS / 100)


def canary_salt(model: str, challenger: int) -> str:
    return f"{model}:canary:v{challenger}"
