"""The schema of `features.derived` in a model's params: per-entity window aggregates, label aggregates
from labels that had arrived, calendar features and time since the previous event (names, windows and
aggregations as `retrainer.core.feature_declarations` reads them). Part of `retrainer.core.schema`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from retrainer.core import feature_declarations as declarations
from retrainer.core.sections import Name, PositiveInt, Section


def _a_duration(text: str) -> str:
    declarations.parse_duration(text)  # its ValueError names the text and the accepted form
    return text


# A window's length: a whole number of minutes, hours or days (30m, 24h, 7d).
Duration = Annotated[str, AfterValidator(_a_duration)]
Entity = Name | Annotated[list[Name], Field(min_length=1)]


class WindowFeatures(Section):
    """Aggregates of an entity's events in the window (t - w, t] of each event (retrainer.features)."""

    entity: Entity  # the column (or columns) whose events are aggregated, e.g. customer_id
    value: Name | None = None  # null: `count` counts the entity's events
    # What each window computes: count sum mean std min max distinct_count ratio_to_mean.
    aggregations: Annotated[list[Literal[declarations.WINDOW_AGGREGATIONS]], Field(min_length=1)]
    windows: Annotated[list[Duration], Field(min_length=1)]  # the window lengths, <int><m|h|d>: 30m, 24h, 7d

    @model_validator(mode="after")
    def _a_value_to_aggregate(self) -> WindowFeatures:
        needing = [a for a in self.aggregations if a in declarations.NEEDS_A_VALUE]
        if self.value is None and needing:
            raise ValueError(
                f"{', '.join(needing)} needs a value column: set value: <column> (e.g. amount), or keep "
                "aggregations: [count] to count the entity's events"
            )
        return self


class LabelFeatures(Section):
    """An entity's positives over a window, counting only labels that had arrived before each event."""

    entity: Entity  # the column (or columns) whose events' labels are counted, e.g. terminal_id
    # The window lengths, <int><m|h|d>, each ending `offset` before the event.
    windows: Annotated[list[Duration], Field(min_length=1)]
    offset: Duration | None = None  # the window ends this long before the event (null: at the event)
    # count: positives known at the event; rate: that count over the window's events.
    aggregations: Annotated[list[Literal[declarations.LABEL_AGGREGATIONS]], Field(min_length=1)] = ["rate"]
    min_count: PositiveInt = 1  # fewer events in the window: the rate is `default`
    # The rate given when the window holds fewer than min_count events.
    default: Annotated[float, Field(allow_inf_nan=False)] = 0.0


class SincePrevious(Section):
    entity: Entity  # the column (or columns) whose previous event is looked for, e.g. customer_id
    within: Duration = "30d"  # an entity's previous event further back than this: no value (null)


class DerivedFeatures(Section):
    """Features computed from the raw events at each event's time (retrainer.features)."""

    windows: list[WindowFeatures] = []
    labels: list[LabelFeatures] = []
    calendar: list[Literal[declarations.CALENDAR]] = []
    since_previous: list[SincePrevious] = []
    threads: PositiveInt = 2  # DuckDB's threads
    memory_limit_mib: PositiveInt = 2048  # DuckDB spills to disk beyond this

    @model_validator(mode="after")
    def _each_name_once(self) -> DerivedFeatures:
        twice = declarations.duplicate_names({"features": {"derived": self.model_dump()}})
        if twice:
            name, keys = next(iter(twice.items()))
            raise ValueError(
                f"the feature {name!r} is declared twice ({' and '.join(keys)}): delete one of them"
            )
        return self
