"""The `adaptation` section of a model's params: how a drift-triggered retraining weights its matured rows
toward the drifted days (`retrainer.training.adapt`). Strict and closed like every section."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from retrainer.core.sections import PositiveInt, Section


class Adaptation(Section):
    enabled: bool  # false: a drift-triggered run trains unweighted, as a scheduled one does
    clip: Annotated[float, Field(ge=1)]  # weights clipped at clip and 1/clip of their mean, then mean 1
    max_rows: PositiveInt  # the domain classifier's sample per side (retrainer.drift.domain)
    # the fit's weights are the clipped ratio ** flatten, mean 1 (training.weights.flattened): 0 unweighted
    flatten: Annotated[float, Field(ge=0, le=1)]
    # the weighted fit is kept only if its importance-weighted valid PR-AUC beats the unweighted fit's by
    # this many standard errors of the difference (training.selection; 0: kept unless lower)
    min_gain_se: Annotated[float, Field(ge=0)]
