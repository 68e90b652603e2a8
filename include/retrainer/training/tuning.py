"""The `tune` stage of `dvc.yaml`: a hyper-parameter search of the challenger inside training
(`train.tuning`), with Optuna: a seeded TPE sampler, a pruner fed with XGBoost's valid metric after every
round (optuna-integration's XGBoostPruningCallback), a budget of trials and one of time.

Each trial fits the challenger as the `fit` stage does (`training.models.fit_xgboost`: the same booster
parameters, early stopping and `train.imbalance`) with the trial's values over `train.xgboost`, and is
scored on a time-ordered validation: the valid split (the days just before the holdout) or `folds`
rolling-origin folds over train + valid; never on the holdout the gates judge. The values as written in
`train.xgboost` are the first trial, so the report always holds the untuned figure and the search cannot
choose worse on its own validation. The search runs locally whatever `train.engine` is: on a seeded
sample of at most `max_rows` training rows, the validation rows whole. A drift-triggered run's weights
(`training.adapt`) are not used by the search: it tunes the unweighted fit, and the fit stage applies the
chosen values to both fits it compares.

Out: `reports/tuning.json` (`artifacts.TUNING_REPORT`): every trial (state, score, values, rounds,
seconds), the chosen values, the seed, the budgets and which one stopped the search. The fit stage trains
with `chosen` over `train.xgboost`; with tuning off the report says so and the fit is that of before."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.core import frames
from retrainer.core.tuning_schema import INTEGER_PARAMETERS
from retrainer.features import matrix
from retrainer.training import imbalance
from retrainer.training.models import fit_xgboost

log = logging.getLogger(__name__)

HIGHER_IS_BETTER = {"aucpr": True, "auc": True, "logloss": False, "error": False}
_ROWS = 1 << 18  # rows read at a time


def settings_of(params: dict[str, Any]) -> dict[str, Any]:
    """`train.tuning` ({"enabled": False} when a params file predates it)."""
    return params["train"].get("tuning") or {"enabled": False}


def _read_rows(path: Path, params: dict[str, Any], keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The feature matrix and labels of a prepared split: every row (`keep` None) or the rows at the sorted
    positions `keep`, read a slice at a time so that only those rows are ever held whole."""
    feature_params, label = params["features"], params["model"]["label"]
    split = pq.ParquetFile(path)
    count = split.metadata.num_rows if keep is None else len(keep)
    x = np.empty((count, len(matrix.feature_names(feature_params))), dtype=np.float32)
    y = np.empty(count, dtype=np.int8)
    at = offset = 0
    columns = [*matrix.input_columns(feature_params), label]
    for rows in split.iter_batches(batch_size=_ROWS, columns=columns):
        table = pa.Table.from_batches([rows])
        if keep is not None:
            inside = keep[(keep >= offset) & (keep < offset + len(table))] - offset
            offset += len(table)
            table = table.take(pa.array(inside))
        frame = frames.to_frame(table)
        x[at : at + len(frame)] = matrix.build_matrix(frame, feature_params)
        y[at : at + len(frame)] = frame[label].to_numpy()
        at += len(frame)
    return x, y


