"""The models of the platform: each a folder `models/<name>/` whose `params.yaml` overrides the shared
defaults `models/defaults.yaml` (a deep merge; an estimator's block, `train.xgboost`, is replaced whole
unless it says `inherit: true`: `core.params.merge_model`), checked against `core.schema` and its suite.

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

from retrainer.core import feature_declarations as declarations
from retrainer.core.errors import ConfigError, Rejected
from retrainer.core.feature_suite import features_suite_problems
from retrainer.core.params import INHERIT, RENAMED_KEYS, REPLACED_BLOCKS, merge_model, with_dag_params
from retrainer.core.schema import ModelParams
from retrainer.core.suite_columns import mentioned_columns, suite_columns

MODELS_DIR = "models"
DEFAULTS_FILE = "defaults.yaml"
PARAMS_FILE = "params.yaml"
EXPECTATIONS_DIR = "expectations"


class ModelConfigError(ConfigError, Rejected):
    """A model's configuration cannot work; `problems` holds one `<file>: <key>: <expected>` line each.
    A verdict on the files, not retried: fix the file and run again."""

    def __init__(self, problems: list[str], head: str | None = None) -> None:
        self.problems = problems
        if head is None and len(problems) == 1:
            super().__init__(problems[0])
        else:
            super().__init__("\n  - ".join([head or f"{len(problems)} configuration problems:", *problems]))


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


def features_suite_file(project_dir: Path, params: dict[str, Any]) -> Path | None:
    """The contract of a model's derived features (`features.derived`): expectations/<suite>.features.json,
    judged on the featurize stage's output (`features.stage`); None for a model without derived features.
    A suite of its own: the batch suite judges the raw batch, before any feature exists."""
    if not declarations.derived_feature_names(params):
        return None
    return Path(project_dir) / EXPECTATIONS_DIR / f"{params['data']['suite']}.features.json"


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


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of a YAML file gives one key twice; `key` is its dotted path, `lines` where it appears."""

    def __init__(self, key: str, lines: tuple[int, int]) -> None:
        self.key, self.lines = key, lines
        super().__init__(f"line {lines[1]}: {key}: duplicate key (also at line {lines[0]})")


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml's safe loader, refusing a key given twice in one mapping: `yaml.safe_load` keeps the last one
    silently, so the value a reader sees first would not be the one in force."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._paths = _mapping_paths(node)  # construct_mapping sees one mapping, not where it sits
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` brings keys that this mapping's own keys may override
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class refuses it with its own message
            if first is not None:
                path = ".".join(map(str, (*getattr(self, "_paths", {}).get(id(node), ()), key)))
                raise DuplicateKeyError(path, (first, line))
            seen[key] = line
        return super().construct_mapping(node, deep)


def _mapping_paths(root: yaml.Node) -> dict[int, tuple]:
    """The key path of every mapping node under `root`, by the node's id (an alias is visited once)."""
    paths: dict[int, tuple] = {}
    todo: list[tuple[yaml.Node, tuple]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        if id(node) in paths:
            continue
        paths[id(node)] = path
        if isinstance(node, yaml.MappingNode):
            todo += [(v, (*path, getattr(k, "value", "?"))) for k, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            todo += [(item, (*path, i)) for i, item in enumerate(node.value)]
    return paths


def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    """The mapping a params file holds (`shown`: its name in messages). Raises ModelConfigError naming the
    file (and line and key) when it is missing, not YAML, not a mapping, or gives a key twice."""
    try:
        loaded = yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # a SafeLoader: no tags run code
    except FileNotFoundError:
        raise ModelConfigError([f"{shown}: file not found"]) from None
    except DuplicateKeyError as error:
        raise ModelConfigError(
            [f"{shown}: {error}: YAML would keep only the last value, silently: delete one of them"]
        ) from None
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
    try:  # a model's estimator block replaces the defaults' unless it says `inherit: true` (core.params)
        merged = merge_model(defaults, own)
    except ConfigError as error:
        raise ModelConfigError([f"{model_shown}: {error}"]) from None
    params = with_dag_params(merged, dag_params)
    problems = schema_problems(params, own, model_shown, defaults_shown)
    if not problems and params["model"]["name"] != name:
        found = params["model"]["name"]
        problems.append(f"{model_shown}: model.name: expected the folder's name {name!r}, found {found!r}")
    if not problems and check_suite:
        problems += suite_problems(project_dir, params, model_shown)
    if problems:
        raise ModelConfigError(problems)
    return params


def check_models(
    project_dir: Path, check_suite: bool = True
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Every configured model loaded on its own: (the params of each healthy model, the problems of each
    broken one), both by name. One model's mistake says nothing about the others."""
    healthy, broken = {}, {}
    for name in model_names(project_dir):
        try:
            healthy[name] = load_model(project_dir, name, check_suite=check_suite)
        except ModelConfigError as error:
            broken[name] = error.problems
        except Exception as error:  # unreadable bytes, a permission: still this model's alone
            broken[name] = [f"{MODELS_DIR}/{name}: cannot be checked: {type(error).__name__}: {error}"]
    return healthy, broken


def load_models(project_dir: Path, check_suite: bool = True) -> dict[str, dict[str, Any]]:
    """The params of every healthy model, by name. A broken model is left out, so that its mistake takes no
    other model's DAGs down: `dags/model_config_errors.py` shows its problems as an import error, and
    `retrainer models check` lists them (both through `check_models`)."""
    return check_models(project_dir, check_suite)[0]


class BrokenModelsError(ModelConfigError):
    """Some models' configuration cannot work; `broken` holds each one's problems by model name. What the
    DAG processor shows for `dags/model_config_errors.py` while the healthy models keep their DAGs."""

    def __init__(self, broken: dict[str, list[str]]) -> None:
        self.broken = broken
        names = ", ".join(broken)
        head = (
            f"model {names} has a broken configuration and no DAGs until it is fixed"
            if len(broken) == 1
            else f"models {names} have a broken configuration and no DAGs until it is fixed"
        )
        head += "; the other models keep theirs. Fix each file and key named, then: retrainer models check"
        super().__init__([f"{name}: {problem}" for name, found in broken.items() for problem in found], head)


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
            # "[key]": pydantic's mark of a refused key of a mapping (train.tuning.space.<name>)
            held = _holds(own, tuple(part for part in loc if part != "[key]"))
            shown = model_shown if held or problem["type"] == "missing" else defaults_shown
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
    renamed = RENAMED_KEYS.get(".".join(str(part) for part in loc if part != "[key]"))
    if renamed and kind in ("extra_forbidden", "literal_error"):
        return f"renamed: this key is now {renamed} (move its value there)"
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key ({hint})"
    if kind == "missing":
        if ".".join(map(str, loc[:-1])) in REPLACED_BLOCKS:
            return (
                "missing: this key is required (this block replaces models/defaults.yaml's; add "
                f"`{INHERIT}: true` to it to merge it over the defaults' instead)"
            )
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
    found |= declarations.source_columns(params)  # features.derived.windows.0: its entity and value columns
    return {key: columns for key, columns in found.items() if columns}


def suite_problems(project_dir: Path, params: dict[str, Any], model_shown: str) -> list[str]:
    """A column the params name that the suite has no expectation about, or a feature whose values it does
    not hold (type, nulls, range or value set): the contract would let anything through into training."""
    path = suite_file(project_dir, params)
    shown = f"{EXPECTATIONS_DIR}/{path.name}"
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        return [f"{model_shown}: data.suite: expected a suite at {shown}, found no such file"]
    except json.JSONDecodeError as error:
        return [f"{shown}: not valid JSON: {error}"]
    mentioned, held = mentioned_columns(suite), suite_columns(suite)
    fix = f"`retrainer suite scaffold --model {params['model']['name']}`"
    problems = []
    for key, columns in named_columns(params).items():
        for column in columns:
            if column not in mentioned:
                problems.append(
                    f"{model_shown}: {key}: column {column!r} is not in the suite {shown} "
                    f"(add its expectations: {fix})"
                )
            elif key.startswith("features.") and column not in held:
                problems.append(
                    f"{model_shown}: {key}: feature {column!r} has no expectation about its values in the "
                    f"suite {shown}, only about its place among the columns: add its type, nulls and range "
                    f"or value set ({fix}, then review the diff)"
                )
    # the contract of the derived features (expectations/<suite>.features.json): it exists, holds each one
    return problems + features_suite_problems(features_suite_file(project_dir, params), params, model_shown)
