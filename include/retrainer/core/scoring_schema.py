"""The `scoring` section of a model's params: the bounds of every scoring run's health (`scoring.health`,
held by `retrainer.scoring.health`). Strict and closed like every section (`core.schema`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from retrainer.core.sections import Fraction, NonNegative, Section


class Health(Section):
    """The bounds of every scoring run's health (retrainer.scoring.health); a figure past one alerts."""

    max_missing_share: Fraction
    max_out_of_range_share: Fraction
    max_unseen_category_share: Fraction
    max_feature_psi: Annotated[float, Field(gt=0)]
    max_nan_scores: Annotated[int, Field(ge=0)]
    alert_rate: Annotated[list[Fraction], Field(min_length=2, max_length=2)]
    min_rows_per_second: NonNegative
    max_peak_rss_mib: Annotated[float, Field(gt=0)]
    max_model_load_seconds: Annotated[float, Field(gt=0)]

    @field_validator("alert_rate")
    @classmethod
    def _low_then_high(cls, value: list[float]) -> list[float]:
        if value[0] > value[1]:
            raise ValueError(f"alert_rate is [min, max]: {value[0]} is above {value[1]}")
        return value


class Scoring(Section):
    health: Health
