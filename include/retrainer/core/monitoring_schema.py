"""The `monitoring` section of a model's params (the drift monitor, `monitor_<model>`): the drift check's
settings (a subset of `retrainer.drift.DriftConfig`) and the monitor's windows and cool-down. Strict and
closed like every section (`core.schema`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from retrainer.core.estimation_schema import Estimation
from retrainer.core.sections import Fraction, NonNegative, OpenFraction, PositiveInt, Section


class Drift(Section):
    """The keys of retrainer.drift.DriftConfig that a model may set (the others keep its defaults)."""

    psi_threshold: Annotated[float, Field(gt=0)] | None = None
    wasserstein_threshold: Annotated[float, Field(gt=0)] | None = None
    js_threshold: OpenFraction | None = None
    bins: PositiveInt | None = None
    psi_epsilon: Annotated[float, Field(gt=0)] | None = None
    sample_rows: PositiveInt | None = None
    # Points of each side's quantile sketch, read for the Wasserstein distance.
    sketch_points: PositiveInt | None = None
    max_categories: PositiveInt | None = None
    max_rows_for_tests: PositiveInt | None = None
    # The small-sample tests' level, on Benjamini-Hochberg adjusted p-values.
    alpha: OpenFraction | None = None
    min_rows: PositiveInt | None = None
    plot_features: Annotated[int, Field(ge=0)] | None = None
    seed: int | None = None
    score_psi_threshold: Annotated[float, Field(gt=0)] | None = None
    max_alert_rate_ratio: Annotated[float, Field(gt=1)] | None = None
    min_positives: PositiveInt | None = None
    max_pr_auc_drop: Fraction | None = None
    performance_window_days: PositiveInt | None = None
    pr_auc_confidence: OpenFraction | None = None
    # Bootstrap resamples of the week's PR-AUC interval (pr_auc_confidence).
    pr_auc_resamples: PositiveInt | None = None
    max_slice_roc_auc_drop: Fraction | None = None
    slice_min_positives: PositiveInt | None = None
    consecutive_runs: PositiveInt | None = None
    multivariate_enabled: bool | None = None
    multivariate_max_rows: Annotated[int, Field(ge=100)] | None = None
    multivariate_holdout_share: OpenFraction | None = None
    multivariate_permutations: Annotated[int, Field(ge=100)] | None = None
    multivariate_alpha: OpenFraction | None = None
    multivariate_min_auc: Annotated[float, Field(ge=0.5, lt=1)] | None = None
    multivariate_min_rows: Annotated[int, Field(ge=10)] | None = None
    multivariate_top_features: Annotated[int, Field(ge=0)] | None = None
    multivariate_importance_rows: Annotated[int, Field(ge=100)] | None = None


class Days(Section):
    """The whole days a monitor run judges (retrainer.monitoring.days): when a day counts as landed."""

    max_gap_hours: Annotated[float, Field(gt=0, le=24)]  # last event at most this long before the day's end
    wait_hours: NonNegative  # the wait_for_days sensor waits this long after the days' end, then refuses


class Monitoring(Section):
    days: Days
    window_days: PositiveInt
    labels_lookback_days: PositiveInt
    cooldown_days: Annotated[int, Field(ge=0)]
    reminder_days: PositiveInt  # a drift that stays confirmed is posted again after this many days
    drift: Drift
    estimation: Estimation = Estimation()  # performance estimated from the scores before labels arrive
