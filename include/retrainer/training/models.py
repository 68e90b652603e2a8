"""The challenger (XGBoost, saved in its own UBJ format) and the baseline (a logistic regression saved as
JSON numbers). Neither is ever pickled: a model file holds data, not code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrainer.core import artifacts

PREDICT_ROWS = 1 << 16  # rows the baseline scores at a time


def booster_params(xgboost_params: dict[str, Any], seed: int) -> dict[str, Any]:
    """params.yaml's `train.xgboost` split into XGBoost's booster params, rounds and early stopping. A key
    that is absent or null is left to XGBoost's own default, except the objective: a binary classifier's
    (`binary:logistic`) unless the block names another."""
    params = {key: value for key, value in xgboost_params.items() if value is not None}
    rounds = params.pop("n_estimators")
    early_stopping = params.pop("early_stopping_rounds", None)
    nthread = params.pop("n_jobs", None)
    booster = {
        **params,
        "objective": params.get("objective", "binary:logistic"),
        "seed": seed,
        **({"nthread": nthread} if nthread else {}),
    }
    return {"params": booster, "rounds": rounds, "early_stopping_rounds": early_stopping}


def tuned_params(params: dict[str, Any], report: dict[str, Any] | None) -> dict[str, Any]:
    """`params` with the search's chosen values over `train.xgboost` (a copy); `params` itself when the
    report chose nothing (tuning off, or no trial completed). `report`: the tune stage's
    (`training.tuning`), or any `{"chosen": {...}}`."""
    chosen = (report or {}).get("chosen") or {}
    if not chosen:
        return params
    train = {**params["train"], "xgboost": {**params["train"]["xgboost"], **chosen}}
    return {**params, "train": train}


def trees_kept(booster, config: dict[str, Any], early_stopping: int | None) -> dict[str, Any]:
    """What the fit did with the rounds it was given, for the fit report and the task's log: `booster` is
    the trained one before any cut, `config` what `booster_params` gave, `early_stopping` the patience in
    force (None: none, or no validation split). `trees` is how many trees the saved model keeps."""
    rounds, trained = config["rounds"], booster.num_boosted_rounds()
    metric = config["params"].get("eval_metric") or "the objective's default metric"
    found: dict[str, Any] = {"n_estimators": rounds, "rounds_trained": trained, "metric": metric}
    if not early_stopping:
        return {**found, "trees": trained, "why": f"no early stopping: all {trained} of {rounds} rounds kept"}
    best = booster.best_iteration
    stopped = trained < rounds
    return {
        **found,
        "early_stopping_rounds": early_stopping,
        "best_round": best + 1,
        "best_score": float(booster.best_score),
        "trees": best + 1,
        "why": (
            f"kept {best + 1} of {rounds} trees: the best valid {metric} was at round {best + 1}; "
            + (
                f"training stopped at round {trained}, {early_stopping} rounds without improvement"
                if stopped
                else f"training ran all {rounds} rounds (no {early_stopping} rounds without improvement) and "
                "the model was cut at the best round"
            )
        ),
    }


def fit_xgboost(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    names: list[str],
    params: dict[str, Any],
    seed: int,
    w_train: np.ndarray | None = None,
    w_valid: np.ndarray | None = None,
    callbacks: list | None = None,
) -> tuple[Any, dict[str, Any]]:
    """An XGBoost booster, early-stopped on the validation split's `eval_metric` (with
    `early_stopping_rounds` null, or an empty validation split, every round is kept), and `trees_kept`'s
    account of it. `w_train`, `w_valid`: the rows' sample weights (a drift-triggered run's,
    `training.adapt`; or `train.imbalance`'s); None: unweighted. `callbacks`: XGBoost training callbacks
    (the tuning's pruning, `training.tuning`); None: none."""
    import xgboost as xgb

    config = booster_params(params, seed)
    early_stopping = config["early_stopping_rounds"]
    if len(y_valid) == 0:
        early_stopping = None  # no validation split (split.valid_fraction: 0): nothing to stop on
    # The valid split is evaluated each round for early stopping, or for callbacks that read its metric.
    watch = bool(early_stopping) or bool(callbacks and len(y_valid))
    if config["params"].get("tree_method", "hist") == "hist":
        # The histogram method reads quantized features: QuantileDMatrix builds them without a float copy.
        train = xgb.QuantileDMatrix(x_train, label=y_train, weight=w_train, feature_names=names)
        valid = (
            xgb.QuantileDMatrix(x_valid, label=y_valid, weight=w_valid, feature_names=names, ref=train)
            if watch
            else None
        )
    else:
        train = xgb.DMatrix(x_train, label=y_train, weight=w_train, feature_names=names)
        valid = xgb.DMatrix(x_valid, label=y_valid, weight=w_valid, feature_names=names) if watch else None
    booster = xgb.train(
        config["params"],
        train,
        num_boost_round=config["rounds"],
        evals=[(valid, "valid")] if watch else [],
        early_stopping_rounds=early_stopping,
        verbose_eval=False,
        callbacks=callbacks,
    )
    trees = trees_kept(booster, config, early_stopping)
    if not early_stopping:
        return booster, trees
    # Keep only the trees up to the best round, so what is saved is what was selected.
    return booster[: booster.best_iteration + 1], trees


def train_xgboost(*args: Any, **kwargs: Any):
    """`fit_xgboost`'s booster alone (same arguments), for callers that need no account of the trees."""
    return fit_xgboost(*args, **kwargs)[0]


def load_xgboost(raw: bytes):
    """A booster from the bytes of its UBJ or JSON file (check the checksum before calling this)."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def score_xgboost(booster, x: np.ndarray) -> np.ndarray:
    """The booster's probabilities for the rows of `x`, predicted in place (no DMatrix copy of `x`; XGBoost
    refuses a matrix of another width with a ValueError)."""
    return booster.inplace_predict(x)


@dataclass(frozen=True)
class LinearBaseline:
    """Standardise, then logistic regression: the scikit-learn baseline, as plain numbers. A missing value
    (a derived feature with no events to compute it from) is taken as the feature's training mean."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    feature_names: list[str]

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        names: list[str],
        params: dict[str, Any],
        seed: int,
        sample_weight: np.ndarray | None = None,
    ) -> LinearBaseline:
        """Fitted on the rows of `x` (a seeded sample of `max_rows` of them), each weighing `sample_weight`
        (None: alike; the scaler's mean and scale stay unweighted, only the regression's loss is)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        params = dict(params)
        max_rows = params.pop("max_rows", None)
        if max_rows and len(x) > max_rows:  # a seeded sample of the rows, in their order
            rows = np.sort(np.random.default_rng(seed).choice(len(x), size=max_rows, replace=False))
            x, y = x[rows], y[rows]
            sample_weight = None if sample_weight is None else sample_weight[rows]
        # lbfgs fits in float64: convert once and standardise that copy in place, rather than a scaled
        # float32 copy that the regression then copies again.
        standardised = np.array(x, dtype=np.float64)
        scaler = StandardScaler(copy=False).fit(standardised)
        scaler.transform(standardised)  # StandardScaler leaves missing values (NaN) out of its mean and scale
        np.nan_to_num(standardised, copy=False, nan=0.0)  # ... and a missing value counts as the mean
        regression = LogisticRegression(random_state=seed, **params).fit(
            standardised, y, sample_weight=sample_weight
        )
        return cls(
            mean=scaler.mean_,
            scale=scaler.scale_,
            coef=regression.coef_.ravel(),
            intercept=float(regression.intercept_[0]),
            feature_names=list(names),
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        # In slices of rows: standardising makes float64 copies, of a slice and never of the whole matrix.
        scores = np.empty(len(x))
        for start in range(0, len(x), PREDICT_ROWS):
            part = x[start : start + PREDICT_ROWS]
            standardised = np.nan_to_num((part - self.mean) / self.scale, nan=0.0)  # missing: the mean
            logits = standardised @ self.coef + self.intercept
            scores[start : start + PREDICT_ROWS] = 1.0 / (1.0 + np.exp(-logits))
        return scores

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": "standardised-logistic-regression",
                "feature_names": self.feature_names,
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(),
                "coef": self.coef.tolist(),
                "intercept": self.intercept,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> LinearBaseline:
        spec = json.loads(text)
        return cls(
            mean=np.asarray(spec["mean"]),
            scale=np.asarray(spec["scale"]),
            coef=np.asarray(spec["coef"]),
            intercept=float(spec["intercept"]),
            feature_names=list(spec["feature_names"]),
        )


def load_fitted(models_dir: Path) -> tuple[Any, LinearBaseline]:
    """The challenger booster and the baseline that the `fit` stage saved in `models_dir`."""
    booster = load_xgboost((models_dir / artifacts.MODEL_FILE).read_bytes())
    return booster, LinearBaseline.from_json((models_dir / artifacts.BASELINE_FILE).read_text())
