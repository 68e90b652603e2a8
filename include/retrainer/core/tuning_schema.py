"""The `train.tuning` and `train.imbalance` blocks of a model's params: the hyper-parameter search of the
challenger (`retrainer.training.tuning`) and how its training rows handle a rare positive class
(`retrainer.training.imbalance`). Strict and closed like every section."""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from retrainer.core.sections import OpenFraction, PositiveInt, Section

# The XGBoost parameters a search may vary: the numeric ones of `train.xgboost` (core.schema.XGBoost).
# n_estimators is not one: early stopping on the valid split already chooses the number of trees.
INTEGER_PARAMETERS = ("max_depth", "max_bin")
SEARCHABLE = Literal[
    "learning_rate",
    "max_depth",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
    "reg_alpha",
    "gamma",
    "scale_pos_weight",
    "max_bin",
]


class SearchParameter(Section):
    """One parameter's range: `low`..`high` (`log: true` samples on a log scale, `int: true` whole
    numbers), or a list of `choices`."""

    low: float | builtins.int | None = None  # the range's lower end (with high; not with choices)
    high: float | builtins.int | None = None  # the range's upper end, above low
    log: bool = False  # sample on a log scale (low above 0): for rates and weights spanning decades
    int: bool = False  # the key the params use (`int: true`); builtins.int above is the type
    choices: Annotated[list[float | builtins.int], Field(min_length=1)] | None = None  # or: these values only

    @model_validator(mode="after")
    def _a_range_or_choices(self) -> SearchParameter:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.log or self.int:
                raise ValueError("give either choices, or low and high (with log, int): not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (e.g. {low: 0.01, high: 0.3, log: true}), or choices: [...]")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log: true needs low above 0, not {self.low}")
        if self.int and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError(f"int: true needs whole low and high, not {self.low} and {self.high}")
        return self

    def bounds(self) -> list[float | int]:
        """The values a trial can take at the edges (or every choice): each is checked against the
        XGBoost block's own bounds (subsample <= 1, ...) when the params are checked."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


class Tuning(Section):
    """`train.tuning`: an Optuna search (TPE sampler, seeded; a pruner on XGBoost's per-round valid metric)
    over `space`, on a time-ordered validation: the valid split, or rolling-origin folds over the train and
    valid rows; never on the holdout the gates judge. Off by default: the fit of before, byte for byte."""

    enabled: bool = False
    trials: PositiveInt = 30  # the budget of trials ...
    timeout_seconds: Annotated[float, Field(gt=0)] = 900  # ... and of time: whichever is reached first
    seed: int = 20261202  # the sampler's seed: the same inputs and seed choose the same parameters
    pruner: Literal["median", "hyperband", "none"] = "median"
    # 1: train on the train split, judge on the valid split (the last days before the holdout). k > 1:
    # rolling-origin folds, each judged on a block of as many rows as the valid split, the last block
    # being the valid split, each trained on every row before its block; the score is their mean.
    folds: Annotated[int, Field(ge=1, le=10)] = 3
    # The trials train on a seeded sample of at most this many rows of each fold's training rows (their
    # time order kept): a dask-sized window is searched locally on its sample. null: every row.
    max_rows: PositiveInt | None = 1_000_000
    space: dict[SEARCHABLE, SearchParameter] = {}

    @model_validator(mode="after")
    def _something_to_search(self) -> Tuning:
        if self.enabled and not self.space:
            raise ValueError("tuning is enabled with an empty space: name at least one parameter to search")
        for name, spec in self.space.items():
            if name in INTEGER_PARAMETERS and spec.choices is None and not spec.int:
                raise ValueError(f"space.{name}: XGBoost takes whole numbers here: add `int: true`")
        return self


class Imbalance(Section):
    """`train.imbalance`: what the challenger's training rows do about a rare positive class."""

    # A number: XGBoost's scale_pos_weight (positives' gradient weight); "auto": negatives / positives of
    # the train split. Scores are then no longer probabilities of the class (a ranking only). null: none.
    scale_pos_weight: Annotated[float, Field(gt=0)] | Literal["auto"] | None = None
    # Keep this share of the train split's negative rows (a seeded draw), each weighing 1 / rate, so the
    # fit's loss, and so its scores, stay those of every row (unbiased) on fewer rows. null: every row.
    negative_sample_rate: OpenFraction | None = None


def check_against_estimator(tuning: Tuning, imbalance: Imbalance, xgboost: BaseModel) -> None:
    """Refuse (ValueError, reported under `train`) a scale_pos_weight said twice, or a searched value that
    the `train.xgboost` block (`xgboost`, core.schema.XGBoost) would refuse (subsample 1.5, ...)."""
    # scale_pos_weight said in two places would silently let one win: name the clash instead.
    if imbalance.scale_pos_weight is not None and getattr(xgboost, "scale_pos_weight", None) is not None:
        raise ValueError(
            "scale_pos_weight is set in both train.xgboost and train.imbalance: keep one (imbalance also "
            "takes 'auto', negatives / positives of the train split)"
        )
    if tuning.enabled and "scale_pos_weight" in tuning.space and imbalance.scale_pos_weight is not None:
        raise ValueError(
            "train.tuning.space searches scale_pos_weight, which train.imbalance.scale_pos_weight fixes: "
            "drop one of them"
        )
    block = xgboost.model_dump(exclude_none=True)
    for name, spec in tuning.space.items():
        for value in spec.bounds():
            value = builtins.int(value) if name in INTEGER_PARAMETERS else float(value)
            try:
                type(xgboost).model_validate({**block, name: value})
            except ValidationError as error:
                reason = "; ".join(e["msg"] for e in error.errors())
                raise ValueError(
                    f"train.tuning.space.{name}: {value} is out of {name}'s range: {reason}"
                ) from None


def check_against_split(tuning: Tuning, imbalance: Imbalance, valid_fraction: float, engine: str) -> None:
    """Refuse a search without a validation split to judge on, and a down-sampling the engine cannot do."""
    if tuning.enabled and valid_fraction == 0:
        raise ValueError(
            "train.tuning needs a validation split to judge its trials on (never the holdout): set "
            "split.valid_fraction above 0, or tuning.enabled: false"
        )
    if imbalance.negative_sample_rate is not None and engine != "local":
        raise ValueError(
            "train.imbalance.negative_sample_rate is applied by the local engine only: with train.engine "
            f"{engine} set it to null (scale_pos_weight works on both engines)"
        )


def check_within_time(tuning: Tuning, subprocess_minutes: int) -> None:
    """Refuse a time budget the `dvc repro` it runs in (timeouts.subprocess_minutes) would cut first."""
    if tuning.enabled and tuning.timeout_seconds >= subprocess_minutes * 60:
        raise ValueError(
            f"train.tuning.timeout_seconds ({tuning.timeout_seconds:g}) must be below "
            f"timeouts.subprocess_minutes ({subprocess_minutes} min): the search runs inside `dvc repro`, "
            "with the other training stages after it"
        )


def check_train(params: Any) -> Any:
    """The model's params (core.schema.ModelParams) if their `train.tuning` and `train.imbalance` can work
    with the estimator block, the split, the engine and the time limits; else ValueError naming the key."""
    train = params.train
    check_against_estimator(train.tuning, train.imbalance, train.xgboost)
    check_against_split(train.tuning, train.imbalance, params.split.valid_fraction, train.engine)
    check_within_time(train.tuning, params.timeouts.subprocess_minutes)
    return params
