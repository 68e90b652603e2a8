"""By hand, not a test (~15 s at 2000 rows a day): is fraud in the raw generator seen only over time?

    .venv/bin/python tests/synthetic/raw_signal.py [SEED] [ROWS_PER_DAY] [WEEKS]

Generates WEEKS weeks of `raw_card_transactions`, then fits XGBoost (the parameters of models/defaults.yaml's
train.xgboost) on the raw columns alone (amount, channel one-hot, hour) and on simple point-in-time pandas
features (per-customer counts and mean amounts over 1/7/30 days and the amount's ratio to them; per-terminal
fraud counts from labels that had arrived before the row, or, the handbook's way, over windows that ended a
week before), and prints PR-AUC on the last week (trained on weeks 3..WEEKS-2, early-stopped on WEEKS-1).
The generator is right when the raw columns score low (~0.05-0.2) and the behaviour features >= 0.5.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta

import pandas as pd
import xgboost as xgb
from sklearn.metrics import average_precision_score

from retrainer.synthetic.raw import CHANNELS, generate_raw_day

START = date(2026, 1, 5)
XGBOOST = {
    "tree_method": "hist", "n_estimators": 400, "early_stopping_rounds": 40, "learning_rate": 0.06,
    "max_depth": 5, "min_child_weight": 3, "subsample": 0.85, "colsample_bytree": 0.8, "reg_lambda": 1.0,
    "n_jobs": 2, "random_state": 42,
}  # fmt: skip


def rolling(df: pd.DataFrame, entity: str, column: str, window: str, how: str) -> pd.Series:
    """Per entity, `how` of `column` over (t - window, t] (the row itself included), in row order."""
    grouped = df.reset_index().set_index("event_ts").groupby(entity, sort=False)
    rows = grouped["index"].rolling(window).max().to_numpy().astype(int)  # index grows with time: the row
    values = getattr(grouped[column].rolling(window), how)().to_numpy()
    return pd.Series(values, index=rows).sort_index()


def terminal_frauds_arrived(df: pd.DataFrame, window_days: int) -> pd.Series:
    """Frauds on the row's terminal with their event in [t - window, t) and their label arrived before t."""
    frauds = df[df["is_fraud"] == 1]
    expiry = frauds["event_ts"] + pd.Timedelta(days=window_days)
    keep = frauds["label_available_at"] < expiry
    terminal = frauds["terminal_id"][keep]
    events = pd.concat(
        [
            pd.DataFrame(
                {"terminal_id": terminal, "t": frauds["label_available_at"][keep], "kind": 1, "d": 1}
            ),
            pd.DataFrame({"terminal_id": terminal, "t": expiry[keep], "kind": 1, "d": -1}),
        ]
    )
    asked = pd.DataFrame(
        {"terminal_id": df["terminal_id"], "t": df["event_ts"], "kind": 0, "d": 0, "row": df.index}
    )
    both = pd.concat([asked, events], ignore_index=True)
    both = both.sort_values(["terminal_id", "t", "kind"], kind="stable")  # a row sees events before it only
    both["count"] = both.groupby("terminal_id")["d"].cumsum()
    asked = both[both["kind"] == 0]
    return pd.Series(asked["count"].to_numpy(), index=asked["row"].to_numpy().astype(int)).sort_index()


def features(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The feature sets compared, by name."""
    raw = pd.DataFrame({"amount": df["amount"], "hour": df["event_ts"].dt.hour})
    for channel in CHANNELS:
        raw[f"channel_{channel}"] = (df["channel"] == channel).astype(int)
    customer = raw[["amount", "hour"]].copy()
    for window in ("1D", "7D", "30D"):
        customer[f"customer_count_{window}"] = rolling(df, "customer_id", "amount", window, "count")
        customer[f"customer_mean_{window}"] = rolling(df, "customer_id", "amount", window, "mean")
        customer[f"amount_to_mean_{window}"] = df["amount"] / customer[f"customer_mean_{window}"]
    terminal = raw[["amount", "hour"]].copy()
    count_30d = rolling(df, "terminal_id", "amount", "30D", "count")
    for days in (7, 30):
        terminal[f"terminal_frauds_{days}d"] = terminal_frauds_arrived(df, days)
    terminal["terminal_fraud_rate_30d"] = terminal["terminal_frauds_30d"] / count_30d
    delayed = customer.copy()
    for days in (1, 7, 30):  # the handbook's: frauds in (t - 7d - window, t - 7d], as if all had arrived
        span = f"{days + 7}D"
        frauds = rolling(df, "terminal_id", "is_fraud", span, "sum") - rolling(
            df, "terminal_id", "is_fraud", "7D", "sum"
        )
        count = rolling(df, "terminal_id", "is_fraud", span, "count") - rolling(
            df, "terminal_id", "is_fraud", "7D", "count"
        )
        delayed[f"terminal_frauds_{days}d"] = frauds
        delayed[f"terminal_fraud_rate_{days}d"] = (frauds / count).where(count > 0, 0.0)
    both = pd.concat([customer, terminal.drop(columns=["amount", "hour"])], axis=1)
    return {
        "raw columns": raw,
        "behaviour (arrived labels)": both,
        "behaviour (week-delayed)": delayed,
        "customer features only": customer,
        "terminal features only": terminal,
    }


def main(argv: list[str]) -> dict[str, float]:
    seed, rows, weeks = ([int(a) for a in argv] + [7, 2000, 8][len(argv) :])[:3]
    days = [START + timedelta(days=i) for i in range(7 * weeks)]
    df = pd.concat([generate_raw_day(d, seed, rows) for d in days], ignore_index=True)
    df = df.sort_values("event_ts", kind="stable").reset_index(drop=True)
    print(
        f"seed {seed}, {rows} rows/day, {weeks} weeks: {len(df)} rows, fraud rate {df['is_fraud'].mean():.4f}"
    )
    day = (df["event_ts"] - pd.Timestamp(START, tz="UTC")).dt.days
    last = 7 * weeks
    train = (day >= 14) & (day < last - 14)  # the first two weeks only give the windows their history
    valid = (day >= last - 14) & (day < last - 7)
    holdout = day >= last - 7
    label = df["is_fraud"]
    scores = {}
    for name, frame in features(df).items():
        model = xgb.XGBClassifier(**XGBOOST)
        model.fit(frame[train], label[train], eval_set=[(frame[valid], label[valid])], verbose=False)
        scores[name] = average_precision_score(label[holdout], model.predict_proba(frame[holdout])[:, 1])
        print(f"  {name:28s} PR-AUC on the last week {scores[name]:.3f} ({int(label[holdout].sum())} frauds)")
    return scores


if __name__ == "__main__":
    main(sys.argv[1:])
