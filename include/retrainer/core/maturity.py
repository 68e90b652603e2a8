"""Which rows' labels are complete at a moment: the one rule that training, the concept-drift check, the
canary guard and every report of matured performance share.

A label "arrived by the logical date" is not enough: frauds are reported in days, legitimate rows are
confirmed only when the chargeback window closes, so the arrived set is heavy in frauds. A row is matured
when its event is older than `data.label_maturity_days` before the logical date (any label it will get
has arrived) and its label had arrived by then."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd


def _utc(values) -> pd.Series:
    """Times as a UTC-aware Series; a naive time is taken as UTC."""
    series = pd.to_datetime(pd.Series(values), utc=False)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    return series.dt.tz_localize("UTC")


def _utc_moment(moment: datetime | str | pd.Timestamp) -> pd.Timestamp:
    moment = pd.Timestamp(moment)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def maturity_horizon(as_of: datetime | str | pd.Timestamp, label_maturity_days: int) -> pd.Timestamp:
    """The moment before which every event's label is final at `as_of` (UTC)."""
    return _utc_moment(as_of) - timedelta(days=label_maturity_days)


def matured_mask(
    event_time, label_arrived_at, as_of: datetime | str | pd.Timestamp, label_maturity_days: int
) -> np.ndarray:
    """True for the rows whose event time is before `maturity_horizon(as_of, label_maturity_days)` and
    whose label arrived at or before `as_of`; a missing time never counts. Naive times are UTC."""
    as_of = _utc_moment(as_of)
    events, arrived = _utc(event_time), _utc(label_arrived_at)
    horizon = maturity_horizon(as_of, label_maturity_days)
    return (events.notna() & (events < horizon) & arrived.notna() & (arrived <= as_of)).to_numpy()


def one_class(labels: np.ndarray) -> bool:
    """True when `labels` (0/1, no missing) hold fewer than two classes: no ranking metric is defined."""
    return np.unique(np.asarray(labels)).size < 2