def folds_of(prepared_dir: Path, params: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The time-ordered folds the trials are judged on, oldest first, and what they hold. The rows are
    train then valid, in event-time order; each of `folds` blocks has as many rows as the valid split, the
    last block is the valid split, and a fold trains on a seeded sample (`max_rows`) of the rows before
    its block."""
    settings = settings_of(params)
    k, max_rows = int(settings.get("folds", 1)), settings.get("max_rows")
    n_train = pq.ParquetFile(prepared_dir / "train.parquet").metadata.num_rows
    n_valid = pq.ParquetFile(prepared_dir / "valid.parquet").metadata.num_rows
    first_block = n_train + n_valid - k * n_valid
    if first_block <= 0 or n_valid == 0:
        raise ValueError(
            f"train.tuning.folds: {k} blocks of {n_valid} valid rows leave no row to train on "
            f"({n_train} train rows): lower folds"
        )
    before = np.arange(first_block)
    if max_rows and first_block > max_rows:  # the oldest rows thinned; every validation row kept
        before = np.sort(np.random.default_rng(params["train"]["seed"]).choice(first_block, max_rows, False))
    positions = np.concatenate([before, np.arange(first_block, n_train + n_valid)])
    x_train, y_train = _read_rows(prepared_dir / "train.parquet", params, positions[positions < n_train])
    x_valid, y_valid = _read_rows(
        prepared_dir / "valid.parquet", params, positions[positions >= n_train] - n_train
    )
    x, y = np.concatenate([x_train, x_valid]), np.concatenate([y_train, y_valid])
    del x_train, x_valid
    folds = []
    for j in range(k):
        start = first_block + j * n_valid  # original position of the block's first row
        cut = int(np.searchsorted(positions, start))  # rows before the block in the read sample
        end = int(np.searchsorted(positions, start + n_valid))
        folds.append({"x_train": x[:cut], "y_train": y[:cut], "x_valid": x[cut:end], "y_valid": y[cut:end]})
    held = {
        "folds": k,
        "train_rows": [len(f["y_train"]) for f in folds],
        "valid_rows": [len(f["y_valid"]) for f in folds],
        "sampled": bool(len(before) < first_block),
        "what": (
            "train on the train split, judged on the valid split (the days before the holdout)"
            if k == 1
            else f"{k} rolling-origin folds over train + valid, each judged on the {n_valid} rows after it"
        ),
    }
    return folds, held


def _suggest(trial, name: str, spec: dict[str, Any]):
    """The trial's value of one parameter of the space (`core.tuning_schema.SearchParameter`)."""
    if spec.get("choices") is not None:
        return trial.suggest_categorical(name, list(spec["choices"]))
    if spec.get("int") or name in INTEGER_PARAMETERS:
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")))
    return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))


