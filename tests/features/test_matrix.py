import pandas as pd
import pytest

from retrainer.features.matrix import FeatureError, build_matrix, feature_names, label_as_of, time_split

AS_OF = pd.Timestamp("2026-11-16", tz="UTC")


def _rows(params):
    def row(i, days_ago, fraud, label_delay_days):
        event = AS_OF - pd.Timedelta(days=days_ago)
        return {
            "transaction_id": f"t{i}",
            "event_ts": event,
            "is_fraud": fraud,
            "label_available_at": event + pd.Timedelta(days=label_delay_days),
        }

    return pd.DataFrame(
        [
            row(1, 40, 0, 20),  # matured legitimate
            row(2, 35, 1, 5),  # matured fraud, chargeback long arrived
            row(3, 30, 1, 40),  # matured in age, but its chargeback arrives after as_of: pending
            row(4, 10, 1, 3),  # young fraud with an early chargeback: left out with the other young rows
            row(5, 5, 0, 20),  # young and unlabelled: never counted as legitimate
        ]
    )


def test_only_rows_with_final_labels_at_the_logical_date_are_kept(params):
    kept, report = label_as_of(_rows(params), AS_OF, params)
    assert kept["transaction_id"].tolist() == ["t1", "t2"]
    assert report["rows_not_matured"] == 2
    assert report["rows_label_pending"] == 1
    assert report["positives_labelled"] == 1


def test_split_is_in_event_time_order(params):
    frame = pd.DataFrame(
        {
            "event_ts": pd.date_range("2026-01-01", periods=100, freq="h", tz="UTC"),
            "is_fraud": [i % 2 for i in range(100)],
        }
    )
    parts = time_split(frame, params)
    assert parts["train"]["event_ts"].max() < parts["valid"]["event_ts"].min()
    assert parts["valid"]["event_ts"].max() < parts["holdout"]["event_ts"].min()
    assert sum(len(p) for p in parts.values()) == 100


def test_split_without_both_labels_is_refused(params):
    frame = pd.DataFrame(
        {"event_ts": pd.date_range("2026-01-01", periods=50, freq="h", tz="UTC"), "is_fraud": 0}
    )
    with pytest.raises(FeatureError, match="only one label value"):
        time_split(frame, params)


def test_matrix_follows_the_feature_names(params):
    from datetime import date

    from retrainer.synthetic import generate_day

    frame = generate_day(date(2026, 10, 1), seed=1)
    matrix = build_matrix(frame, params["features"])
    names = feature_names(params["features"])
    assert matrix.shape == (len(frame), len(names))
    column = names.index("channel=ecom")
    assert (matrix[:, column] == (frame["channel"] == "ecom")).all()
    with pytest.raises(FeatureError, match="amount"):
        build_matrix(frame.drop(columns=["amount"]), params["features"])


def test_labels_may_arrive_a_fixed_delay_after_the_event_instead_of_by_a_column(params):
    """A source with no label-arrival column (`model.label_delay_days`): row 3's label, 30 days old, is
    final after a 21-day delay even though the column (dropped here) would have said it was pending."""
    model = {k: v for k, v in params["model"].items() if k != "label_time"} | {"label_delay_days": 21}
    frame = _rows(params).drop(columns=["label_available_at"])
    kept, report = label_as_of(frame, AS_OF, params | {"model": model})
    assert kept["transaction_id"].tolist() == ["t1", "t2", "t3"]
    assert report["rows_label_pending"] == 0


def test_without_a_validation_split_every_round_is_kept(params):
    """`split.valid_fraction: 0`: the valid split is empty and XGBoost trains every round, no early stop."""
    import numpy as np

    from retrainer.training.models import train_xgboost

    frame = pd.DataFrame({"event_ts": range(100), "is_fraud": [i % 5 == 0 for i in range(100)]})
    parts = time_split(frame, params | {"split": {"valid_fraction": 0.0, "holdout_fraction": 0.2}})
    assert [len(parts[n]) for n in ("train", "valid", "holdout")] == [80, 0, 20]
    rng = np.random.default_rng(0)
    x, y = rng.random((80, 3)), (rng.random(80) < 0.3).astype(int)
    xgb = params["train"]["xgboost"] | {"n_estimators": 7, "early_stopping_rounds": None}
    booster = train_xgboost(x, y, x[:0], y[:0], ["a", "b", "c"], xgb, 1)
    assert booster.num_boosted_rounds() == 7
