"""Where things live (environment) and every tunable number (`params.yaml`).

Deployment differences are environment variables, never code edits: the embedded default keeps everything
under `var/` in the project; pointing `RETRAINER_STORAGE_ROOT` at `s3://bucket/prefix` moves it to S3.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A setting or parameter is missing or has a value that cannot work."""


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    storage_root: str
    source_root: str
    dvc_remote: str
    dvc_cache_dir: Path
    work_dir: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        project = Path(env.get("RETRAINER_PROJECT_DIR", PROJECT_DIR)).resolve()
        var = Path(env.get("RETRAINER_VAR_DIR", project / "var")).resolve()
        return cls(
            project_dir=project,
            storage_root=env.get("RETRAINER_STORAGE_ROOT", (var / "storage").as_uri()),
            source_root=env.get("RETRAINER_SOURCE_ROOT", (var / "source").as_uri()),
            dvc_remote=env.get("RETRAINER_DVC_REMOTE", str(var / "dvc-remote")),
            dvc_cache_dir=Path(env.get("RETRAINER_DVC_CACHE_DIR", var / "dvc-cache")),
            work_dir=Path(env.get("RETRAINER_WORK_DIR", var / "work")),
        )

    @property
    def params_path(self) -> Path:
        return self.project_dir / "params.yaml"

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"


def load_params(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    path = Path(path) if path else Settings.from_env().params_path
    try:
        params = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"params file not found: {path}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must hold a mapping, found {type(params).__name__}")
    return params


def merge_params(params: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Deep-merge `overrides` into a copy of `params`. Overrides may use dotted keys (`gates.min_pr_auc`).

    Unknown keys are refused, so a typo in a DAG Param cannot silently leave the default in force.
    """
    merged = copy.deepcopy(params)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = merged
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown parameter {dotted!r}: {part!r} is not a section of params.yaml")
            node = node[part]
        if leaf not in node:
            raise ConfigError(f"unknown parameter {dotted!r}: params.yaml has no such key")
        node[leaf] = value
    return merged


def as_utc(value: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from a datetime or ISO string (naive values are taken as UTC)."""
    # Through ISO text, so pendulum and other datetime subclasses come back as plain datetimes.
    moment = datetime.fromisoformat(value if isinstance(value, str) else value.isoformat())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def run_key(as_of: datetime | str) -> str:
    """The storage key of a run: its logical date, so a rerun of the same date writes the same keys."""
    return as_utc(as_of).strftime("%Y-%m-%dT%H%M%SZ")
