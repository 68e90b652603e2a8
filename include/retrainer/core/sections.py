"""What every section of a model's params is built from: a strict, closed, frozen pydantic model (unknown
keys refused, no value coerced from another type) and the bounded types the sections share."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0, le=1)]
OpenFraction = Annotated[float, Field(gt=0, lt=1)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]
METRICS = Literal["pr_auc", "roc_auc"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
