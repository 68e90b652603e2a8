"""The retraining DAG's trigger form, as data: for each override field (`core.params.DAG_PARAMS`) its JSON
Schema type and bounds, taken from the params schema (`core.schema`, the one place a range is written),
and a description that shows the model's own value ("empty = the model's value: 56 days"). Light enough
for a DAG file's parse (pydantic only); the DAG turns each entry into an Airflow `Param`.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter

from retrainer.core.params import DAG_PARAMS
from retrainer.core.schema import ModelParams

# The JSON Schema keywords of a range: the ones Airflow's Param (jsonschema) and its form understand.
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")

# What each override means to the person triggering, and the unit its value is shown in.
MEANING = {
    "extract_window_days": ("First run: extract this many days before the interval's end", "days"),
    "training_window_days": ("Days of validated batches the model trains on", "days"),
    "min_pr_auc": ("Gate: the floor of the headline metric on the holdout", ""),
    "min_recall_at_fpr": ("Gate: the floor of recall at the false-positive budget", ""),
    "champion_tolerance": ("Gate: how far below the champion the challenger may score", ""),
    "min_days_per_step": ("Canary: good scored days before each ramp step", "days"),
}


@cache
def schema_of(dotted: str) -> dict[str, Any]:
    """The JSON Schema of the params key `dotted` (`data.training_window_days`) as `core.schema` declares
    it, a null allowed or not: `{"type": "integer", "minimum": 7}`. KeyError naming the key when the
    schema has no such key."""
    node: type[BaseModel] = ModelParams
    *sections, leaf = dotted.split(".")
    for name in sections:
        node = node.model_fields[name].annotation  # a section is a nested model
    field = node.model_fields.get(leaf)
    if field is None:
        raise KeyError(f"{dotted}: core.schema declares no such key")
    found = TypeAdapter(field.annotation if not field.metadata else _annotated(field)).json_schema()
    # `X | None` is anyOf [X, null]: the bounds are X's
    for option in found.get("anyOf", []):
        if option.get("type") != "null":
            found = option
    return {k: v for k, v in found.items() if k == "type" or k in BOUNDS}


def _annotated(field: Any) -> Any:
    """The field's type with the constraints pydantic moved off it (`Field(ge=7)`) put back."""
    return Annotated[(field.annotation, *field.metadata)]


def _value(params: dict[str, Any], dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        node = node[part]
    return node


def _shown(value: Any, unit: str) -> str:
    if value is None:
        return "none set (the run's whole interval)"
    return f"{value:g} {unit}".strip() if isinstance(value, int | float) else str(value)


def _range(bounds: dict[str, Any]) -> str:
    low = [f">= {bounds['minimum']:g}"] if "minimum" in bounds else []
    low += [f"> {bounds['exclusiveMinimum']:g}"] if "exclusiveMinimum" in bounds else []
    high = [f"<= {bounds['maximum']:g}"] if "maximum" in bounds else []
    high += [f"< {bounds['exclusiveMaximum']:g}"] if "exclusiveMaximum" in bounds else []
    return ", ".join(low + high)


def override_fields(params: dict[str, Any], names: tuple[str, ...] | None = None) -> dict[str, dict]:
    """The form fields of the retraining DAG for the model whose checked params are `params`: for each of
    `names` (default: every DAG_PARAMS override), `{"type": [null, <type>], <bounds>, "description": ...}`,
    the keyword arguments of an Airflow `Param` whose default is None (empty = the model's value)."""
    fields = {}
    for name in names or tuple(DAG_PARAMS):
        dotted = DAG_PARAMS[name]
        schema = schema_of(dotted)
        meaning, unit = MEANING.get(name, (name, ""))
        bounds = {k: v for k, v in schema.items() if k in BOUNDS}
        allowed = f" Allowed: {_range(bounds)}." if bounds else ""
        fields[name] = {
            "type": ["null", schema.get("type", "number")],
            **bounds,
            "description": f"{meaning} ({dotted}). Empty = the model's value: "
            f"{_shown(_value(params, dotted), unit)}.{allowed}",
        }
    return fields
