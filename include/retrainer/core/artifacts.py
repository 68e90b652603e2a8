"""The names of a training run's artifacts: what the DVC pipeline writes in its workspace, what a run
publishes under the storage root, and what a registry version keeps.

`dvc.yaml` is the pipeline's source of truth; these names must match its deps and outs (a test holds
them to it), and code reads them from here only.
"""

from __future__ import annotations

# Inputs and outputs of the DVC stages, relative to the run's workspace.
BATCHES_DIR = "data/batches"  # the validated batches of the training window, `dvc add`-ed
BATCHES_DVC = f"{BATCHES_DIR}.dvc"
WINDOW = f"{BATCHES_DIR}/window.parquet"  # the training window's rows, the one file under BATCHES_DIR
HISTORY_DIR = "data/history"  # the source events before the window its features reach back to, `dvc add`-ed
HISTORY_DVC = f"{HISTORY_DIR}.dvc"
HISTORY_REPORT = f"{HISTORY_DIR}/history.json"  # the source partitions (key, sha256, rows) it was read from
# The contract of the derived features (expectations/<suite>.features.json) as the run found it, a dep of the
# featurize stage, which judges its output by it (JSON null for a model without derived features).
FEATURES_SUITE = "data/features-suite.json"
FEATURES_DIR = "data/features"  # the featurize stage's out: the window rows' derived features
FEATURES = f"{FEATURES_DIR}/features.parquet"  # id, then the derived features (none without declarations)
FEATURES_REPORT = f"{FEATURES_DIR}/features.json"  # definitions hash, names, rows, history days
PREPARED_DIR = "data/prepared"
# The adapt stage's out (retrainer.training.adapt): its report always; for a drift-triggered run also the
# weights of the train and valid rows (sha256 in the report) and the recent rows (its drift reference)
ADAPTATION_DIR = "data/adaptation"
ADAPTATION_REPORT = f"{ADAPTATION_DIR}/adaptation.json"
WEIGHTS = f"{ADAPTATION_DIR}/weights.parquet"
RECENT = f"{ADAPTATION_DIR}/recent.parquet"
SPLITS = ("train", "valid", "holdout")
MODELS_DIR = "models"
MODEL_FILE = "model.ubj"  # XGBoost's own format: data, never code
BASELINE_FILE = "baseline.json"  # the scikit-learn baseline as JSON numbers
# The challenger's score calibration (core.calibration), fitted on the valid split: JSON numbers
CALIBRATION_FILE = "calibration.json"
MODEL = f"{MODELS_DIR}/{MODEL_FILE}"
BASELINE = f"{MODELS_DIR}/{BASELINE_FILE}"
CALIBRATION = f"{MODELS_DIR}/{CALIBRATION_FILE}"
PREPARE_REPORT = "reports/prepare.json"
FIT_REPORT = "reports/fit.json"  # the challenger the fit kept (weighted or not), why: training.selection
# The tune stage's report (training.tuning): every trial, the chosen values, the seed; the fit reads `chosen`
TUNING_REPORT = "reports/tuning.json"
METRICS = "reports/metrics.json"
# metrics.json's key (and the gate report's, and a version's) of a model with derived features measured
# against the same model on its raw columns alone (evaluation.holdout.raw_columns_comparison)
RAW_COLUMNS = "raw_columns"
PR_CURVE = "reports/pr_curve.csv"
COST_CURVE = "reports/cost_curve.csv"
PIPELINE_FILES = ("dvc.yaml", "dvc.lock", "params.yaml")


def prepared(split: str) -> str:
    """The Parquet file of one split (`train`, `valid`, `holdout`) that the prepare stage writes."""
    return f"{PREPARED_DIR}/{split}.parquet"


# What a run publishes from its workspace: what evaluation, registration and people need later.
PUBLISHED = (
    *PIPELINE_FILES,
    BATCHES_DVC,
    HISTORY_DVC,
    FEATURES_REPORT,
    MODEL,
    BASELINE,
    CALIBRATION,
    METRICS,
    PREPARE_REPORT,
    PR_CURVE,
    COST_CURVE,
    prepared("valid"),  # to choose a threshold for a champion registered without one
    prepared("holdout"),
    ADAPTATION_REPORT,
    TUNING_REPORT,
)
# Published too when the run was weighted (the adapt stage wrote them).
ADAPTED = (WEIGHTS, RECENT)

# The published files a registry version keeps, and the name each has in the version (models by their
# base name: `model.ubj`, `baseline.json`).
REGISTERED = {
    MODEL: MODEL_FILE,
    BASELINE: BASELINE_FILE,
    "params.yaml": "params.yaml",
    "dvc.yaml": "dvc.yaml",
    "dvc.lock": "dvc.lock",
    BATCHES_DVC: BATCHES_DVC,
    HISTORY_DVC: HISTORY_DVC,
    FEATURES_REPORT: FEATURES_REPORT,
    METRICS: METRICS,
    PR_CURVE: PR_CURVE,
    COST_CURVE: COST_CURVE,
}
# Kept by a version when its run published them: a run published before calibration existed has none, and
# its version scores with the raw model (core.calibration.of_files).
REGISTERED_IF_PUBLISHED = {CALIBRATION: CALIBRATION_FILE}
