"""Broken batches: the validation catalogue. Row kinds change a day's frame; file kinds change the bytes
written for a day's partition. Each kind is a case of tests/data/test_contracts.py, which names the
expectation that must catch it."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd

# A day's clean transactions under the same seed and settings (for kinds that replay another day).
CleanDay = Callable[[date], pd.DataFrame]


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


def _constant_int_feature(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    # the velocity service was down and its counter defaulted to 0: a constant of integer type
    return frame.assign(tx_count_1h=np.zeros(len(frame), dtype=frame["tx_count_1h"].dtype))


def _label_shuffle(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    # labels joined on the wrong key: the fraud rate holds, the link to the transaction is gone
    order = rng.permutation(len(frame))
    return frame.assign(
        is_fraud=frame["is_fraud"].to_numpy()[order],
        label_available_at=frame["label_available_at"].to_numpy()[order],
    )


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


def _resent_day(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    # The day before is sent again as this day's file: its purchases under new transaction ids, their times
    # moved to this day and a few seconds off. Every row on its own is plausible; the day is not new.
    again = clean_day(day - timedelta(days=1))
    moved = pd.Timedelta(days=1) + pd.to_timedelta(rng.integers(-20, 21, size=len(again)), unit="s")
    return again.assign(
        transaction_id=[f"tx-{day:%Y%m%d}-r{i:06d}" for i in range(len(again))],
        event_ts=again["event_ts"] + moved,
        label_available_at=again["label_available_at"] + moved,
    )


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
    "constant_int_feature": _constant_int_feature,
    "mixed_time_zones": _mixed_time_zones,
    "duplicate_batch": _duplicate_batch,
    "resent_day": _resent_day,
}
FILE_KINDS = {
    "corrupt_parquet": _corrupt_parquet,
    "truncated_file": _truncated_file,
    "csv_as_parquet": _csv_as_parquet,
    "header_only": _header_only,
    "empty_file": _empty_file,
}


def _swapped_pair(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    # Two neighbouring columns of the export swapped: both stay >= 0, both keep their types
    a, b = "distance_from_last_tx_km", "minutes_since_last_tx"
    return frame.assign(**{a: frame[b], b: frame[a]})


def _unit_x24(frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay) -> pd.DataFrame:
    return frame.assign(account_age_days=frame["account_age_days"] * 24)  # days reported as hours


def _amount_x100(
    frame: pd.DataFrame, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    return frame.assign(amount=(frame["amount"] * 100).round(2))  # cents instead of units, every row


# Kinds that keep the shape and change the meaning: caught by the expectations learnt from the model's
# validated history (`retrainer suite refresh`, data/learnt.py), not by the types, nulls and ranges.
MEANING_KINDS = {"swapped_pair": _swapped_pair, "unit_x24": _unit_x24, "amount_x100": _amount_x100}
# Kinds that pass the data contract: only their labels are wrong, which shows when the labels mature (the
# label check of `evaluation.label_signal`), not in the batch itself.
LABEL_KINDS = {"label_shuffle": _label_shuffle}
BROKEN_KINDS = {**ROW_KINDS, **FILE_KINDS}


def break_batch(
    frame: pd.DataFrame, kind: str, rng: np.random.Generator, day: date, clean_day: CleanDay
) -> pd.DataFrame:
    """`frame` (the day's transactions) broken the way `kind` names; file kinds leave it as it is."""
    if kind in LABEL_KINDS:
        return LABEL_KINDS[kind](frame, rng, day, clean_day)
    if kind in MEANING_KINDS:
        return MEANING_KINDS[kind](frame, rng, day, clean_day)
    if kind not in BROKEN_KINDS:
        kinds = sorted([*BROKEN_KINDS, *LABEL_KINDS, *MEANING_KINDS])
        raise ValueError(f"unknown broken-batch kind {kind!r}; choose from {kinds}")
    return ROW_KINDS[kind](frame, rng, day, clean_day) if kind in ROW_KINDS else frame
