"""Every key of a model's params, read from the code: the pydantic schema (`core.schema` and its section
modules) gives the dotted key and its type, `models/defaults.yaml` the default, and the meaning comes from
the field's description, its docstring or comment in the schema's source, or the comment beside the key
in `models/defaults.yaml` (for `monitoring.drift`, also `drift.config.DriftConfig`, whose subset it is).
`params_page` writes the reference page; `undocumented_keys` lists the keys with no meaning anywhere."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
import types
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from retrainer.core.schema import ModelParams
from retrainer.drift.config import DriftConfig
from retrainer.reference import markdown as md

DEFAULTS = Path("models") / "defaults.yaml"
# Sections whose keys are a subset of another class's settings: their defaults and meanings live there.
SUBSET_OF: dict[str, type] = {"monitoring.drift": DriftConfig}
REQUIRED = "required (the model's params.yaml)"


@dataclass(frozen=True)
class Key:
    """One key of the params: `dotted` (a list's items as `[]`), its type and default as text, and what it
    means ("" when nothing says)."""

    dotted: str
    type: str
    default: str
    meaning: str


def keys(project_dir: Path) -> list[Key]:
    """Every key of the schema, depth first in the schema's order, for the project at `project_dir`."""
    defaults = yaml.safe_load((project_dir / DEFAULTS).read_text())
    comments = yaml_comments((project_dir / DEFAULTS).read_text())
    return list(_walk(ModelParams, "", defaults, comments))


def undocumented_keys(project_dir: Path) -> list[str]:
    """The dotted keys that neither the schema nor models/defaults.yaml explain."""
    return [key.dotted for key in keys(project_dir) if not key.meaning]


def _walk(model: type[BaseModel], prefix: str, defaults: Any, comments: dict[str, str]):
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        nested, items = _section_of(field.annotation)
        own = defaults.get(name, _MISSING) if isinstance(defaults, dict) else _MISSING
        meaning = (
            field.description
            or _source_meanings(model).get(name)
            or comments.get(dotted.replace("[]", ""))
            or _subset_meaning(prefix.rstrip("."), name)
        )
        if nested is not None and not items:
            # A section: its own line says what it is for, then its keys.
            yield Key(dotted, "section", "", meaning or (nested.__doc__ or "").split("\n\n")[0])
            yield from _walk(nested, dotted + ".", own if own is not _MISSING else {}, comments)
            continue
        yield Key(
            dotted,
            _type_text(field.annotation, field.metadata),
            _default(field, own, prefix, name),
            meaning or "",
        )
        if nested is not None:
            yield from _walk(nested, dotted + items, {}, comments)


_MISSING = object()


def _section_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The pydantic section an annotation holds (itself, the items of its list, or the values of its
    mapping), and how its keys are written below it: "" (itself), `[].` (a list's items) or `.<name>.`
    (a mapping's values, e.g. `train.tuning.space.<name>.low`)."""
    for candidate, items in ((annotation, ""), *_items(annotation)):
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate, items
    return None, ""


def _items(annotation: Any) -> list[tuple[Any, str]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return [(args[0], "[].")]
    if origin is dict:
        return [(args[1], ".<name>.")]
    return []


def _default(field: Any, own: Any, prefix: str, name: str) -> str:
    if own is not _MISSING:
        return _yaml_text(own)
    subset = SUBSET_OF.get(prefix.rstrip("."))
    if subset is not None and field.default is None:
        return _yaml_text({f.name: f.default for f in dataclasses.fields(subset)}.get(name))
    if field.is_required():
        return REQUIRED
    default = field.default if field.default is not PydanticUndefined else field.default_factory()
    if isinstance(default, BaseModel):
        return ""
    return _yaml_text(default)


def _yaml_text(value: Any) -> str:
    """A value as the YAML a person would write in params.yaml (one line)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _type_text(annotation: Any, metadata: list[Any] = ()) -> str:
    """A type annotation as a person reads it: `integer (>= 1)`, `list of number`, `"fail" | "warn"`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_text(args[0], [*metadata, *args[1:]])
    bounds = _bounds(metadata)
    if origin is typing.Literal:
        text = " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    elif origin in (typing.Union, types.UnionType):
        parts = [_type_text(a) for a in args if a is not type(None)]
        text = " | ".join(parts) + (" | null" if type(None) in args else "")
    elif origin is list:
        text = f"list of {_type_text(args[0])}"
    elif origin is dict:
        text = f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    elif inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        text = "mapping (keys below)"
    else:
        text = {int: "integer", float: "number", str: "text", bool: "true | false"}.get(
            annotation, getattr(annotation, "__name__", str(annotation))
        )
    return f"{text} ({bounds})" if bounds else text


def _bounds(metadata: list[Any]) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    words |= {"min_length": "length >=", "max_length": "length <="}
    found = []
    for item in metadata:
        for inner in getattr(item, "metadata", None) or [item]:  # Field(...) inside Annotated holds its own
            for attr, word in words.items():
                if getattr(inner, attr, None) is not None:
                    found.append(f"{word} {getattr(inner, attr)}")
            if getattr(inner, "pattern", None):
                found.append(f"matching {inner.pattern}")
    return ", ".join(found)


@cache
def _source_meanings(cls: type) -> dict[str, str]:
    """What the class's source says of each of its fields: the docstring under the field, else the comment
    at the end of its line, else the comment lines right above it."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    body = ast.parse(source).body[0].body
    meanings: dict[str, str] = {}
    for i, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        after = body[i + 1] if i + 1 < len(body) else None
        if isinstance(after, ast.Expr) and isinstance(getattr(after, "value", None), ast.Constant):
            meanings[node.target.id] = " ".join(str(after.value.value).split())
            continue
        line = lines[node.end_lineno - 1]
        trailing = _trailing_comment(line)
        above = []
        for previous in reversed(lines[: node.lineno - 1]):
            if not previous.strip().startswith("#"):
                break
            above.insert(0, previous.strip().lstrip("#").strip())
        if trailing or above:
            meanings[node.target.id] = trailing or " ".join(above)
    return meanings


def _trailing_comment(line: str) -> str:
    """The comment ending a line of code or YAML ('#' outside quotes, after a blank), or ""."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[i + 1 :].strip()
    return ""


def _subset_meaning(section: str, name: str) -> str:
    subset = SUBSET_OF.get(section)
    return _source_meanings(subset).get(name, "") if subset is not None else ""


_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w-]*):(?P<rest>.*)$")
# A commented-out line of YAML (an example), not prose: `- entity: x`, `key: value`, `key:`.
_YAML_LINE = re.compile(r"^(- |[A-Za-z_][\w-]*:( [^\s#]+)?\s*(#.*)?$)")


def yaml_comments(text: str) -> dict[str, str]:
    """The comment of each key of a YAML file of nested mappings, by dotted key: the comment at the end of
    its line with the comment-only lines below aligned with it, or else the comment lines right above it
    at its own indent (a blank line ends them)."""
    comments: dict[str, str] = {}
    path: list[tuple[int, str]] = []
    above: list[str] = []
    current: tuple[str, int] | None = None  # the last key with a trailing comment, and its column
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped.startswith("#"):
            if current and indent == current[1]:
                comments[current[0]] += " " + stripped.lstrip("#").strip()
            else:
                current = None
                above.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match:
            above, current = [], None
            continue
        while path and path[-1][0] >= indent:
            path.pop()
        path.append((indent, match["key"]))
        dotted = ".".join(key for _, key in path)
        trailing = _trailing_comment(match["rest"])
        if trailing:
            comments[dotted] = trailing
            current = (dotted, line.index("#", len(match["indent"]) + len(match["key"])))
        else:
            current = None
            if above and not any(_YAML_LINE.match(a) for a in above):
                comments[dotted] = " ".join(above)
        above = []
    return comments


def params_page(project_dir: Path) -> str:
    """The Markdown page of every params key: a table per top-level section."""
    out = [
        "# Params reference",
        "",
        "Generated from the code when the site is built (`retrainer.reference.params`): every key of the "
        "schema `retrainer.core.schema` (a model's `models/defaults.yaml` deep-merged with "
        "`models/<name>/params.yaml`), its type and range as the schema checks them, its default in "
        "`models/defaults.yaml` (or the schema's own), and what it means. A key `a.b[].c` is the key `c` "
        "of each item of the list `a.b`. `train.xgboost` also takes `inherit: true` (merge the block over "
        "the defaults' instead of replacing it: see [Models](../concepts/models.md)).",
        "",
    ]
    rows: list[list[str]] = []
    for key in keys(project_dir):
        if "." not in key.dotted:
            if rows:
                out.append(md.table(["key", "type", "default", "meaning"], rows))
            rows = []
            out += [f"## {md.code(key.dotted)}", "", md.prose(key.meaning), ""]
            continue
        rows.append(
            [
                md.code(key.dotted),
                md.text(key.type),
                _default_cell(key.default),
                md.prose(key.meaning),
            ]
        )
    out.append(md.table(["key", "type", "default", "meaning"], rows))
    return "\n".join(out)


def _default_cell(default: str) -> str:
    """A default as code (what to write in params.yaml); "required ..." and a section's "" as text."""
    return md.code(default) if default and not default.startswith(REQUIRED) else md.text(default)
