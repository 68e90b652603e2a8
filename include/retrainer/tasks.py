"""The entry points of the retraining DAG's tasks, one per task, with no Airflow in them.

Each takes the run's logical date or upstream URIs plus the DAG's Params, reads its settings from the
environment, and returns a small JSON-able dict for XCom: URIs and numbers, never data frames.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import yaml

from retrainer import config, features, stages, training
from retrainer import extract as extract_stage
from retrainer import report as report_module
from retrainer import validate as validate_stage
from retrainer.evaluate import GateFailed, choose_threshold
from retrainer.lineage import git_revision, package_versions
from retrainer.models import LinearBaseline, load_xgboost, score_xgboost
from retrainer.registry import CHALLENGER, CHAMPION, Registry
from retrainer.stages import BASELINE_FILE, MODEL_FILE
from retrainer.storage import Storage, open_storage, sha256_bytes

# The DAG's Params (flat names, shown as a form in the UI) and the params.yaml keys they override.
PARAM_KEYS = {
    "extract_window_days": "data.extract_window_days",
    "training_window_days": "data.training_window_days",
    "min_pr_auc": "gates.min_pr_auc",
    "min_recall_at_fpr": "gates.min_recall_at_fpr",
    "champion_tolerance": "gates.champion_tolerance",
}
GATES_FILE = "gates.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
# The run's files that a registry version keeps (under their base names for the models).
REGISTERED_FILES = (
    f"models/{MODEL_FILE}",
    f"models/{BASELINE_FILE}",
    "params.yaml",
    "dvc.yaml",
    "dvc.lock",
    "data/batches.dvc",
    "reports/metrics.json",
    "reports/pr_curve.csv",
    "reports/cost_curve.csv",
)


@dataclass(frozen=True)
class Context:
    settings: config.Settings
    params: dict[str, Any]
    storage: Storage

    @classmethod
    def load(cls, dag_params: dict[str, Any] | None = None) -> Context:
        settings = config.Settings.from_env()
        overrides = {}
        for name, value in (dag_params or {}).items():
            if name not in PARAM_KEYS:
                raise config.ConfigError(f"unknown DAG param {name!r}; known: {sorted(PARAM_KEYS)}")
            overrides[PARAM_KEYS[name]] = value
        params = config.merge_params(config.load_params(settings.params_path), overrides)
        return cls(settings, params, open_storage(settings.storage_root))

    @property
    def model(self) -> str:
        return self.params["model"]["name"]

    @property
    def registry(self) -> Registry:
        return Registry(self.storage, self.model)

    def read_json(self, uri: str) -> dict:
        return json.loads(self.storage.get_text(self.storage.key_of(uri)))

    def read_verified(self, entry: dict) -> bytes:
        """The bytes of a published file, refused if they differ from the sha256 its manifest recorded."""
        data = self.storage.get_bytes(self.storage.key_of(entry["uri"]))
        if (actual := sha256_bytes(data)) != entry["sha256"]:
            raise training.TrainingError(
                f"{entry['uri']} changed after it was published: "
                f"sha256 {actual}, its manifest says {entry['sha256']}"
            )
        return data


def extract(as_of: datetime | str, dag_params: dict[str, Any] | None = None) -> dict:
    """Extract the window ending at the logical date into a batch; returns its manifest."""
    ctx = Context.load(dag_params)
    return extract_stage.extract_batch(
        open_storage(ctx.settings.source_root),
        ctx.storage,
        ctx.model,
        as_of,
        ctx.params["data"]["extract_window_days"],
    )


def validate(manifest_uri: str, dag_params: dict[str, Any] | None = None) -> dict:
    """Validate a batch against its suite; a failing batch is quarantined and BatchRejected raised.

    Returns the validation URI, the URI of the run's Data Docs page and the warnings, each described."""
    ctx = Context.load(dag_params)
    suite = ctx.settings.expectations_dir / f"{ctx.params['data']['suite']}.json"
    report = validate_stage.validate_batch(ctx.storage, manifest_uri, suite, ctx.params["validation"])
    return {k: report[k] for k in ("validation_uri", "data_docs_uri", "batch_uri", "rows", "success")} | {
        "warnings": [validate_stage.Failure(**w).describe() for w in report["warnings"]]
    }


