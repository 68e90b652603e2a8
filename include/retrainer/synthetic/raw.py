"""Synthetic raw card transactions: only the columns a payments system records, fraud visible only over time.

Modelled on the transaction simulator of Le Borgne et al.'s "Reproducible Machine Learning for Credit Card
Fraud Detection" handbook: customers with spending profiles pay at terminals, and fraud follows three
scenarios, each seen through behaviour rather than in a single row:

1. an amount above `AMOUNT_THRESHOLD` is fraud (rare; the one pattern the raw amount shows);
2. compromised terminals: every day a few terminals are drawn, and for the next `TERMINAL_DAYS` days every
   transaction on them is fraud; only a terminal's rate of (arrived) fraud labels reveals it;
3. compromised customers: every day a few customers are drawn, and for the next `CUSTOMER_DAYS` days a
   share of their transactions are fraud, their amount multiplied by `CUSTOMER_AMOUNT_FACTOR`; only the
   customer's own average amount reveals it (small spenders' frauds look like big spenders' purchases).

Every day is generated alone from (seed, day, rows_per_day): the customers and terminals come from the seed
and the volume, and the compromises active on a day from the draws of the days before it, each drawn from
its own seed, so a day is the same whether generated alone or in a range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from retrainer.synthetic.labels import label_arrival, with_label_noise

# The columns of a partition, in order: nothing computed, nothing a model could not see at payment time
# except the label and when it arrived.
RAW_COLUMNS = (
    "transaction_id", "event_ts", "customer_id", "terminal_id", "amount", "channel",
    "is_fraud", "label_available_at",
)  # fmt: skip
CHANNELS = ("pos", "ecom", "atm", "wallet")

TX_PER_CUSTOMER_DAY = 2.0  # customers = rows_per_day / this: each has weeks of history to compare with
TX_PER_TERMINAL_DAY = 1.0  # terminals = rows_per_day / this
# The terminals a customer pays at, drawn at random (the handbook draws those within a radius of the
# customer's home; only their sharing between customers matters here).
TERMINALS_PER_CUSTOMER = 20

# Customers' usual amounts spread log-uniformly over two decades, so a stolen card's 5x amount is an
# ordinary purchase for a bigger spender. Tuned by measurement (XGBoost, 8 weeks at 2000 rows a day, the
# last week held out): the raw columns score PR-AUC 0.05-0.11 over seeds, point-in-time per-customer and
# per-terminal aggregates 0.65-0.80. Amounts stay normal around the customer's mean (sd = mean / 2).
MIN_MEAN_AMOUNT, MAX_MEAN_AMOUNT = 5.0, 500.0
AMOUNT_THRESHOLD = 1000.0  # scenario 1: rare (~4% of frauds), the one fraud a single row gives away
TERMINAL_DAYS = 28
CUSTOMER_DAYS = 14
CUSTOMER_FRAUD_SHARE = 1 / 3  # of a compromised customer's transactions
CUSTOMER_AMOUNT_FACTOR = 5.0
# How the fraud rate splits between the compromise scenarios (the amount scenario adds its own few).
TERMINAL_SHARE, CUSTOMER_SHARE = 0.45, 0.55

# Tags that keep the raw generator's random streams apart from each other and from the other generators'.
_WORLD, _DAY, _TERMINALS, _CUSTOMERS = 2_000_003, 2_000_029, 2_000_039, 2_000_081


@dataclass(frozen=True)
class World:
    """Who pays where: the customers' spending profiles and the terminals each one uses."""

    mean_amount: np.ndarray  # per customer
    std_amount: np.ndarray
    activity: np.ndarray  # per customer: the share of the day's transactions that are theirs
    channel: np.ndarray  # per customer: index of their usual channel in CHANNELS
    terminals: np.ndarray  # (customers, TERMINALS_PER_CUSTOMER): terminal indices

    @property
    def customers(self) -> int:
        return len(self.mean_amount)


def sizes(rows_per_day: int) -> tuple[int, int]:
    """(customers, terminals) of the world behind `rows_per_day` transactions a day."""
    customers = max(10, round(rows_per_day / TX_PER_CUSTOMER_DAY))
    terminals = max(TERMINALS_PER_CUSTOMER, round(rows_per_day / TX_PER_TERMINAL_DAY))
    return customers, terminals


