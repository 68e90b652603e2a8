"""Synthetic card transactions, deterministic from a seed, written as one Parquet partition per day.

The fraud label depends non-linearly on the features and arrives late (a chargeback days after the event),
so point-in-time correctness matters. Knobs produce data drift (feature shift), concept drift (a new fraud
pattern, optionally in one region only) and broken batches (`broken`) for the validation catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrainer.sources.partitions import partition_key
from retrainer.storage import Storage
from retrainer.synthetic.broken import FILE_KINDS, break_batch
from retrainer.synthetic.labels import label_arrival, with_label_noise
from retrainer.synthetic.logins import generate_logins_day
from retrainer.synthetic.raw import generate_raw_day

CHANNELS = ("pos", "ecom", "atm", "wallet")
REGIONS = ("na", "eu", "latam", "apac", "mea")
MERCHANT_CATEGORIES = (
    "grocery", "fuel", "restaurant", "apparel", "electronics",
    "travel", "digital_goods", "gambling", "pharmacy", "utilities",
)  # fmt: skip

BEHAVIOURAL_FEATURES = (
    "tx_count_1h", "tx_count_24h", "tx_count_30d",
    "amount_sum_1h", "amount_sum_24h", "amount_sum_30d",
    "amount_avg_30d", "amount_to_avg_ratio",
    "distinct_merchants_24h", "distinct_countries_30d",
    "distance_from_home_km", "distance_from_last_tx_km", "minutes_since_last_tx",
    "account_age_days", "card_age_days",
    "device_risk_score", "ip_risk_score", "email_risk_score",
    "failed_logins_24h", "declined_tx_24h", "chargebacks_365d",
    "new_device", "billing_shipping_mismatch", "credit_utilization", "hour_of_day",
)  # fmt: skip


# Scales the fraud risk score before calibration: higher means fraud is easier to tell apart.
RISK_SHARPNESS = 3.0


@dataclass(frozen=True)
class GeneratorConfig:
    rows_per_day: int = 2000
    fraud_rate: float = 0.01
    customers: int = 20_000
    merchants: int = 2_000
    # Data drift: from `drift_start`, features shift by `data_drift` (0 = none, 1 = strong).
    data_drift: float = 0.0
    # Concept drift: from `drift_start`, fraud follows a new pattern (wallet velocity attacks) with this
    # weight (0 = none, 1 = the new pattern dominates), in `concept_drift_regions` or everywhere.
    concept_drift: float = 0.0
    concept_drift_regions: tuple[str, ...] = ()
    drift_start: date | None = None
    # Label noise: this share of labels is flipped (to train a worse challenger on purpose).
    label_noise: float = 0.0
    # Broken batches: `broken` names a kind from BROKEN_KINDS, applied to the days in `broken_days`.
    broken: str | None = None
    broken_days: tuple[date, ...] = field(default_factory=tuple)


def _day_seed(seed: int, day: date) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, day.toordinal()])


def generate_day(day: date, seed: int, config: GeneratorConfig = GeneratorConfig()) -> pd.DataFrame:
    """One day of transactions; the same (day, seed, config) always gives the same frame."""
    rng = np.random.default_rng(_day_seed(seed, day))
    n = config.rows_per_day
    drifting = config.drift_start is not None and day >= config.drift_start
    shift = config.data_drift if drifting else 0.0

    seconds = np.sort(rng.integers(0, 86_400, size=n))
    event_ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    hour = seconds // 3600

    channel = rng.choice(CHANNELS, size=n, p=_channel_mix(shift))
    region = rng.choice(REGIONS, size=n, p=(0.38, 0.30, 0.12, 0.14, 0.06))
    category = rng.choice(
        MERCHANT_CATEGORIES, size=n, p=(0.2, 0.1, 0.15, 0.1, 0.08, 0.06, 0.12, 0.03, 0.08, 0.08)
    )
    card_present = np.where(np.isin(channel, ("pos", "atm")), rng.random(n) < 0.97, rng.random(n) < 0.02)

    # Customer-level traits come from the customer id, so the same customer looks alike across days.
    customer = rng.integers(0, config.customers, size=n)
    trait = np.random.default_rng(seed).random((config.customers, 3))
    account_age = np.round(5 + trait[customer, 0] ** 2 * 3650).astype(float)
    avg_amount = np.round(np.exp(3.0 + 1.2 * trait[customer, 1]), 2)
    home_spread = 5 + 60 * trait[customer, 2]

    amount = np.round(avg_amount * rng.lognormal(0.0, 0.7, n) * (1 + 0.6 * shift), 2)
    tx_1h = rng.poisson(0.4 + 0.6 * shift, n)
    tx_24h = tx_1h + rng.poisson(3.0, n)
    tx_30d = tx_24h + rng.poisson(45.0, n)
    features = {
        "tx_count_1h": tx_1h,
        "tx_count_24h": tx_24h,
        "tx_count_30d": tx_30d,
        "amount_sum_1h": np.round(amount + tx_1h * avg_amount * rng.uniform(0.5, 1.5, n), 2),
        "amount_sum_24h": np.round(amount + tx_24h * avg_amount * rng.uniform(0.5, 1.5, n), 2),
        "amount_sum_30d": np.round(amount + tx_30d * avg_amount * rng.uniform(0.8, 1.2, n), 2),
        "amount_avg_30d": avg_amount,
        "amount_to_avg_ratio": np.round(amount / avg_amount, 4),
        "distinct_merchants_24h": np.minimum(tx_24h, rng.poisson(2.0, n)),
        "distinct_countries_30d": 1 + rng.poisson(0.2 + 0.5 * shift, n),
        "distance_from_home_km": np.round(rng.exponential(home_spread * (1 + shift)), 2),
        "distance_from_last_tx_km": np.round(rng.exponential(15.0, n), 2),
        "minutes_since_last_tx": np.round(rng.exponential(600.0, n), 1),
        "account_age_days": account_age,
        "card_age_days": np.minimum(account_age, np.round(rng.uniform(1, 1500, n))),
        "device_risk_score": np.round(np.clip(rng.beta(2, 8, n) + 0.15 * shift, 0, 1), 4),
        "ip_risk_score": np.round(rng.beta(2, 10, n), 4),
        "email_risk_score": np.round(rng.beta(1.5, 12, n), 4),
        "failed_logins_24h": rng.poisson(0.1, n),
        "declined_tx_24h": rng.poisson(0.15, n),
        "chargebacks_365d": rng.poisson(0.05, n),
        "new_device": (rng.random(n) < 0.05 + 0.1 * shift).astype(np.int8),
        "billing_shipping_mismatch": ((channel == "ecom") & (rng.random(n) < 0.1)).astype(np.int8),
        "credit_utilization": np.round(rng.beta(2, 5, n), 4),
        "hour_of_day": hour.astype(np.int8),
    }

    # Fraud risk: interactions, thresholds and saturations, so that a linear model cannot capture it all.
    night = (hour < 6).astype(float)
    ecom = (channel == "ecom").astype(float)
    risk = (
        2.2 * features["device_risk_score"] * ecom
        + 1.1 * np.log1p(features["amount_to_avg_ratio"]) * (1 + night)
        + 1.5 * (features["distance_from_home_km"] > 150) * (1 - card_present)
        + 1.4 * (account_age < 60) * (amount > 150)
        + 0.5 * np.minimum(tx_1h, 4)
        + 0.9 * features["new_device"] * (1 - card_present)
        + 0.8 * features["billing_shipping_mismatch"]
        + 1.8 * features["ip_risk_score"] ** 2
        + 0.4 * features["failed_logins_24h"]
        + 0.6 * np.isin(category, ("electronics", "digital_goods", "gambling"))
        + rng.normal(0.0, 0.35, n)
    )
    if drifting and config.concept_drift > 0:
        # A new attack: small wallet payments in bursts, which the old pattern scores as safe.
        attack = (
            2.5 * (channel == "wallet") * (tx_1h >= 1)
            + 1.5 * (amount < avg_amount) * (channel == "wallet")
            - 1.2 * features["device_risk_score"] * ecom
        )
        in_scope = np.isin(region, config.concept_drift_regions) if config.concept_drift_regions else True
        risk = risk + config.concept_drift * attack * in_scope
    fraud_probability = _calibrated_sigmoid(RISK_SHARPNESS * risk, config.fraud_rate)
    is_fraud = (rng.random(n) < fraud_probability).astype(np.int8)
    is_fraud = with_label_noise(is_fraud, rng, config.label_noise)
    label_available_at = label_arrival(event_ts, is_fraud, rng)

    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx-{day:%Y%m%d}-{i:07d}" for i in range(n)],
            "event_ts": event_ts,
            "customer_id": [f"c{c:07d}" for c in customer],
            "merchant_id": [f"m{m:06d}" for m in rng.integers(0, config.merchants, size=n)],
            "amount": amount,
            "channel": channel,
            "region": region,
            "merchant_category": category,
            "card_present": card_present.astype(bool),
            **features,
            "is_fraud": is_fraud,
            "label_available_at": label_available_at,
        }
    )
    if config.broken and day in config.broken_days:
        clean = replace(config, broken=None, broken_days=())
        frame = break_batch(frame, config.broken, rng, day, lambda other: generate_day(other, seed, clean))
    return frame


def _channel_mix(shift: float) -> np.ndarray:
    base = np.array([0.50, 0.30, 0.05, 0.15])
    drifted = np.array([0.30, 0.45, 0.03, 0.22])
    return (1 - shift) * base + shift * drifted if shift <= 1 else drifted


def _calibrated_sigmoid(risk: np.ndarray, rate: float) -> np.ndarray:
    """sigmoid(risk + b) with the intercept b chosen so that the mean probability equals `rate`."""
    low, high = -30.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(risk + mid)))) > rate:
            high = mid
        else:
            low = mid
    return 1 / (1 + np.exp(-(risk + (low + high) / 2)))


def _raw_day(day: date, seed: int, config: GeneratorConfig) -> pd.DataFrame:
    """One day of raw card transactions, broken as `config` says (the row kinds that name raw columns)."""
    if config.data_drift or config.concept_drift:
        raise ValueError(
            "data and concept drift are not simulated for raw_card_transactions (source.synthetic): "
            "generate without --data-drift / --concept-drift"
        )
    frame = generate_raw_day(day, seed, config.rows_per_day, config.fraud_rate, config.label_noise)
    if config.broken and day in config.broken_days:
        clean = replace(config, broken=None, broken_days=())
        rng = np.random.default_rng(_day_seed(seed, day))
        frame = break_batch(frame, config.broken, rng, day, lambda other: _raw_day(other, seed, clean))
    return frame


# What a model's `source.synthetic` may name (core.schema.Source keeps the same list).
KINDS = ("card_transactions", "account_logins", "raw_card_transactions")


def partition_bytes(
    day: date, seed: int, config: GeneratorConfig = GeneratorConfig(), kind: str = "card_transactions"
) -> bytes:
    """The bytes of one day's partition file: Parquet, or for a broken file kind what a bad upload left.
    `kind` chooses the data: card transactions, account logins (`config.fraud_rate` is then the
    takeover rate), or raw card transactions (retrainer.synthetic.raw: no computed columns, fraud seen only
    over time; of the drift knobs only `label_noise` applies)."""
    if kind == "account_logins":
        frame = generate_logins_day(day, seed, config.rows_per_day, config.fraud_rate)
    elif kind == "raw_card_transactions":
        frame = _raw_day(day, seed, config)
    elif kind == "card_transactions":
        frame = generate_day(day, seed, config)
    else:
        raise ValueError(f"unknown synthetic source kind {kind!r}; known: {KINDS}")
    data = frame.to_parquet(index=False)
    if config.broken in FILE_KINDS and day in config.broken_days:
        data = FILE_KINDS[config.broken](data, np.random.default_rng(_day_seed(seed, day)))
    return data


def generate(
    storage: Storage,
    start: date,
    end: date,
    seed: int = 7,
    config: GeneratorConfig = GeneratorConfig(),
    kind: str = "card_transactions",
) -> list[str]:
    """Write one partition per day from `start` to `end` inclusive; returns the written URIs."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    uris = []
    day = start
    while day <= end:
        uris.append(storage.put_bytes(partition_key(day), partition_bytes(day, seed, config, kind)))
        day += timedelta(days=1)
    return uris
