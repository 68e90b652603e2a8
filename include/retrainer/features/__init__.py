"""Derived features from raw events, point in time: declared in a model's params (`features.derived`),
computed by one engine (DuckDB window functions) for training and for scoring.

`declarations` is pure Python (the schema and the DAG processor import it); `engine` imports DuckDB, so it
is loaded only when a feature is computed.
"""

from __future__ import annotations

from typing import Any

from retrainer.core.feature_declarations import (
    DerivedFeature,
    definitions,
    definitions_hash,
    derived_feature_names,
    derived_features,
    history_needed,
    parse_duration,
    source_columns,
)

__all__ = [
    "DerivedFeature",
    "FeatureDataError",
    "compute_features",
    "definitions",
    "definitions_hash",
    "derived_feature_names",
    "derived_features",
    "history_needed",
    "parse_duration",
    "source_columns",
    "write_features",
]


def __getattr__(name: str) -> Any:
    if name in ("compute_features", "write_features", "FeatureDataError"):
        from retrainer.features import engine

        return getattr(engine, name)
    raise AttributeError(name)
