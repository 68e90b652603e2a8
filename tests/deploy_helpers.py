"""Small real models in a registry, and source days, for the scoring and deployment tests."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np

from retrainer.features.matrix import build_matrix, feature_names
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry
from retrainer.synthetic.generator import GeneratorConfig, generate_day

FIRST_DAY = date(2026, 11, 1)


def write_days(source, days: int, rows: int = 600, first: date = FIRST_DAY, **knobs) -> list[date]:
    from retrainer.sources.partitions import partition_key

    written = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        frame = generate_day(day, 7, GeneratorConfig(rows_per_day=rows, customers=400, **knobs))
        source.put_bytes(partition_key(day), frame.to_parquet(index=False))
        written.append(day)
    return written


def train_model(params: dict, seed: int = 1, invert: bool = False, rows: int = 4000) -> bytes:
    """A small XGBoost model on generated rows (labels inverted for a deliberately bad one), as UBJ bytes."""
    import xgboost as xgb

    frame = generate_day(date(2026, 9, 1), seed, GeneratorConfig(rows_per_day=rows, fraud_rate=0.03))
    x = build_matrix(frame, params["features"])
    y = frame["is_fraud"].to_numpy()
    names = feature_names(params["features"])
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": seed, "nthread": 1},
        xgb.DMatrix(x, label=1 - y if invert else y, feature_names=names),
        num_boost_round=15,
    )
    return bytes(booster.save_raw("ubj"))


def register(
    registry: Registry, params: dict, model: bytes, threshold: float = 0.05, alias: str | None = None
) -> int:
    """Register `model` as a new version with the lineage scoring reads; set `alias` if given."""
    gates = {
        "headline_metric": "pr_auc",
        "metrics": {"challenger": {"pr_auc": 0.61}, "champion": {"pr_auc": 0.58}},
        "champion_version": 1,
        "non_regression": {"estimate": 0.03, "low": -0.01, "high": 0.07, "confidence": 0.95},
        "costs": {"saved_vs_champion": 1234.5},
        "slices": {
            "rows": [
                {
                    "slice": "region=latam",
                    "judged": True,
                    "delta": -0.012,
                    "challenger_roc_auc": 0.91,
                    "positives": 40,
                },
                {
                    "slice": "channel=pos",
                    "judged": True,
                    "delta": 0.004,
                    "challenger_roc_auc": 0.95,
                    "positives": 80,
                },
            ]
        },
    }
    key = f"test-{len(registry.versions())}-{np.random.default_rng().integers(1 << 30)}"
    record, _ = registry.register(
        {"model.ubj": model, "gates.json": json.dumps(gates).encode()},
        {
            "params": params,
            "decision": {"threshold": threshold},
            "data_hash": "abc.dir",
            "metrics": gates["metrics"],
        },
        key,
        actor="test",
    )
    if alias:
        registry.set_alias(alias, record["version"], "test", "set up by the test", expected=None)
    return record["version"]


def champion_and_challenger(registry: Registry, params: dict, bad: bool = False) -> tuple[int, int]:
    champion = register(registry, params, train_model(params, seed=1), alias=CHAMPION)
    challenger = register(registry, params, train_model(params, seed=2, invert=bad), alias=CHALLENGER)
    return champion, challenger


def three_versions(storage, params: dict, model: str = "fraud-xgb") -> Registry:
    """A registry of three versions of `model`, v1 the champion (what the deployment moves start from)."""
    registry = Registry(storage, model)
    for n in range(3):
        register(registry, params, f"model {n}".encode(), alias=CHAMPION if n == 0 else None)
    return registry