def _as_written(xgboost: dict[str, Any], space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The searched parameters' values as `train.xgboost` writes them: the first trial. A key left to
    XGBoost's default (null), or a value that is not one of the choices, is left to the sampler."""
    written = {}
    for name, spec in space.items():
        value = xgboost.get(name)
        if value is None or (spec.get("choices") is not None and value not in spec["choices"]):
            continue
        written[name] = int(value) if name in INTEGER_PARAMETERS or spec.get("int") else value
    return written


def _pruner(name: str, rounds: int, patience: int | None):
    """The pruner `name` over trials of up to `rounds` steps. A trial's early rounds say little (a slow
    learning rate starts low and ends best): none is judged before `patience` rounds (early stopping's,
    else a tenth of the rounds), nor before 5 trials completed."""
    import optuna

    warmup = max(int(patience or 0), rounds // 10, 1)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=rounds)
    return optuna.pruners.NopPruner()


def _callback(trial, key: str, offset: int, deadline: float):
    """optuna-integration's XGBoostPruningCallback, its steps offset by `offset` (fold j reports rounds
    j*R .. j*R+R-1), that also stops a trial still running when the time budget is spent."""
    import optuna
    from optuna_integration import XGBoostPruningCallback

    class Pruning(XGBoostPruningCallback):
        last: float | None = None

        def after_iteration(self, model, epoch: int, evals_log: dict) -> bool:
            self.last = float(evals_log["valid"][key.split("-", 1)[1]][-1])
            if time.monotonic() > deadline:
                trial.set_user_attr("stopped", "time budget")
                raise optuna.TrialPruned(f"the time budget ran out at round {epoch + 1}")
            return super().after_iteration(model, offset + epoch, evals_log)

    return Pruning(trial, key)


def tune(prepared_dir: Path, report_path: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Search `train.tuning.space` on the prepared splits in `prepared_dir`; write and return the report
    (module docstring). With tuning off: only a report saying so."""
    from retrainer.training.stages import write_json

    settings = settings_of(params)
    if not settings.get("enabled"):
        why = "train.tuning.enabled is false: train.xgboost as written"
        report = {"enabled": False, "chosen": {}, "why": why}
        write_json(report_path, report)
        return report
    report = search(prepared_dir, params)
    write_json(report_path, report)
    return report


def search(prepared_dir: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The search itself (`tune` without the file): the report."""
    import optuna

    started = time.monotonic()
    settings, xgboost = settings_of(params), params["train"]["xgboost"]
    seed, space = int(settings["seed"]), settings["space"]
    metric = xgboost.get("eval_metric") or "logloss"
    rounds = int(xgboost["n_estimators"]) * int(settings.get("folds", 1))
    folds, held = folds_of(prepared_dir, params)
    names = matrix.feature_names(params["features"])
    deadline = started + float(settings["timeout_seconds"])
    prepared_folds = []
    for fold in folds:  # train.imbalance applied to each fold's training rows, as the fit applies it
        x, y, w, extra, _ = imbalance.apply(fold["x_train"], fold["y_train"], None, params)
        prepared_folds.append((x, y, w, extra, fold["x_valid"], fold["y_valid"]))
    del folds

    def objective(trial) -> float:
        values = {name: _suggest(trial, name, spec) for name, spec in space.items()}
        scores, trees, began = [], [], time.monotonic()
        for j, (x, y, w, extra, x_valid, y_valid) in enumerate(prepared_folds):
            block = {**xgboost, **values, **extra, "eval_metric": metric}
            callback = _callback(trial, f"valid-{metric}", j * int(xgboost["n_estimators"]), deadline)
            _, kept = fit_xgboost(
                x, y, x_valid, y_valid, names, block, params["train"]["seed"], w, callbacks=[callback]
            )
            scores.append(kept.get("best_score", callback.last))
            trees.append(kept["trees"])
        trial.set_user_attr("trees", trees)
        trial.set_user_attr("fold_scores", scores)
        trial.set_user_attr("seconds", round(time.monotonic() - began, 3))
        return float(np.mean(scores))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if HIGHER_IS_BETTER[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_pruner(settings["pruner"], rounds, xgboost.get("early_stopping_rounds")),
    )
    written = _as_written(xgboost, space)
    study.enqueue_trial(written, skip_if_exists=True)  # trial 0: the values as written, the untuned figure
    study.optimize(objective, n_trials=int(settings["trials"]), timeout=float(settings["timeout_seconds"]))
    return _report(study, settings, metric, held, written, time.monotonic() - started)


def _report(study, settings, metric: str, held: dict, written: dict, seconds: float) -> dict[str, Any]:
    """The tuning report from the finished `study`."""
    import optuna

    trials = [
        {
            "number": t.number,
            "state": t.state.name.lower(),  # complete | pruned | fail
            "value": t.value,
            "params": t.params,
            "trees": t.user_attrs.get("trees"),
            "fold_scores": t.user_attrs.get("fold_scores"),
            "pruned_at_step": (t.last_step if t.state == optuna.trial.TrialState.PRUNED else None),
            "seconds": t.user_attrs.get("seconds")
            or (t.duration.total_seconds() if t.duration is not None else None),
        }
        for t in study.trials
    ]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial if complete else None
    untuned = study.trials[0].value if study.trials else None
    timed_out = any(t.user_attrs.get("stopped") for t in study.trials)
    stopped_by = "trials" if len(study.trials) >= int(settings["trials"]) and not timed_out else "timeout"
    report = {
        "enabled": True,
        "library": f"optuna {optuna.__version__}",
        "sampler": "TPESampler",
        "seed": int(settings["seed"]),
        "pruner": settings["pruner"],
        "metric": metric,
        "direction": study.direction.name.lower(),
        "validation": held,
        "budget": {"trials": int(settings["trials"]), "timeout_seconds": float(settings["timeout_seconds"])},
        "trials_run": len(trials),
        "trials_complete": len(complete),
        "trials_pruned": sum(t["state"] == "pruned" for t in trials),
        "stopped_by": stopped_by,
        "seconds": round(seconds, 3),
        "space": settings["space"],
        "as_written": {"params": written, "value": untuned},
        "best": None if best is None else {"number": best.number, "value": best.value, "params": best.params},
        "chosen": {} if best is None else dict(best.params),
        "trials": trials,
    }
    if best is None:
        report["why"] = "no trial completed within the budget: train.xgboost as written"
    else:
        report["why"] = (
            f"trial {best.number} of {len(trials)} chosen: valid {metric} {best.value:.4f} against "
            f"{untuned if untuned is None else round(untuned, 4)} as written; stopped by the {stopped_by} "
            "budget"
        )
    log.info("tuning: %s", report["why"])
    return report
