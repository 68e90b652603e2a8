"""The documentation site builds strictly (no broken link or anchor, no page outside the nav), and its
generated reference lists every params key of the schema and every CLI command; the README stays short."""

from __future__ import annotations

import argparse
import html
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from retrainer.cli import build_parser
from retrainer.core.models import load_model, model_names
from retrainer.core.schema import ModelParams

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _schema_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted key of the schema, read here on its own (a list's items as `key[].item`, a mapping's
    values as `key.<name>.item`)."""
    found = []
    for name, field in model.model_fields.items():
        dotted = prefix + name
        found.append(dotted)
        candidates = [field.annotation, *typing.get_args(field.annotation)]
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                below = {list: "[].", dict: ".<name>."}.get(typing.get_origin(field.annotation), ".")
                found += _schema_keys(candidate, dotted + below)
    return found


def _config_keys(value: object, prefix: str = "") -> list[str]:
    """The dotted keys of a merged params dict (mappings only: a dict-typed key's own entries excluded)."""
    if not isinstance(value, dict):
        return []
    found = []
    for key, inner in value.items():
        found.append(prefix + key)
        found += _config_keys(inner, f"{prefix}{key}.")
    return found


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(" ".join((*words, name)))
                found += _commands(sub, (*words, name))
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as `make docs` builds it (mkdocs build --strict), into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def _page_text(site: Path, page: str) -> str:
    return html.unescape((site / f"{page}.html").read_text())


def test_the_params_reference_lists_every_key_of_the_schema(site):
    text = _page_text(site, "reference/params")
    missing = [key for key in _schema_keys(ModelParams) if f"<code>{key}</code>" not in text]
    assert not missing, f"keys of core.schema missing from the generated params reference: {missing}"


def test_every_key_the_shipped_models_set_is_in_the_params_reference(site):
    text = _page_text(site, "reference/params")
    skip = (
        "features.categorical.",
        "slices.bands.",
        "slices.expressions.",
        "timeouts.tasks.",
        "train.tuning.space.",
    )
    for name in model_names(PROJECT_DIR):
        params = load_model(PROJECT_DIR, name, check_suite=False)
        keys = [k for k in _config_keys(params) if not k.startswith(skip)]
        missing = [k for k in keys if f"<code>{k}</code>" not in text]
        assert not missing, f"{name}: keys missing from the params reference: {missing}"


def test_the_cli_reference_lists_every_command(site):
    text = _page_text(site, "reference/cli")
    commands = _commands(build_parser())
    assert "deploy rollback" in commands and "suite refresh" in commands
    missing = [c for c in commands if f"retrainer {c}" not in text]
    assert not missing, f"commands missing from the generated CLI reference: {missing}"


def test_the_readme_is_short_and_keeps_the_two_set_up_commands():
    readme = (PROJECT_DIR / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    assert (
        "make demo   # install, generate data, run the retraining DAG end to end, print the registered model"
        in readme
    )
    assert (
        "make test   # install, lint, run every test (unit, DAG integrity, end to end through real Airflow)"
        in readme
    )
    for link in ("docs/getting-started.md", "docs/operations/runbook.md", "docs/concepts/models.md"):
        assert f"({link})" in readme and (PROJECT_DIR / link).is_file()
