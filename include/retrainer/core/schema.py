"""The schema of a model's params (models/defaults.yaml deep-merged with models/<name>/params.yaml): every
section and key, its type and range. Unknown keys are refused (extra="forbid") and no value is coerced from
another type (strict), so a typo or a string where a number belongs is named instead of silently ignored.
`core.models` runs it and turns its errors into messages naming the file and the key."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from retrainer.core import expressions
from retrainer.core.adaptation_schema import Adaptation
from retrainer.core.feature_schema import DerivedFeatures
from retrainer.core.monitoring_schema import Monitoring
from retrainer.core.scoring_schema import Scoring
from retrainer.core.sections import METRICS, Fraction, Name, NonNegative, OpenFraction, PositiveInt, Section
from retrainer.core.tuning_schema import Imbalance, Tuning, check_train


def _in_the_grammar(text: str) -> str:
    """An expression of the config (evaluate.rule) parses in core.expressions' small grammar: nothing in a
    config runs as code. Its ExpressionError is a ValueError, which pydantic reports under the key."""
    expressions.parse(text)
    return text


def _a_condition(text: str) -> str:
    """A slice's expression parses in the grammar and, as far as its text tells, is true/false per row."""
    if expressions.parse(text).kind == "number":
        raise ValueError(f"{text!r} gives numbers, not a true/false condition (compare it: x < 30)")
    return text


Expression = Annotated[str, Field(min_length=1), AfterValidator(_in_the_grammar)]
Condition = Annotated[str, Field(min_length=1), AfterValidator(_a_condition)]


class ModelSection(Section):
    name: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]  # a DVC artifact name
    description: str = ""  # what the model is for: shown above the pipeline in its DAGs' docs
    tags: list[Name] = []
    id_column: Name  # the column identifying each row (e.g. transaction_id)
    event_time: Name  # when each event happened: windows, splits and features are taken on it
    label: Name  # the 0/1 column the model learns (1: a positive, e.g. a fraud)
    label_time: Name | None = None  # the column of when each row's label arrived (or label_delay_days)
    label_delay_days: Annotated[int, Field(ge=0)] | None = None  # days from event to label (or label_time)
    # A canary challenger decides every row of the entities (customers, accounts) in its share, so that an
    # entity meets one model every day; null: rows are split one by one (by id_column).
    canary_column: Name | None = None
    positives: Name = "positives"
    negatives: Name = "negatives"

    @model_validator(mode="after")
    def _one_label_arrival(self) -> ModelSection:
        if (self.label_time is None) == (self.label_delay_days is None):
            raise ValueError(
                "give exactly one of label_time (the column holding when each label arrived) or "
                "label_delay_days (labels arrive a fixed number of days after the event)"
            )
        return self


class Schedule(Section):
    cron: Annotated[str, Field(pattern=r"^\S+( \S+){4}$")]
    timezone: Name = "UTC"
    generated: bool = True  # false: dags/retrain_models.py skips the model (its DAG is written by hand)

    # Read by the libraries the runs use (Airflow's timetable, core.clock.Schedule): a cron or zone they
    # refuse is named when the model is checked, not when the scheduler first reads it.
    @field_validator("cron")
    @classmethod
    def _a_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression: e.g. '0 0 * * 1' (Mondays 00:00)")
        return value

    @field_validator("timezone")
    @classmethod
    def _a_time_zone(cls, value: str) -> str:
        import difflib
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, zoneinfo.available_timezones(), n=1)
            hint = f"did you mean {close[0]}?" if close else "an IANA name such as Europe/Paris or UTC"
            raise ValueError(f"unknown time zone {value!r} ({hint})") from None
        return value


class Source(Section):
    prefix: str = ""
    # What `retrainer generate` writes for this model (demo and tests only): synthetic card transactions,
    # account logins, or raw card transactions (only raw columns; retrainer.synthetic).
    synthetic: Literal["card_transactions", "account_logins", "raw_card_transactions"] = "card_transactions"


