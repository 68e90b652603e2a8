"""Every named error the platform raises, read from the source (no import: the Airflow side is read too):
each exception class of `include/retrainer` and `include/retrainer_airflow`, its module, whether it is a
verdict (`Rejected`: the task fails at once, not retried) and its docstring. `errors_page` writes the
reference page; `named_errors` lists them."""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from pathlib import Path

from retrainer.reference import markdown as md

PACKAGES = ("include/retrainer", "include/retrainer_airflow")
VERDICT = "Rejected"


@dataclass(frozen=True)
class NamedError:
    """One exception class: its name, module (dotted), the names of its bases, its docstring."""

    name: str
    module: str
    bases: tuple[str, ...]
    doc: str


def _is_an_error(name: str) -> bool:
    """A builtin exception, or a library's by its name (yaml.YAMLError)."""
    value = getattr(builtins, name, None)
    builtin = isinstance(value, type) and issubclass(value, BaseException)
    return builtin or name.endswith(("Error", "Exception"))


def named_errors(project_dir: Path) -> list[NamedError]:
    """Every exception class defined in the packages, sorted by name (a class whose bases, followed
    through the classes found, reach a builtin exception)."""
    found: dict[str, NamedError] = {}
    classes: list[NamedError] = []
    for package in PACKAGES:
        root = project_dir / package
        for path in sorted(root.rglob("*.py")):
            module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef):
                    bases = tuple(
                        b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                    )
                    classes.append(NamedError(node.name, module, bases, ast.get_docstring(node) or ""))
    changed = True
    while changed:  # follow bases defined in other modules until nothing new is an error
        changed = False
        for cls in classes:
            if cls.name not in found and any(_is_an_error(b) or b in found for b in cls.bases):
                found[cls.name] = cls
                changed = True
    return sorted(found.values(), key=lambda e: e.name)


def is_verdict(error: NamedError, errors: dict[str, NamedError]) -> bool:
    """Whether the error is a `Rejected` (directly or through its bases): fails at once, not retried."""
    if error.name == VERDICT:
        return True
    return any(b == VERDICT or (b in errors and is_verdict(errors[b], errors)) for b in error.bases)


def errors_page(project_dir: Path) -> str:
    """The Markdown page of every named error: name, where it is raised from, verdict or retried, meaning."""
    errors = named_errors(project_dir)
    by_name = {e.name: e for e in errors}
    rows = [
        [
            md.code(e.name),
            md.code(e.module),
            "verdict: fails at once" if is_verdict(e, by_name) else "retried",
            md.prose(e.doc),
        ]
        for e in errors
    ]
    return "\n".join(
        [
            "# Errors reference",
            "",
            "Generated from the code when the site is built (`retrainer.reference.errors`): every exception "
            "class of the package and of its Airflow side, with its docstring. A *verdict* (a `Rejected`) "
            "fails its task at once in every DAG (Airflow's `ExceptionRetryPolicy`); any other error is "
            "retried. What to do about each: the [runbook](../operations/runbook.md).",
            "",
            md.table(["error", "module", "retry", "meaning"], rows),
        ]
    )