def train(as_of: datetime | str, dag_params: dict[str, Any] | None = None) -> dict:
    """Run the DVC pipeline on the training window; returns the run manifest's URI and headline numbers."""
    ctx = Context.load(dag_params)
    manifest = training.train_run(ctx.settings, ctx.storage, ctx.params, as_of)
    return {
        "run_manifest_uri": manifest["manifest_uri"],
        "data_hash": manifest["data_hash"],
        "challenger_pr_auc": manifest["metrics"]["challenger"]["pr_auc"],
        "baseline_pr_auc": manifest["metrics"]["baseline"]["pr_auc"],
    }


@dataclass(frozen=True)
class Champion:
    version: int
    scores: Any  # np.ndarray of holdout scores
    threshold: float
    threshold_source: str


def champion_on(ctx: Context, holdout: pd.DataFrame, valid: Callable[[], pd.DataFrame]) -> Champion | None:
    """The champion scored on this run's holdout, with its decision threshold; None if there is none yet.

    The threshold is the one stored with the champion's version. A version registered before thresholds
    were stored gets one chosen the same way on this run's validation split (`valid()`), and says so.
    """
    registry = ctx.registry
    if registry.alias(CHAMPION) is None:
        return None
    record = registry.get(CHAMPION)
    booster = load_xgboost(registry.read_file(CHAMPION, MODEL_FILE))
    feature_params = record["params"]["features"]

    def score(frame: pd.DataFrame):
        return score_xgboost(booster, features.build_matrix(frame, feature_params))

    threshold = (record.get("decision") or {}).get("threshold")
    source = f"version {record['version']}"
    if threshold is None:
        frame = valid()
        costs = ctx.params["costs"]
        threshold = choose_threshold(
            frame[ctx.params["model"]["label"]],
            score(frame),
            frame[costs["amount_column"]],
            costs["review_cost"],
        )
        source = "chosen on this run's validation split (its version stores none)"
    return Champion(record["version"], score(holdout), float(threshold), source)


def evaluate(run_manifest_uri: str, dag_params: dict[str, Any] | None = None) -> dict:
    """Hold the challenger against the gates on this run's holdout: floors, the scikit-learn baseline and
    the rule, the champion (paired bootstrap), every slice and the expected cost.

    Writes the gate report (`gates.json` for machines, `report.md` and `report.html` for people) next to
    the run and raises GateFailed, naming each failed gate and slice, if any gate fails.
    """
    ctx = Context.load(dag_params)
    run = ctx.read_json(run_manifest_uri)
    params = ctx.params

    def read_frame(name: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(ctx.read_verified(run["files"][f"data/prepared/{name}.parquet"])))

    holdout = read_frame("holdout")
    booster = load_xgboost(ctx.read_verified(run["files"][f"models/{MODEL_FILE}"]))
    baseline = LinearBaseline.from_json(ctx.read_verified(run["files"][f"models/{BASELINE_FILE}"]))
    scores = stages.score_models(holdout, booster, baseline, params)
    champion = champion_on(ctx, holdout, lambda: read_frame("valid"))
    assessment = stages.assess_challenger(
        holdout, scores, run["metrics"], champion and (champion.scores, champion.threshold), params
    )
    report = {
        "model": ctx.model,
        "run_key": run["run_key"],
        "champion_version": champion and champion.version,
        "champion_threshold_source": champion and champion.threshold_source,
        "decision": {
            "threshold": run["metrics"][CHALLENGER]["decision_threshold"],
            "chosen_on": "validation split, minimising expected cost",
            "review_cost": params["costs"]["review_cost"],
        },
        **assessment.report,
    }
    prefix = training.run_prefix(ctx.model, run["run_key"])
    uri = ctx.storage.put_text(f"{prefix}/{GATES_FILE}", json.dumps(report, indent=2))
    ctx.storage.put_text(f"{prefix}/{REPORT_MD}", report_module.render_markdown(report))
    report_uri = ctx.storage.put_text(
        f"{prefix}/{REPORT_HTML}", report_module.render_html(report, assessment.curves)
    )
    if not report["passed"]:
        raise GateFailed(assessment.gates, report_uri)
    return {
        "gates_uri": uri,
        "report_uri": report_uri,
        "passed": True,
        "champion_version": report["champion_version"],
        "pr_auc_vs_champion": report["non_regression"],
        "saved_vs_champion": report["costs"]["saved_vs_champion"],
    }


