"""Synthetic card transactions, deterministic from a seed, written as one Parquet partition per day.

The fraud label depends non-linearly on the features and arrives late (a chargeback days after the event),
so point-in-time correctness matters. Knobs produce data drift (feature shift), concept drift (a new fraud
pattern, optionally in one region only) and broken batches for the validation catalogue.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrainer.storage import Storage

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

PARTITION_FILE = "transactions.parquet"

# Chargebacks arrive 2-20 days after the event; a transaction with no chargeback after this many days is
# confirmed legitimate, which is when its label "arrives".
MAX_LABEL_DELAY_DAYS = 20

# Scales the fraud risk score before calibration: higher means fraud is easier to tell apart.
RISK_SHARPNESS = 3.0


def partition_key(day: date) -> str:
    return f"date={day.isoformat()}/{PARTITION_FILE}"


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
    if config.label_noise > 0:
        flip = rng.random(n) < config.label_noise
        is_fraud = np.where(flip, 1 - is_fraud, is_fraud).astype(np.int8)

    label_delay_days = np.where(
        is_fraud == 1,
        np.clip(rng.lognormal(np.log(7.0), 0.5, n), 2, MAX_LABEL_DELAY_DAYS),
        MAX_LABEL_DELAY_DAYS,
    )
    label_available_at = event_ts + pd.to_timedelta(np.round(label_delay_days * 86_400), unit="s")

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


# A day's clean transactions under the same seed and settings (for kinds that replay another day).
CleanDay = Callable[[date], pd.DataFrame]


# --- broken batches: the validation catalogue ---------------------------------------------------------
# Row kinds change a day's frame; file kinds change the bytes written for a day's partition. Each kind is
# a case of tests/unit/test_contracts.py, which names the expectation that must catch it.


def _missing_column(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.drop(columns=["amount"])


def _renamed_column(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.rename(columns={"amount": "amt"})


def _extra_column(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.assign(promo_code=rng.choice(["", "WELCOME10", "SPRING"], size=len(frame)))


def _amount_as_text(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.assign(amount=frame["amount"].map(lambda v: f"{v:.2f} EUR"))


def _null_amounts(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[rng.random(len(frame)) < 0.05, "amount"] = np.nan
    return frame


def _negative_amount(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[:10], "amount"] = -frame.loc[frame.index[:10], "amount"]
    return frame


def _absurd_amount(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[::97], "amount"] = 9.9e9  # cents written into a euros field, twice over
    return frame


def _unknown_value(column: str, value: str):
    def breaker(
        frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
    ) -> pd.DataFrame:
        frame = frame.copy()
        frame.loc[frame.index[::50], column] = value
        return frame

    return breaker


def _duplicate_ids(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[1::100], "transaction_id"] = frame["transaction_id"].iloc[0]
    return frame


def _empty_batch(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.iloc[:0]


def _volume_drop(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.iloc[: max(1, len(frame) // 20)]  # 95% of the day's transactions never arrive


def _label_flip(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.assign(is_fraud=(rng.random(len(frame)) < 0.5).astype(np.int8))


def _no_fraud(frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay) -> pd.DataFrame:
    return frame.assign(is_fraud=np.zeros(len(frame), dtype=np.int8))


def _label_values(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[::40], "is_fraud"] = 2  # a "disputed" code leaking into the label
    return frame


def _shift_times(frame: pd.DataFrame, rows, days: int) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("event_ts", "label_available_at"):
        frame.loc[rows, column] = frame.loc[rows, column] + pd.Timedelta(days=days)
    return frame


def _future_timestamps(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return _shift_times(frame, frame.index[::25], 30)


def _stale_window(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return _shift_times(frame, frame.index, -35)  # a stuck export sends rows from five weeks ago


def _constant_feature(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.assign(device_risk_score=0.5)  # the risk service was down and a default filled in


def _mixed_time_zones(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    # One upstream system writes local wall-clock time without a zone.
    local = {c: frame[c].dt.tz_convert("America/New_York").dt.tz_localize(None) for c in ("event_ts",)}
    return frame.assign(**local)


def _duplicate_batch(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    # The file of the same weekday a week earlier is delivered again as this day's file.
    return clean_day(day - timedelta(days=7))


def _corrupt_parquet(data: bytes, rng: np.random.Generator) -> bytes:
    noise = rng.integers(0, 256, size=len(data) // 2, dtype=np.uint8).tobytes()
    return data[:4] + noise + data[4 + len(noise) :]


def _truncated_file(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: len(data) // 2]  # an upload that stopped half way


def _csv_as_parquet(data: bytes, rng: np.random.Generator) -> bytes:
    return pd.read_parquet(io.BytesIO(data)).to_csv(index=False).encode()


def _header_only(data: bytes, rng: np.random.Generator) -> bytes:
    return data[:4]  # the writer died after Parquet's magic header


def _empty_file(data: bytes, rng: np.random.Generator) -> bytes:
    return b""


ROW_KINDS = {
    "missing_column": _missing_column,
    "renamed_column": _renamed_column,
    "extra_column": _extra_column,
    "amount_as_text": _amount_as_text,
    "null_amounts": _null_amounts,
    "negative_amount": _negative_amount,
    "absurd_amount": _absurd_amount,
    "unknown_channel": _unknown_value("channel", "telepathy"),
    "unknown_region": _unknown_value("region", "atlantis"),
    "unknown_category": _unknown_value("merchant_category", "crypto_mixer"),
    "duplicate_ids": _duplicate_ids,
    "empty_batch": _empty_batch,
    "volume_drop": _volume_drop,
    "label_flip": _label_flip,
    "no_fraud": _no_fraud,
    "label_values": _label_values,
    "future_timestamps": _future_timestamps,
    "stale_window": _stale_window,
    "constant_feature": _constant_feature,
    "mixed_time_zones": _mixed_time_zones,
    "duplicate_batch": _duplicate_batch,
}
FILE_KINDS = {
    "corrupt_parquet": _corrupt_parquet,
    "truncated_file": _truncated_file,
    "csv_as_parquet": _csv_as_parquet,
    "header_only": _header_only,
    "empty_file": _empty_file,
}
BROKEN_KINDS = {**ROW_KINDS, **FILE_KINDS}


def break_batch(
    frame: pd.DataFrame, kind: str, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    """`frame` (the day's transactions) broken the way `kind` names; file kinds leave it as it is."""
    if kind not in BROKEN_KINDS:
        raise ValueError(f"unknown broken-batch kind {kind!r}; choose from {sorted(BROKEN_KINDS)}")
    return ROW_KINDS[kind](frame, rng, day, clean_day) if kind in ROW_KINDS else frame


def partition_bytes(day: date, seed: int, config: GeneratorConfig = GeneratorConfig()) -> bytes:
    """The bytes of one day's partition file: Parquet, or for a broken file kind what a bad upload left."""
    data = generate_day(day, seed, config).to_parquet(index=False)
    if config.broken in FILE_KINDS and day in config.broken_days:
        data = FILE_KINDS[config.broken](data, np.random.default_rng(_day_seed(seed, day)))
    return data


def generate(
    storage: Storage, start: date, end: date, seed: int = 7, config: GeneratorConfig = GeneratorConfig()
) -> list[str]:
    """Write one partition per day from `start` to `end` inclusive; returns the written URIs."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    uris = []
    day = start
    while day <= end:
        uris.append(storage.put_bytes(partition_key(day), partition_bytes(day, seed, config)))
        day += timedelta(days=1)
    return uris
