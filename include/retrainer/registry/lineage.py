"""What produced a model: code revision, package versions and feature definitions, recorded with every
registry version."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

from retrainer.core import feature_declarations
from retrainer.core.timeouts import run_bounded

# git answers in milliseconds; past this it hangs (a network file system, a lock): StageTimeout.
GIT_SECONDS = 60.0
TRACKED_PACKAGES = ("retrainer", "xgboost", "scikit-learn", "pandas", "numpy", "great-expectations", "dvc")


def git_revision(project_dir: Path) -> dict[str, str | bool | None]:
    """The commit of the project checkout and whether it had uncommitted changes.

    Images built without a .git directory pass the revision in RETRAINER_GIT_REVISION instead.
    """
    if revision := os.environ.get("RETRAINER_GIT_REVISION"):
        return {"commit": revision, "dirty": None, "source": "RETRAINER_GIT_REVISION"}

    def git(*args: str) -> str:
        done = run_bounded(
            ["git", "-C", str(project_dir), *args],
            seconds=GIT_SECONDS,
            what=f"`git {' '.join(args)}` in {project_dir}",
            fix="set RETRAINER_GIT_REVISION to the commit: git is then not asked",
        )
        if done.returncode != 0:
            raise OSError(done.stderr.strip())
        return done.stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return {"commit": None, "dirty": None, "source": "unavailable"}
    return {"commit": commit, "dirty": bool(status.strip()), "source": "git"}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def training_choices(run: dict) -> dict[str, Any]:
    """How the challenger's hyper-parameters and rows were chosen, from its run manifest: the search
    (`tuning`: the seed, budgets, every trial's score and values, the chosen values; `{"enabled": False}`
    when off) and the class imbalance handling (`imbalance`: scale_pos_weight used, the down-sampling's
    rate, weight and counts). None for either when the run was published before they were recorded."""
    fit = run.get("fit") or {}
    return {"tuning": run.get("tuning"), "imbalance": fit.get("imbalance")}


def feature_definitions(params: dict[str, Any]) -> dict[str, Any]:
    """The derived features a version was trained with, from its run's params: the definitions (the
    `features.derived` section without the engine's settings), their sha256 (`definitions_hash`: a changed
    definition is a changed hash) and the output columns they make. A model declaring none records empty
    definitions, the hash of those, and no column."""
    return {
        "definitions": feature_declarations.definitions(params),
        "definitions_hash": feature_declarations.definitions_hash(params),
        "derived": feature_declarations.derived_feature_names(params),
    }
