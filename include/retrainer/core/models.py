"""The models of the platform: each a folder `models/<name>/` whose `params.yaml` overrides the shared
defaults `models/defaults.yaml` (a deep merge), checked against `core.schema` and against its suite.

Every problem is reported as `<file>: <key>: <what was expected>`, naming the file that holds (or should
hold) the key, e.g. `models/fraud-xgb/params.yaml: train.xgboost.max_dept: unknown key (did you mean
max_depth?)`. Light enough to run when Airflow parses the DAG files (yaml, json and pydantic only).
"""

from __future__ import annotations

import difflib
import json
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from retrainer.core.errors import ConfigError, Rejected
from retrainer.core.params import deep_merge, with_dag_params
from retrainer.core.schema import ModelParams

MODELS_DIR = "models"
DEFAULTS_FILE = "defaults.yaml"
PARAMS_FILE = "params.yaml"
EXPECTATIONS_DIR = "expectations"


class ModelConfigError(ConfigError, Rejected):
    """A model's configuration cannot work; `problems` holds one `<file>: <key>: <expected>` line each.
    A verdict on the files, not retried: fix the file and run again."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = problems[0] if len(problems) == 1 else f"{len(problems)} configuration problems:"
        super().__init__(head if len(problems) == 1 else "\n  - ".join([head, *problems]))


def models_dir(project_dir: Path) -> Path:
    return Path(project_dir) / MODELS_DIR


def model_names(project_dir: Path) -> list[str]:
    """Every configured model: the folders of `models/` holding a params.yaml, by name."""
    root = models_dir(project_dir)
    return sorted(p.parent.name for p in root.glob(f"*/{PARAMS_FILE}")) if root.is_dir() else []


def params_file(project_dir: Path, name: str) -> Path:
    return models_dir(project_dir) / name / PARAMS_FILE


def suite_file(project_dir: Path, params: dict[str, Any]) -> Path:
    """The expectation suite a model's params name (`data.suite`): expectations/<suite>.json."""
    return Path(project_dir) / EXPECTATIONS_DIR / f"{params['data']['suite']}.json"


def choose_model(project_dir: Path, name: str | None = None) -> str:
    """The model a command or task works on: the one named, or the only one configured."""
    names = model_names(project_dir)
    if name:
        if name not in names:
            raise ConfigError(
                f"no model {name!r}: {models_dir(project_dir)} holds {', '.join(names) or 'no model'} "
                f"(a model is a folder {MODELS_DIR}/<name>/ with a {PARAMS_FILE})"
            )
        return name
    if len(names) == 1:
        return names[0]
    raise ConfigError(
        f"{len(names)} models are configured ({', '.join(names) or 'none'} under {models_dir(project_dir)}): "
        "name one with --model NAME or RETRAINER_MODEL"
    )


def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ModelConfigError([f"{shown}: file not found"]) from None
    except yaml.YAMLError as error:
        raise ModelConfigError([f"{shown}: not valid YAML: {' '.join(str(error).split())}"]) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ModelConfigError([f"{shown}: must hold a mapping of sections, found {type(loaded).__name__}"])
    return loaded


def load_model(
    project_dir: Path, name: str, dag_params: dict[str, Any] | None = None, check_suite: bool = True
) -> dict[str, Any]:
    """A model's params: the defaults deep-merged with its params.yaml, the DAG's Params applied, checked
    against the schema and (with `check_suite`) every column it names against its suite. Raises
    ModelConfigError naming the file, key and what was expected for every problem found."""
    project_dir = Path(project_dir)
    defaults_shown = f"{MODELS_DIR}/{DEFAULTS_FILE}"
    model_shown = f"{MODELS_DIR}/{name}/{PARAMS_FILE}"
    defaults = _read_yaml(models_dir(project_dir) / DEFAULTS_FILE, defaults_shown)
    own = _read_yaml(params_file(project_dir, name), model_shown)
    params = with_dag_params(deep_merge(defaults, own), dag_params)
    problems = schema_problems(params, own, model_shown, defaults_shown)
    if not problems and params["model"]["name"] != name:
        found = params["model"]["name"]
        problems.append(f"{model_shown}: model.name: expected the folder's name {name!r}, found {found!r}")
    if not problems and check_suite:
        problems += suite_problems(project_dir, params, model_shown)
    if problems:
        raise ModelConfigError(problems)
    return params


