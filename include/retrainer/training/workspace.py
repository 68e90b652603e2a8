"""A DVC workspace per run: a working copy of the pipeline (`dvc.yaml` and the run's `params.yaml`) sharing
one DVC cache and remote, so concurrent runs never meet on DVC's repo lock and the developer's checkout
stays clean. DVC is driven through its CLI, in the workspace, with this interpreter's environment.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from retrainer.core.settings import Settings
from retrainer.core.timeouts import run_bounded, subprocess_seconds


class TrainingError(RuntimeError):
    """The DVC pipeline failed; the message carries the failing command and its output."""


def dvc(workspace: Path, *args: str, seconds: float) -> str:
    """Run DVC's CLI in the workspace with this interpreter's environment (so stage commands resolve).
    Past `seconds` (`timeouts.subprocess_minutes`) DVC and the stage it runs are killed and StageTimeout
    names the command, the stage and the workspace."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("DVC_SITE_CACHE_DIR", str(workspace / ".dvc-site-cache"))
    command = [sys.executable, "-m", "dvc", *args]
    shown = f"`dvc {' '.join(args)}` in {workspace}"
    done = run_bounded(
        command,
        seconds=seconds,
        what=shown,
        fix=f"if it needs longer, raise timeouts.subprocess_minutes (now {seconds / 60:g}) in the model's "
        "params.yaml, below its train task's limit",
        describe_hang=lambda pgid: _running_stage(pgid, shown),
        cwd=workspace,
        env=env,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise TrainingError(f"{shown} failed (exit {done.returncode}):\n{output}")
    return done.stdout


def _running_stage(pgid: int, shown: str) -> str | None:
    """`shown` with the DVC stage its process group is running (DVC sets DVC_STAGE in each stage's
    environment), or None when no stage is running (DVC itself hangs: a lock, the remote)."""
    import psutil

    stages = set()
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and (stage := process.environ().get("DVC_STAGE")):
                stages.add(stage)
        except (OSError, psutil.Error):
            continue
    return f"stage {', '.join(sorted(stages))} of {shown}" if stages else None


def prepare_workspace(settings: Settings, params: dict[str, Any], key: str) -> Path:
    """A fresh workspace: the pipeline file, this run's params, DVC wired to the shared cache and remote."""
    workspace = settings.work_dir / params["model"]["name"] / key
    if workspace.exists():
        shutil.rmtree(workspace)  # a rerun of the same logical date starts clean
    workspace.mkdir(parents=True)
    (workspace / "dvc.yaml").write_text(pipeline_for(settings, params["model"]))
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    seconds = subprocess_seconds(params)
    dvc(workspace, "init", "--no-scm", "--quiet", seconds=seconds)
    settings.dvc_cache_dir.mkdir(parents=True, exist_ok=True)
    dvc(workspace, "config", "cache.dir", str(settings.dvc_cache_dir.resolve()), seconds=seconds)
    dvc(workspace, "config", "cache.type", settings.dvc_cache_type, seconds=seconds)
    dvc(workspace, "remote", "add", "--default", "storage", settings.dvc_remote, seconds=seconds)
    endpoint = os.environ.get("RETRAINER_DVC_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and settings.dvc_remote.startswith("s3://"):
        dvc(workspace, "remote", "modify", "storage", "endpointurl", endpoint, seconds=seconds)
    return workspace


def pipeline_for(settings: Settings, model: dict[str, Any]) -> str:
    """The project's `dvc.yaml` with its model artifact named and described as this model, so DVC's own
    tools (`dvc artifacts`, Studio) see `fraud-xgb`, `ato-xgb`, ... rather than one generic name."""
    pipeline = yaml.safe_load((settings.project_dir / "dvc.yaml").read_text())
    (artifact,) = pipeline["artifacts"].values()
    described = {
        "desc": model.get("description") or artifact.get("desc", ""),
        "labels": model.get("tags") or [],
    }
    pipeline["artifacts"] = {model["name"]: {**artifact, **{k: v for k, v in described.items() if v}}}
    return yaml.safe_dump(pipeline, sort_keys=False)


def read_lock_hashes(lock_text: str) -> dict[str, str]:
    """{path: md5} of every dep and out recorded in a `dvc.lock`."""
    lock = yaml.safe_load(lock_text)
    hashes = {}
    for stage in lock.get("stages", {}).values():
        for entry in [*stage.get("deps", []), *stage.get("outs", [])]:
            if "md5" in entry:
                hashes[entry["path"]] = entry["md5"]
    return hashes