class Data(Section):
    start_date: str  # first day of the model's data (YYYY-MM-DD); earlier: BeforeModelStart
    extract_window_days: PositiveInt | None = None
    missing_days: Literal["fail", "warn"]
    late_files_hours: Annotated[float, Field(ge=0)]
    training_window_days: Annotated[int, Field(ge=7)]
    label_maturity_days: Annotated[int, Field(ge=0)]  # days until a label is final: only older rows count
    suite: Name  # the data contract: expectations/<suite>.json

    @field_validator("start_date")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO date (YYYY-MM-DD), got {value!r}") from None
        return value


class Validation(Section):
    recent_batches: PositiveInt
    max_volume_drop: OpenFraction
    time_zone: Name
    # A day whose rows (ids and timestamps aside) are this share or more rows of another day: re-sent.
    resent_day_share: Annotated[float, Field(gt=0, le=1)] = 0.5


class Labels(Section):
    max_roc_auc_drop: Fraction
    min_positives: PositiveInt
    # A batch the champion disagrees with is quarantined only when a model fitted on its own rows ranks
    # them below this too (0.5 = chance); learnable labels are a new pattern, kept for training.
    min_self_roc_auc: Annotated[float, Field(ge=0.5, le=1)] = 0.75
    self_check_max_rows: PositiveInt = 100_000


class Split(Section):
    valid_fraction: Annotated[float, Field(ge=0, lt=1)]
    holdout_fraction: OpenFraction

    @model_validator(mode="after")
    def _room_to_train(self) -> Split:
        if self.valid_fraction + self.holdout_fraction >= 0.9:
            raise ValueError(
                "valid_fraction + holdout_fraction must leave at least 10% of the rows to train on"
            )
        return self


class XGBoost(Section):
    """`train.xgboost`: XGBoost's booster parameters. A model's block replaces the defaults' block unless it
    says `inherit: true` (core.params.merge_model); a key left out (None) is XGBoost's own default, except
    the objective: binary:logistic (`training.models.booster_params`)."""

    n_estimators: PositiveInt
    early_stopping_rounds: PositiveInt | None = None
    # Only objectives whose scores are probabilities in [0, 1]: thresholds, PSI bins, alert rates read them.
    objective: Literal["binary:logistic", "reg:logistic"] = "binary:logistic"
    # The metric on the valid split that early stopping follows (and picks the best round by); None: the
    # objective's own (logloss). auc, aucpr: higher is better; logloss, error: lower is.
    eval_metric: Literal["aucpr", "auc", "logloss", "error"] | None = None
    # The initial prediction; None: XGBoost >= 2 estimates it from the training labels (1.x used 0.5).
    base_score: OpenFraction | None = None
    tree_method: Literal["hist", "approx", "exact"] | None = None
    learning_rate: Annotated[float, Field(gt=0, le=1)] | None = None
    max_depth: Annotated[int, Field(ge=0)] | None = None
    min_child_weight: NonNegative | None = None
    subsample: Annotated[float, Field(gt=0, le=1)] | None = None
    colsample_bytree: Annotated[float, Field(gt=0, le=1)] | None = None
    reg_lambda: NonNegative | None = None
    n_jobs: PositiveInt | None = None
    reg_alpha: NonNegative | None = None  # XGBoost's L1 regularisation of leaf weights
    gamma: NonNegative | None = None  # XGBoost's minimum loss reduction to split a leaf
    scale_pos_weight: Annotated[float, Field(gt=0)] | None = None  # positives' weight against negatives
    max_bin: PositiveInt | None = None  # XGBoost's most histogram bins per feature

    @model_validator(mode="after")
    def _early_stopping_can_stop(self) -> XGBoost:
        # Patience >= rounds can never stop the training, yet the booster would still be cut at its best
        # round: 100 of 100 trees became 18, with nothing said.
        if self.early_stopping_rounds is not None and self.early_stopping_rounds >= self.n_estimators:
            raise ValueError(
                f"early_stopping_rounds ({self.early_stopping_rounds}) must be below n_estimators "
                f"({self.n_estimators}): with as many rounds of patience training never stops early, but the "
                "model is still cut at its best validation round. Set fewer rounds, or "
                "early_stopping_rounds: null to keep every tree"
            )
        return self