def load_models(project_dir: Path, check_suite: bool = True) -> dict[str, dict[str, Any]]:
    """Every configured model's params by name; one ModelConfigError listing the problems of them all."""
    models, problems = {}, []
    for name in model_names(project_dir):
        try:
            models[name] = load_model(project_dir, name, check_suite=check_suite)
        except ModelConfigError as error:
            problems += error.problems
    if problems:
        raise ModelConfigError(problems)
    return models


def schema_problems(params: dict, own: dict, model_shown: str, defaults_shown: str) -> list[str]:
    """The schema's verdict on merged params, one line per problem, each naming the file holding the key:
    the model's file if it sets the key (or must: a missing key), else the defaults."""
    try:
        ModelParams.model_validate(params)
    except ValidationError as error:
        found: dict[str, list[str]] = {}  # per key; a union's members each say what they expected
        for problem in error.errors():
            loc = _key_path(params, problem["loc"])
            key = ".".join(map(str, loc))
            shown = model_shown if _holds(own, loc) or problem["type"] == "missing" else defaults_shown
            expected = _expected(problem, loc)
            if expected not in found.setdefault(f"{shown}: {key}", []):
                found[f"{shown}: {key}"].append(expected)
        return [f"{where.removesuffix(': ')}: {' or '.join(what)}" for where, what in found.items()]
    return []


def _key_path(params: dict, loc: tuple) -> tuple:
    """The part of pydantic's error location that names keys of the params (not union members' tags)."""
    path, node = [], params
    for part in loc:
        if isinstance(node, dict):
            path.append(part)
            if part not in node:
                break  # a missing or unknown key ends the path
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        else:
            break
    return tuple(path)


def _holds(tree: dict, loc: tuple) -> bool:
    node: Any = tree
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if isinstance(node, dict) and part in node or in_list:
            node = node[part]
        else:
            return False
    return True


def _expected(problem: dict, loc: tuple) -> str:
    kind, given = problem["type"], problem.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key ({hint})"
    if kind == "missing":
        return "missing: this key is required"
    message = problem["msg"].removeprefix("Value error, ")
    message = message.replace("Input should be", "expected").replace("String should", "expected text to")
    return f"{message}, got {given!r}" if kind != "value_error" else message


def _known_keys(loc: tuple) -> list[str]:
    """The keys the schema knows at a location (a section's fields)."""
    model: Any = ModelParams
    for part in loc:
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return []
        model = next(
            (t for t in _types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)), None
        )
    return sorted(model.model_fields) if model else []


def _types(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _types(a)]


def named_columns(params: dict[str, Any]) -> dict[str, list[str]]:
    """The columns of the data the params name, by key: each must be a column of the model's suite."""
    model, slices, features = params["model"], params["slices"], params["features"]
    found = {
        f"model.{key}": [model[key]]
        for key in ("id_column", "event_time", "label", "label_time", "canary_column")
        if model.get(key)
    }
    found["features.numeric"] = list(features["numeric"])
    found["features.categorical"] = list(features.get("categorical") or {})
    found["slices.levels"] = list(slices.get("levels") or [])
    found["slices.bands"] = list(slices.get("bands") or {})
    if params["costs"].get("amount_column"):
        found["costs.amount_column"] = [params["costs"]["amount_column"]]
    return {key: columns for key, columns in found.items() if columns}


def suite_columns(suite: dict[str, Any]) -> set[str]:
    """Every column an expectation suite (GX 1.x JSON) has an expectation about."""
    columns = set()
    for expectation in suite.get("expectations", []):
        kwargs = expectation.get("kwargs", {})
        columns |= {kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)}
        columns |= set(kwargs.get("column_list") or []) | set(kwargs.get("column_set") or [])
    return columns


def suite_problems(project_dir: Path, params: dict[str, Any], model_shown: str) -> list[str]:
    """A column the params name that the suite has no expectation about: the contract would not hold it."""
    path = suite_file(project_dir, params)
    shown = f"{EXPECTATIONS_DIR}/{path.name}"
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        return [f"{model_shown}: data.suite: expected a suite at {shown}, found no such file"]
    except json.JSONDecodeError as error:
        return [f"{shown}: not valid JSON: {error}"]
    known = suite_columns(suite)
    return [
        f"{model_shown}: {key}: column {column!r} is not in the suite {shown} (add its expectations: "
        f"`retrainer suite scaffold --model {params['model']['name']}`)"
        for key, columns in named_columns(params).items()
        for column in columns
        if column not in known
    ]