# The params.yaml sections that make a model and its decision threshold. The others (validation, gates,
# slices, evaluate) judge data or models; changing them must not turn a rerun into a new version.
MODEL_SECTIONS = ("model", "data", "split", "features", "train", "costs", "run")


def _idempotency_key(model: str, run: dict, params: dict) -> str:
    """Same model, logical date, training data and model-making params: the same version, however often
    it reruns."""
    making = {section: params.get(section) for section in MODEL_SECTIONS}
    payload = json.dumps([model, run["run_key"], run["data_hash"], making], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def register(
    run_manifest_uri: str,
    gates_uri: str,
    airflow_run_id: str | None = None,
    dag_params: dict[str, Any] | None = None,
) -> dict:
    """Register the gated challenger with its lineage.

    The first version becomes champion; later ones become challenger and wait for promotion.
    """
    ctx = Context.load(dag_params)
    run = ctx.read_json(run_manifest_uri)
    gates = ctx.read_json(gates_uri)
    if not gates.get("passed") or gates.get("run_key") != run["run_key"]:
        raise GateFailed([], gates_uri)  # never register on a report that is failed or from another run
    files = {name.removeprefix("models/"): ctx.read_verified(run["files"][name]) for name in REGISTERED_FILES}
    gates_key = ctx.storage.key_of(gates_uri)
    files[GATES_FILE] = ctx.storage.get_bytes(gates_key)
    for name in (REPORT_MD, REPORT_HTML):  # the report written with this gates.json, stored with the version
        files[name] = ctx.storage.get_bytes(f"{gates_key.rsplit('/', 1)[0]}/{name}")
    run_params = yaml.safe_load(files["params.yaml"])
    lineage = {
        "run_key": run["run_key"],
        "as_of": run["as_of"],
        "airflow_run_id": airflow_run_id,
        "data_hash": run["data_hash"],
        "dvc_lock_hashes": training.read_lock_hashes(files["dvc.lock"].decode()),
        "batches": run["batches"],
        "training_window": {
            "days": run_params["data"]["training_window_days"],
            "label_maturity_days": run_params["data"]["label_maturity_days"],
            "maturity_horizon": run["prepare"]["maturity_horizon"],
        },
        "git": git_revision(ctx.settings.project_dir),
        "packages": package_versions(),
        "params": run_params,
        "metrics": {
            **gates["metrics"],
            CHAMPION: gates["metrics"].get(CHAMPION)
            and {
                "version": gates["champion_version"],
                **gates["metrics"][CHAMPION],
            },
        },
        # what a later challenger is compared with: this model at its own threshold
        "decision": gates["decision"],
        "non_regression": gates["non_regression"],
        "costs": gates["costs"],
        "gates": gates["gates"],
        "run_manifest_uri": run_manifest_uri,
    }
    registry = ctx.registry
    record, created = registry.register(files, lineage, _idempotency_key(ctx.model, run, run_params))
    if created:
        if registry.alias(CHAMPION) is None:
            registry.set_alias(CHAMPION, record["version"], "retrain", "first model to pass every gate")
        else:
            registry.set_alias(
                CHALLENGER, record["version"], "retrain", "passed every gate; awaiting promotion"
            )
    aliases = registry.aliases_by_version().get(record["version"], [])
    return {
        "model": ctx.model,
        "version": record["version"],
        "created": created,
        "aliases": aliases,
        "pr_auc": record["metrics"]["challenger"]["pr_auc"],
        "recall_at_fpr": record["metrics"]["challenger"]["recall_at_fpr"],
        "data_hash": record["data_hash"],
    }
