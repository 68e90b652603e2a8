"""The `monitoring.estimation` section of a model's params: the monitor's estimate of the champion's
performance on scored days whose labels have not arrived (`retrainer.monitoring.estimates`). Strict and
closed like every section."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from retrainer.core.sections import Fraction, OpenFraction, PositiveInt, Section


class Estimation(Section):
    enabled: bool = True  # false: no estimate, no estimates history, no track record
    # an estimated PR-AUC below this is a breach (a drift kind: persisted, posted, retrains); null: the
    # gates' min_pr_auc when the headline metric is pr_auc, else no bound
    min_pr_auc: Fraction | None = None
    samples: Annotated[int, Field(ge=20)] = 200  # Monte Carlo label draws per day: PR-AUC and the intervals
    confidence: OpenFraction = 0.95  # the intervals' confidence
    min_expected_positives: Annotated[float, Field(ge=0)] = 10.0  # fewer: the day is not judged
    track_record_weeks: PositiveInt = 8  # the report's track record: realised vs estimated over these weeks
    seed: int = 20261202  # with the day, the seed of its draws: a day's estimate is the same on a rerun
