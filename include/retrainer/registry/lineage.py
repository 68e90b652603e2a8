"""What produced a model: code revision and package versions, recorded with every registry version."""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = ("retrainer", "xgboost", "scikit-learn", "pandas", "numpy", "great-expectations", "dvc")


def git_revision(project_dir: Path) -> dict[str, str | bool | None]:
    """The commit of the project checkout and whether it had uncommitted changes.

    Images built without a .git directory pass the revision in RETRAINER_GIT_REVISION instead.
    """
    if revision := os.environ.get("RETRAINER_GIT_REVISION"):
        return {"commit": revision, "dirty": None, "source": "RETRAINER_GIT_REVISION"}
    try:
        commit = subprocess.run(
            ["git", "-C", str(project_dir), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(project_dir), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
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
