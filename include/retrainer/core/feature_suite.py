"""The check of a model's features suite (`core.models.features_suite_file`), the contract of its derived
features: it must exist, hold the values of every declared column and name no column that no declaration
makes. JSON only, cheap enough for the DAG processor; part of `core.models.suite_problems`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retrainer.core import feature_declarations as declarations
from retrainer.core.suite_columns import mentioned_columns, suite_columns


def features_suite_problems(path: Path | None, params: dict[str, Any], model_shown: str) -> list[str]:
    """The problems of the features suite at `path` (None: the model has no derived features, so none): no
    such file, a derived column whose values it does not hold, or a column it names that is neither the id
    nor a derived feature (the featurize stage would fail on it)."""
    if path is None:
        return []
    shown = f"{path.parent.name}/{path.name}"
    fix = f"`retrainer suite scaffold --model {params['model']['name']} --as-of DATE`"
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        return [
            f"{model_shown}: features.derived: the derived features have no contract: expected a suite at "
            f"{shown}, found no such file (write it from a clean week: {fix}, then review it)"
        ]
    except json.JSONDecodeError as error:
        return [f"{shown}: not valid JSON: {error}"]
    derived, held = declarations.derived_features(params), suite_columns(suite)
    problems = [
        f"{model_shown}: {feature.key}: derived feature {feature.name!r} has no expectation about its "
        f"values in the suite {shown} (add them: {fix}, then review the diff)"
        for feature in derived
        if feature.name not in held
    ]
    known = {feature.name for feature in derived} | {params["model"]["id_column"]}
    for column in sorted(mentioned_columns(suite) - known):
        problems.append(
            f"{shown}: column {column!r} is no derived feature of {model_shown} (declared: "
            f"features.derived): delete its expectations, or declare it again"
        )
    return problems
