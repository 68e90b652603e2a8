"""The sample weights of a drift-triggered run's fit: read from the adapt stage's `weights.parquet`
(`retrainer.training.adapt` writes it) only if it hashes to the sha256 the stage's report recorded and
weighs exactly the rows of the split, in their order.

Two columns per row: `importance`, the clipped density ratio p_recent(x) / p_matured(x) (mean 1), which
estimates how the recent rows would score a model (importance-weighted validation, Sugiyama et al. 2007);
and `weight`, the same flattened to importance ** `adaptation.flatten` and renormalised to mean 1
(Shimodaira 2000), which the weighted fit uses: a flatter weighting trades the bias of ignoring the shift
for the variance of a fit that leans on few rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from retrainer.core import artifacts, frames
from retrainer.storage import ChecksumMismatch, sha256_file

WEIGHT, IMPORTANCE, SPLIT = "weight", "importance", "split"  # columns of weights.parquet (and the id's)
WEIGHTED_SPLITS = ("train", "valid")  # the holdout judges the model as it is: never weighted


class AdaptationError(ValueError):
    """The adaptation's outputs do not fit the splits they weight (rerun the pipeline from `adapt`)."""


def flattened(importance: np.ndarray, power: float) -> np.ndarray:
    """`importance` ** `power`, renormalised to mean 1: power 1 the density ratio as it is, 0 all ones."""
    weights = np.power(np.asarray(importance, dtype=np.float64), power)
    return weights / weights.mean()


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size, sum(w)^2 / sum(w^2): how many unweighted rows the weights are worth."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(weights.sum() ** 2 / np.square(weights).sum())


def sample_weights(
    adaptation_dir: Path | None, prepared_dir: Path, split: str, params: dict, column: str = WEIGHT
) -> np.ndarray | None:
    """The weights (`column`: WEIGHT for the fit, IMPORTANCE for the estimate) of a prepared split's rows,
    in its order, or None for an unweighted run (no adaptation directory, or its report says unweighted).
    The weights file is refused with ChecksumMismatch unless it hashes to the sha256 the report recorded,
    and with AdaptationError unless its ids are the split's."""
    report_path = (
        None if adaptation_dir is None else Path(adaptation_dir) / Path(artifacts.ADAPTATION_REPORT).name
    )
    if report_path is None or not report_path.exists():
        return None
    report = json.loads(report_path.read_text())
    if not report.get("weighted"):
        return None
    path = Path(adaptation_dir) / Path(artifacts.WEIGHTS).name
    actual = sha256_file(path)
    if actual != report["weights"]["sha256"]:
        raise ChecksumMismatch(f"{path} (the adapt stage's weights)", report["weights"]["sha256"], actual)
    id_column = params["model"]["id_column"]
    table = frames.to_frame(pq.read_table(path))
    mine = table.loc[table[SPLIT] == split]
    ids = pq.read_table(prepared_dir / f"{split}.parquet", columns=[id_column])[id_column].to_numpy()
    if len(ids) != len(mine) or not np.array_equal(ids, mine[id_column].to_numpy()):
        raise AdaptationError(
            f"{path} weighs {len(mine)} rows of the {split} split that are not its {len(ids)} rows: rerun "
            "`dvc repro` from the adapt stage"
        )
    if column not in mine:
        raise AdaptationError(f"{path} has no `{column}` column: rerun `dvc repro` from the adapt stage")
    return mine[column].to_numpy(dtype=np.float32)