@lru_cache(maxsize=2)  # a world is ~40 MB at 500k rows a day: keep the last two
def world(seed: int, rows_per_day: int) -> World:
    """The customers and terminals of (seed, rows_per_day); the same every time and for every day."""
    customers, terminals = sizes(rows_per_day)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _WORLD, rows_per_day]))
    mean_amount = np.exp(rng.uniform(np.log(MIN_MEAN_AMOUNT), np.log(MAX_MEAN_AMOUNT), customers))
    activity = rng.uniform(0.0, 4.0, customers)
    return World(
        mean_amount=mean_amount,
        std_amount=mean_amount / 2,
        activity=activity / activity.sum(),
        channel=rng.choice(len(CHANNELS), size=customers, p=(0.5, 0.3, 0.05, 0.15)),
        terminals=rng.integers(0, terminals, size=(customers, TERMINALS_PER_CUSTOMER)),
    )


def _drawn(seed: int, tag: int, day: date, population: int, rate: float) -> np.ndarray:
    """The members of `population` compromised on `day` (a Poisson number of them, drawn from their own
    seed): what every later day of the compromise finds again without generating `day`."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, tag, day.toordinal()]))
    return rng.choice(population, size=min(population, rng.poisson(rate)), replace=False)


def compromised(seed: int, day: date, rows_per_day: int, fraud_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(terminals, customers) compromised on `day`: drawn on this day or on the days before it within the
    scenario's duration. Rates are set so the scenarios together give about `fraud_rate`."""
    customers, terminals = sizes(rows_per_day)
    per_terminal_day = rows_per_day / terminals
    per_customer_day = rows_per_day / customers
    terminal_rate = TERMINAL_SHARE * fraud_rate * rows_per_day / (TERMINAL_DAYS * per_terminal_day)
    customer_rate = (
        CUSTOMER_SHARE * fraud_rate * rows_per_day / (CUSTOMER_DAYS * per_customer_day * CUSTOMER_FRAUD_SHARE)
    )
    ordinal = day.toordinal()
    bad_terminals = [
        _drawn(seed, _TERMINALS, date.fromordinal(ordinal - back), terminals, terminal_rate)
        for back in range(TERMINAL_DAYS)
    ]
    bad_customers = [
        _drawn(seed, _CUSTOMERS, date.fromordinal(ordinal - back), customers, customer_rate)
        for back in range(CUSTOMER_DAYS)
    ]
    return np.unique(np.concatenate(bad_terminals)), np.unique(np.concatenate(bad_customers))


def generate_raw_day(
    day: date, seed: int, rows_per_day: int = 2000, fraud_rate: float = 0.01, label_noise: float = 0.0
) -> pd.DataFrame:
    """One day of raw transactions (the columns of RAW_COLUMNS); the same arguments give the same frame,
    whatever other days were generated before or with it."""
    people = world(seed, rows_per_day)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _DAY, rows_per_day, day.toordinal()]))
    n = rows_per_day

    # Payments cluster around midday, as in the handbook (seconds of the day, normal around noon); the few
    # drawn outside the day are spread over it rather than piled up at midnight.
    seconds = np.round(rng.normal(43_200, 20_000, n)).astype(np.int64)
    seconds = np.sort(np.where((seconds >= 0) & (seconds < 86_400), seconds, rng.integers(0, 86_400, n)))
    event_ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s")

    customer = rng.choice(people.customers, size=n, p=people.activity)
    terminal = people.terminals[customer, rng.integers(0, TERMINALS_PER_CUSTOMER, size=n)]
    mean, std = people.mean_amount[customer], people.std_amount[customer]
    amount = rng.normal(mean, std)
    amount = np.where(amount > 0, amount, rng.uniform(0, 2 * mean))  # the handbook's redraw of negatives
    usual = rng.random(n) < 0.8
    channel = np.where(usual, people.channel[customer], rng.integers(0, len(CHANNELS), size=n))

    bad_terminals, bad_customers = compromised(seed, day, rows_per_day, fraud_rate)
    on_bad_terminal = np.isin(terminal, bad_terminals)
    stolen = np.isin(customer, bad_customers) & (rng.random(n) < CUSTOMER_FRAUD_SHARE)
    amount = np.where(stolen, amount * CUSTOMER_AMOUNT_FACTOR, amount)
    amount = np.maximum(np.round(amount, 2), 0.01)
    is_fraud = ((amount > AMOUNT_THRESHOLD) | on_bad_terminal | stolen).astype(np.int8)
    is_fraud = with_label_noise(is_fraud, rng, label_noise)
    label_available_at = label_arrival(event_ts, is_fraud, rng)
    return pd.DataFrame(
        {
            "transaction_id": [f"rtx-{day:%Y%m%d}-{i:07d}" for i in range(n)],
            "event_ts": event_ts,
            "customer_id": [f"c{c:07d}" for c in customer],
            "terminal_id": [f"t{t:07d}" for t in terminal],
            "amount": amount,
            "channel": np.asarray(CHANNELS)[channel],
            "is_fraud": is_fraud,
            "label_available_at": label_available_at,
        }
    )
