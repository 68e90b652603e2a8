"""Where the challenger is fitted: `train.engine` in the model's params. `local` fits XGBoost in the `fit`
stage's own process; `dask` fits it on the Dask cluster whose scheduler `RETRAINER_DASK_SCHEDULER` names
(`tcp://host:8786`), through XGBoost's own Dask interface (`xgboost.dask`), the workers reading the
prepared splits' Parquet with `dask.dataframe`. Both give an `xgboost.Booster`, saved alike (UBJ).

The workers read the split files by path: on a real cluster the run's workspace (`RETRAINER_WORK_DIR`)
must be on a file system they share.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core.errors import ConfigError
from retrainer.features import matrix
from retrainer.training.models import booster_params, trees_kept

ENGINES = ("local", "dask")
SCHEDULER_ENV = "RETRAINER_DASK_SCHEDULER"


def engine_of(params: dict[str, Any]) -> str:
    """`train.engine` (default `local`), refused with ConfigError unless it is one of ENGINES."""
    engine = params["train"].get("engine", "local")
    if engine not in ENGINES:
        raise ConfigError(f"train.engine must be one of {list(ENGINES)}, not {engine!r}")
    return engine


def scheduler_address(environ: dict[str, str] | None = None) -> str:
    """The Dask scheduler's address, from RETRAINER_DASK_SCHEDULER (ConfigError when it is not set)."""
    address = (os.environ if environ is None else environ).get(SCHEDULER_ENV)
    if not address:
        raise ConfigError(f"train.engine is dask but {SCHEDULER_ENV} names no scheduler (tcp://host:8786)")
    return address


def _matrix(frame: pd.DataFrame, feature_params: dict[str, Any], names: list[str]) -> pd.DataFrame:
    """A partition's feature matrix as a frame (float32, one column per feature name)."""
    return pd.DataFrame(matrix.build_matrix(frame, feature_params), columns=names, index=frame.index)


def _split(client, path: Path, params: dict[str, Any], names: list[str]):
    """The features and label of one prepared split as Dask collections, one partition per worker at least."""
    import dask.dataframe as dd

    feature_params, label = params["features"], params["model"]["label"]
    columns = [*matrix.input_columns(feature_params), label]
    frame = dd.read_parquet(str(path), columns=columns)
    workers = max(len(client.scheduler_info()["workers"]), 1)
    if frame.npartitions < workers:
        frame = frame.repartition(npartitions=workers)
    meta = pd.DataFrame({name: np.array([], dtype=np.float32) for name in names})
    x = frame.map_partitions(_matrix, feature_params, names, meta=meta)
    return x, frame[label]


def train_xgboost_dask(prepared_dir: Path, params: dict[str, Any], address: str | None = None):
    """An XGBoost booster fitted on the Dask cluster at `address` (default: `scheduler_address()`) with the
    same parameters and early stopping as the local engine; only the trees up to the best round are kept.
    `fit_xgboost_dask` gives the account of the trees as well."""
    return fit_xgboost_dask(prepared_dir, params, address)[0]


def fit_xgboost_dask(prepared_dir: Path, params: dict[str, Any], address: str | None = None):
    """`train_xgboost_dask`'s booster and `training.models.trees_kept`'s account of its trees."""
    import xgboost.dask as dxgb  # not imported by `import xgboost`
    from distributed import Client

    names = matrix.feature_names(params["features"])
    config = booster_params(params["train"]["xgboost"], params["train"]["seed"])
    with Client(address or scheduler_address()) as client:
        x_train, y_train = _split(client, prepared_dir / "train.parquet", params, names)
        train = dxgb.DaskQuantileDMatrix(client, x_train, y_train, feature_names=names)
        evals = []
        if early_stopping := config["early_stopping_rounds"]:  # null: no validation split, every round
            x_valid, y_valid = _split(client, prepared_dir / "valid.parquet", params, names)
            valid = dxgb.DaskQuantileDMatrix(client, x_valid, y_valid, feature_names=names, ref=train)
            evals = [(valid, "valid")]
        output = dxgb.train(
            client,
            config["params"],
            train,
            num_boost_round=config["rounds"],
            evals=evals,
            early_stopping_rounds=early_stopping,
            verbose_eval=False,
        )
    booster = output["booster"]
    trees = trees_kept(booster, config, early_stopping)
    return (booster[: booster.best_iteration + 1] if early_stopping else booster), trees
