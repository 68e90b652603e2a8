"""The derived features a model declares (`features.derived` in its params): their output columns, named
deterministically, the source columns they read and the history they need. Pure Python (no DuckDB), so the
schema, the suite check and the DAG processor can use it.

Every function takes the merged params (a dict, as `core.models.load_model` returns them) or a registered
version's params; a model without a `features.derived` section has no derived features.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

DURATION = re.compile(r"^([1-9][0-9]*)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}

WINDOW_AGGREGATIONS = (
    "count",
    "sum",
    "mean",
    "std",
    "min",
    "max",
    "distinct_count",
    "ratio_to_mean",
)
NEEDS_A_VALUE = tuple(a for a in WINDOW_AGGREGATIONS if a != "count")
LABEL_AGGREGATIONS = ("rate", "count")
CALENDAR = ("hour", "weekday", "weekend", "night")
NIGHT_HOURS = 6  # `night`: 00:00 to 05:59, local time
# The engine's settings: how it runs, not what it computes (left out of the definitions' hash).
ENGINE_KEYS = ("threads", "memory_limit_mib")


def parse_duration(text: str) -> timedelta:
    """`30m`, `24h`, `7d` as a timedelta. Raises ValueError naming the text and the accepted form."""
    found = DURATION.match(text) if isinstance(text, str) else None
    if not found:
        raise ValueError(
            f"{text!r} is not a window length: write a whole number and a unit, m (minutes), h (hours) or "
            "d (days), with no space: 30m, 24h, 7d"
        )
    return timedelta(**{UNITS[found[2]]: int(found[1])})


@dataclass(frozen=True)
class DerivedFeature:
    """One output column of the feature engine and what it is.

    `key` is the declaration it comes from (`features.derived.windows.0`); `entity` the columns it is
    computed per; `window` the length of its look-back; `offset` how long before the event that window ends
    (label aggregates). `nullable`: the value can be missing even when every source column is filled (a std
    over one event, the first event of an entity, a ratio to a zero mean). `low`/`high`: bounds the value
    always keeps (None: unbounded). `integer`: a whole number (a count, an hour, a 0/1 flag)."""

    name: str
    kind: str  # window | label | calendar | since_previous
    key: str
    aggregation: str
    entity: tuple[str, ...] = ()
    value: str | None = None
    window: timedelta | None = None
    offset: timedelta = timedelta(0)
    nullable: bool = False
    integer: bool = False
    low: float | None = None
    high: float | None = None
    min_count: int = 1  # label rate: fewer events in the window give `default`
    default: float = 0.0


def derived_section(params: dict[str, Any]) -> dict[str, Any]:
    """The `features.derived` mapping of the params ({} when the model declares none)."""
    return (params.get("features") or {}).get("derived") or {}


def _entity(declaration: dict[str, Any]) -> tuple[str, ...]:
    entity = declaration["entity"]
    return (entity,) if isinstance(entity, str) else tuple(entity)


def _entity_name(entity: tuple[str, ...]) -> str:
    return "_and_".join(entity)


def _window_features(index: int, declaration: dict[str, Any]) -> list[DerivedFeature]:
    entity, value = _entity(declaration), declaration.get("value")
    found = []
    for window in declaration["windows"]:
        for aggregation in declaration["aggregations"]:
            what = f"{value}_{aggregation}" if value else aggregation
            counted = aggregation in ("count", "distinct_count")
            found.append(
                DerivedFeature(
                    name=f"{_entity_name(entity)}__{what}_{window}",
                    kind="window",
                    key=f"features.derived.windows.{index}",
                    aggregation=aggregation,
                    entity=entity,
                    value=value,
                    window=parse_duration(window),
                    nullable=aggregation in ("std", "ratio_to_mean"),
                    integer=counted,
                    # A row's window holds the row itself: a row count is at least 1.
                    low=(1 if not value else 0) if counted else (0 if aggregation == "std" else None),
                )
            )
    return found


def _label_features(index: int, declaration: dict[str, Any]) -> list[DerivedFeature]:
    entity = _entity(declaration)
    offset = declaration.get("offset")
    found = []
    for window in declaration["windows"]:
        for aggregation in declaration.get("aggregations") or ["rate"]:
            suffix = f"_offset_{offset}" if offset else ""
            rate = aggregation == "rate"
            found.append(
                DerivedFeature(
                    name=f"{_entity_name(entity)}__label_{aggregation}_{window}{suffix}",
                    kind="label",
                    key=f"features.derived.labels.{index}",
                    aggregation=aggregation,
                    entity=entity,
                    window=parse_duration(window),
                    offset=parse_duration(offset) if offset else timedelta(0),
                    integer=not rate,
                    low=min(0.0, declaration.get("default", 0.0)) if rate else 0,
                    high=max(1.0, declaration.get("default", 0.0)) if rate else None,
                    min_count=int(declaration.get("min_count", 1)),
                    default=float(declaration.get("default", 0.0)),
                )
            )
    return found


def derived_features(params: dict[str, Any]) -> list[DerivedFeature]:
    """Every derived feature the params declare, in a fixed order: windows, labels, calendar, since
    previous, each in the order of its declaration (then window, then aggregation)."""
    derived = derived_section(params)
    found: list[DerivedFeature] = []
    for index, declaration in enumerate(derived.get("windows") or []):
        found += _window_features(index, declaration)
    for index, declaration in enumerate(derived.get("labels") or []):
        found += _label_features(index, declaration)
    for part in derived.get("calendar") or []:
        found.append(
            DerivedFeature(
                name=f"event_{part}",
                kind="calendar",
                key="features.derived.calendar",
                aggregation=part,
                integer=True,
                low=0,
                high={"hour": 23, "weekday": 6}.get(part, 1),
            )
        )
    for index, declaration in enumerate(derived.get("since_previous") or []):
        entity, within = _entity(declaration), parse_duration(declaration.get("within") or "30d")
        found.append(
            DerivedFeature(
                name=f"{_entity_name(entity)}__seconds_since_previous",
                kind="since_previous",
                key=f"features.derived.since_previous.{index}",
                aggregation="seconds_since_previous",
                entity=entity,
                window=within,
                nullable=True,  # an entity's first event (within the look-back) has no previous one
                low=0,
                high=within.total_seconds(),  # an earlier event further back is no previous one: null
            )
        )
    return found


def derived_feature_names(params: dict[str, Any]) -> list[str]:
    """The output columns of the feature engine for these params, in its output order (after the id)."""
    return [feature.name for feature in derived_features(params)]


def duplicate_names(params: dict[str, Any]) -> dict[str, list[str]]:
    """Output names declared more than once, each with the declarations (keys) that produce it."""
    keys: dict[str, list[str]] = {}
    for feature in derived_features(params):
        keys.setdefault(feature.name, []).append(feature.key)
    return {name: found for name, found in keys.items() if len(found) > 1}


def history_needed(params: dict[str, Any]) -> timedelta:
    """How far before the first row to compute the events must reach back, so that the batch's first day
    gets the features of any other day: the longest window (plus its offset) of any declaration. Labels
    travel with their event's row (`model.label_time` or the fixed delay), so they add nothing."""
    found = [f.window + f.offset for f in derived_features(params) if f.window is not None]
    return max(found, default=timedelta(0))


def source_columns(params: dict[str, Any]) -> dict[str, list[str]]:
    """The columns of the raw events each declaration reads (entity and value), by declaration key:
    `core.models.named_columns` checks each against the model's suite. The event time, and for label
    aggregates the label and its arrival, are the model's own columns (`model.*`), checked there."""
    derived = derived_section(params)
    found: dict[str, list[str]] = {}
    for section in ("windows", "labels", "since_previous"):
        for index, declaration in enumerate(derived.get(section) or []):
            value = [declaration["value"]] if declaration.get("value") else []
            found[f"features.derived.{section}.{index}"] = [*_entity(declaration), *value]
    return found


def definitions(params: dict[str, Any]) -> dict[str, Any]:
    """The feature definitions (the derived section without the engine's settings), for lineage."""
    # Empty sections left out: a model declaring nothing has one hash whether or not it spells the lists.
    return {k: v for k, v in derived_section(params).items() if k not in ENGINE_KEYS and v}


def definitions_hash(params: dict[str, Any]) -> str:
    """sha256 of the definitions as canonical JSON: a changed definition is a changed hash, a changed
    thread count is not."""
    text = json.dumps(definitions(params), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
