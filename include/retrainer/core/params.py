"""Every tunable number: a model's params (`core.models`), and the DAG Params that override a few of its
keys per run."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from retrainer.core.errors import ConfigError

# The retraining DAG's Params (flat names, shown as a form in the UI) and the params.yaml keys they override.
DAG_PARAMS = {
    "extract_window_days": "data.extract_window_days",
    "training_window_days": "data.training_window_days",
    "min_pr_auc": "gates.min_pr_auc",
    "min_recall_at_fpr": "gates.min_recall_at_fpr",
    "champion_tolerance": "gates.champion_tolerance",
    "min_days_per_step": "deployment.canary.min_days_per_step",
}
# DAG Params that steer a run instead of overriding params.yaml: the retraining DAG's `approval`, the
# deploy DAG's `action`, `version` and `reason`. The task entry points read them; they pass through here.
CONTROL_PARAMS = ("approval", "action", "version", "reason", "expected_revision")


def load_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        params = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"params file not found: {path}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must hold a mapping, found {type(params).__name__}")
    return params


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with `override` merged in: mappings merge key by key, any other value replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# Blocks of an estimator's hyper-parameters that a model's params.yaml REPLACES instead of merging key by
# key (as choosing a Hydra config group replaces that group's whole config, and Kustomize's
# `$patch: replace` a mapping): a model that writes `train.xgboost` gets
# that block as written, and XGBoost's own default for every key it leaves out; the platform's tuned values
# (min_child_weight 3, subsample 0.85, ...) no longer creep in unseen. `inherit: true` as a key of the block
# merges it over the defaults' block instead (the block then names only what it changes).
# A model's own search space (`train.tuning.space`) replaces the default one alike: the parameters it names.
REPLACED_BLOCKS = ("train.xgboost", "train.tuning.space")
INHERIT = "inherit"
# Keys that were renamed so that each name means one thing: the schema refuses the old key (an unknown key)
# and names the new one. "monitor" is the drift DAG alone; scoring's day and the canary's bounds say theirs.
RENAMED_KEYS = {
    "deployment.monitor": "deployment.rollback",
    "monitoring.scoring": "scoring.health",
    "timeouts.tasks.monitor": "timeouts.tasks.report_day",
}


def merge_model(defaults: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """A model's params: `own` (its params.yaml) deep-merged over `defaults` (models/defaults.yaml), except
    each block of REPLACED_BLOCKS that `own` holds, which replaces the defaults' block unless it says
    `inherit: true`. The `inherit` key is dropped from the result. Raises ConfigError naming the key when
    `inherit` is not true or false."""
    merged = deep_merge(defaults, own)
    for dotted in REPLACED_BLOCKS:
        block = _block(own, dotted)
        if block is None:
            continue
        inherit = block.get(INHERIT, False)
        if not isinstance(inherit, bool):
            raise ConfigError(
                f"{dotted}.{INHERIT}: expected true (merge this block over models/defaults.yaml's) or false "
                f"(this block replaces it: the default), found {inherit!r}"
            )
        *parents, leaf = dotted.split(".")
        node = merged
        for part in parents:
            node = node[part]
        chosen = node[leaf] if inherit else block
        node[leaf] = {key: copy.deepcopy(value) for key, value in chosen.items() if key != INHERIT}
    return merged


def replaced_blocks(own: dict[str, Any]) -> list[str]:
    """The REPLACED_BLOCKS that `own` (a model's params.yaml) replaces whole (it holds them, no `inherit`)."""
    return [
        dotted
        for dotted in REPLACED_BLOCKS
        if (block := _block(own, dotted)) is not None and block.get(INHERIT) is not True
    ]


def _block(tree: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    """The mapping at `dotted` in `tree`, or None where the tree does not hold one."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def merge_params(params: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Deep-merge `overrides` into a copy of `params`. Overrides may use dotted keys (`gates.min_pr_auc`).

    Unknown keys are refused, so a typo in a DAG Param cannot silently leave the default in force.
    """
    merged = copy.deepcopy(params)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = merged
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown parameter {dotted!r}: {part!r} is not a section of params.yaml")
            node = node[part]
        if leaf not in node:
            raise ConfigError(f"unknown parameter {dotted!r}: params.yaml has no such key")
        node[leaf] = value
    return merged


def with_dag_params(params: dict[str, Any], dag_params: dict[str, Any] | None) -> dict[str, Any]:
    """`params` with the DAG's Params applied (empty ones keep params.yaml); unknown Params are refused."""
    overrides = {}
    for name, value in (dag_params or {}).items():
        if name in CONTROL_PARAMS:
            continue
        if name not in DAG_PARAMS:
            raise ConfigError(f"unknown DAG param {name!r}; known: {sorted(DAG_PARAMS)}")
        overrides[DAG_PARAMS[name]] = value
    return merge_params(params, overrides)