class Baseline(Section):
    C: Annotated[float, Field(gt=0)]
    max_iter: PositiveInt
    # Fitted on at most this many training rows, a seeded sample (None: all of them).
    max_rows: PositiveInt | None = None


class Train(Section):
    seed: int
    # local: XGBoost in the fit stage's process; dask: xgboost.dask on the Dask cluster whose scheduler
    # RETRAINER_DASK_SCHEDULER names (retrainer.training.engines).
    engine: Literal["local", "dask"] = "local"
    calibration: Literal["isotonic", "platt", "off"] = "off"  # fitted on the valid split (core.calibration)
    xgboost: XGBoost
    baseline: Baseline
    tuning: Tuning = Tuning()  # the hyper-parameter search (core.tuning_schema, training.tuning)
    imbalance: Imbalance = Imbalance()  # the rare class (core.tuning_schema, training.imbalance)


class Features(Section):
    numeric: list[Name]  # numeric columns trained on (each needs expectations in the suite)
    categorical: dict[Name, list[str | int]] = {}  # categorical columns: column: [its known values]
    derived: DerivedFeatures = DerivedFeatures()

    @model_validator(mode="after")
    def _some_feature(self) -> Features:
        derived = self.derived
        if not (
            self.numeric
            or self.categorical
            or derived.windows
            or derived.labels
            or derived.calendar
            or derived.since_previous
        ):
            raise ValueError("a model needs at least one numeric, categorical or derived feature")
        return self


class Bootstrap(Section):
    resamples: PositiveInt
    confidence: OpenFraction
    seed: int


class Evaluate(Section):
    metric: METRICS = "pr_auc"
    fpr_target: OpenFraction
    rule: Expression  # the hand-written rule to beat: an expression over the columns (small grammar)
    bootstrap: Bootstrap


class Slices(Section):
    metric: METRICS = "roc_auc"
    min_positives: PositiveInt
    levels: list[Name] = []
    bands: dict[Name, list[float]] = {}
    expressions: dict[Name, Condition] = {}


class Costs(Section):
    amount_column: Name | None = None
    review_cost: NonNegative


class Gates(Section):
    min_pr_auc: Fraction
    min_recall_at_fpr: Fraction
    min_margin_over_baseline: float
    min_margin_over_rule: float
    champion_tolerance: NonNegative
    min_slice_roc_auc: Fraction
    slice_tolerance: NonNegative


class Run(Section):
    as_of: str | None = None
    trigger: Literal["drift"] | None = None  # set by the train task of a drift-triggered run (training.adapt)


class Canary(Section):
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(min_length=1)]
    min_days_per_step: PositiveInt


class Rollback(Section):
    """The bounds that roll a shadow or canary challenger back (retrainer.deployment.verdicts)."""

    alert_rate_ratio: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=2, max_length=2)]
    max_psi: Annotated[float, Field(gt=0)]
    max_error_rate: Fraction
    lookback_days: PositiveInt
    min_positives: PositiveInt
    pr_auc_tolerance: Fraction


class Deployment(Section):
    auto_choice: Literal["Approve", "Shadow first", "Canary", "Reject"]
    canary: Canary
    rollback: Rollback
    # Who may answer the approval form: user ids as the auth manager gives them (SimpleAuthManager: the
    # username). Passed to the form as its HITL assigned_users, which Airflow's API enforces (403 to anyone
    # else); empty: any user allowed to answer the DAG's forms.
    approvers: list[Annotated[str, Field(min_length=1, pattern=r"^\S+$")]] = []


class Alerts(Section):
    """Where a person hears of the model: a failed run or task, an approval waiting, a day out of bounds."""

    # The Airflow connection (HTTP) the model's alerts are posted to; set it like any connection, e.g.
    # AIRFLOW_CONN_RETRAINER_ALERTS='{"conn_type": "http", "host": "hooks.example.com", "schema": "https"}'.
    connection: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "retrainer_alerts"
    # False: nothing is posted, on purpose (`retrainer models check` says so); True: `models check` refuses
    # a connection Airflow cannot resolve, and an alert task whose post fails fails.
    enabled: bool = True


# The tasks whose time limit a model may set apart from timeouts.task_minutes (the heavy ones of its DAGs;
# tests/dags/test_dag_integrity.py checks each names a task). The approval waits by its own response time-out.
TimedTask = Literal[
    "extract", "validate", "check_labels", "train", "evaluate", "score", "report_day", "check_drift"
]


class StorageTimeouts(Section):
    """Each S3 call's limits (botocore): a stalled endpoint fails in connect + read seconds per attempt."""

    connect_seconds: Annotated[float, Field(gt=0)]
    read_seconds: Annotated[float, Field(gt=0)]
    max_attempts: PositiveInt


class Timeouts(Section):
    """Nothing waits forever: every task of the model's DAGs, every process it starts, every S3 call."""

    task_minutes: PositiveInt
    tasks: dict[TimedTask, PositiveInt] = {}
    subprocess_minutes: PositiveInt
    storage: StorageTimeouts

    @model_validator(mode="after")
    def _process_stops_before_its_task(self) -> Timeouts:
        # DVC runs inside the train task: its own limit must come first, so that the error names what hung.
        train = self.tasks.get("train", self.task_minutes)
        if self.subprocess_minutes >= train:
            raise ValueError(
                f"subprocess_minutes ({self.subprocess_minutes}) must be below the train task's limit "
                f"({train} min, timeouts.tasks.train or task_minutes): DVC runs inside that task"
            )
        return self


class ModelParams(Section):
    """Everything a model is: what it reads, how it learns, how it is judged, deployed and watched."""

    model: ModelSection
    schedule: Schedule
    source: Source
    data: Data
    validation: Validation
    labels: Labels
    split: Split
    features: Features
    train: Train
    evaluate: Evaluate
    slices: Slices
    costs: Costs
    gates: Gates
    scoring: Scoring
    monitoring: Monitoring
    run: Run
    adaptation: Adaptation
    deployment: Deployment
    alerts: Alerts = Alerts()
    timeouts: Timeouts

    @model_validator(mode="after")
    def _lookbacks_reach_matured_days(self) -> ModelParams:
        # Performance is judged only on rows older than the label maturity horizon (core.maturity): a
        # lookback that does not reach past it would never judge anything, silently.
        maturity = self.data.label_maturity_days
        window = self.monitoring.drift.performance_window_days or 0
        for key, days, needed in (
            ("monitoring.labels_lookback_days", self.monitoring.labels_lookback_days, maturity + window),
            ("deployment.rollback.lookback_days", self.deployment.rollback.lookback_days, maturity + 1),
        ):
            if days < needed:
                raise ValueError(
                    f"{key} ({days}) must reach past data.label_maturity_days ({maturity})"
                    + (f" by monitoring.drift.performance_window_days ({window})" if "labels" in key else "")
                    + f": only rows older than the maturity horizon are judged; set it to at least {needed}"
                )
        return self

    _tuning_and_imbalance_can_work = model_validator(mode="after")(check_train)  # core.tuning_schema

    @model_validator(mode="after")
    def _early_stopping_needs_a_validation_split(self) -> ModelParams:
        if self.split.valid_fraction == 0 and self.train.xgboost.early_stopping_rounds is not None:
            raise ValueError(
                "train.xgboost.early_stopping_rounds needs a validation split: set split.valid_fraction "
                "above 0, or early_stopping_rounds: null"
            )
        return self
