"""Train through DVC in a per-run workspace, then publish the run's artifacts under the storage root.

Each run gets its own working copy of the pipeline (`dvc.yaml` and its `params.yaml`) sharing one DVC cache
and remote, so concurrent runs never meet on DVC's repo lock and the developer's checkout stays clean.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from retrainer.config import Settings, as_utc, run_key
from retrainer.extract import BATCH_FILE
from retrainer.storage import Storage, sha256_file
from retrainer.validate import validated_manifests

BATCHES_DIR = "data/batches"
# What a run publishes from its workspace: what evaluation, registration and people need later.
PUBLISHED = (
    "dvc.yaml",
    "dvc.lock",
    "params.yaml",
    f"{BATCHES_DIR}.dvc",
    "models/model.ubj",
    "models/baseline.json",
    "reports/metrics.json",
    "reports/prepare.json",
    "reports/pr_curve.csv",
    "reports/cost_curve.csv",
    "data/prepared/valid.parquet",  # to choose a threshold for a champion registered without one
    "data/prepared/holdout.parquet",
)
RUN_MANIFEST = "manifest.json"


class TrainingError(RuntimeError):
    """The DVC pipeline failed; the message carries the failing command and its output."""


def run_prefix(model: str, key: str) -> str:
    return f"runs/{model}/{key}"


def validated_batches(storage: Storage, model: str, as_of: datetime | str, days: int) -> list[dict]:
    """Manifests of the validated batches whose windows end within the `days` before `as_of` (a batch
    of a later logical date is never read: it did not exist yet)."""
    end = as_utc(as_of)
    start = end - timedelta(days=days)
    return [
        m
        for m in validated_manifests(storage, model)
        if start < as_utc(m["window_end"]) <= end and as_utc(m["window_start"]) < end
    ]


def dvc(workspace: Path, *args: str) -> str:
    """Run DVC's CLI in the workspace with this interpreter's environment (so stage commands resolve)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("DVC_SITE_CACHE_DIR", str(workspace / ".dvc-site-cache"))
    command = [sys.executable, "-m", "dvc", *args]
    done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise TrainingError(
            f"`dvc {' '.join(args)}` failed in {workspace} (exit {done.returncode}):\n{output}"
        )
    return done.stdout


def prepare_workspace(settings: Settings, params: dict[str, Any], key: str) -> Path:
    """A fresh workspace: the pipeline file, this run's params, DVC wired to the shared cache and remote."""
    workspace = settings.work_dir / params["model"]["name"] / key
    if workspace.exists():
        shutil.rmtree(workspace)  # a rerun of the same logical date starts clean
    workspace.mkdir(parents=True)
    shutil.copy2(settings.project_dir / "dvc.yaml", workspace / "dvc.yaml")
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(workspace, "init", "--no-scm", "--quiet")
    settings.dvc_cache_dir.mkdir(parents=True, exist_ok=True)
    dvc(workspace, "config", "cache.dir", str(settings.dvc_cache_dir.resolve()))
    dvc(workspace, "remote", "add", "--default", "storage", settings.dvc_remote)
    endpoint = os.environ.get("RETRAINER_DVC_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and settings.dvc_remote.startswith("s3://"):
        dvc(workspace, "remote", "modify", "storage", "endpointurl", endpoint)
    return workspace


def read_lock_hashes(lock_text: str) -> dict[str, str]:
    """{path: md5} of every dep and out recorded in a `dvc.lock`."""
    lock = yaml.safe_load(lock_text)
    hashes = {}
    for stage in lock.get("stages", {}).values():
        for entry in [*stage.get("deps", []), *stage.get("outs", [])]:
            if "md5" in entry:
                hashes[entry["path"]] = entry["md5"]
    return hashes


def train_run(settings: Settings, storage: Storage, params: dict[str, Any], as_of: datetime | str) -> dict:
    """Run the DVC pipeline on the validated batches of the training window and publish the results.

    Returns the run manifest: the URIs and sha256 of every published file, the data hash from `dvc.lock`
    and the metrics, small enough for XCom.
    """
    model = params["model"]["name"]
    key = run_key(as_of)
    days = params["data"]["training_window_days"]
    batches = validated_batches(storage, model, as_of, days)
    if not batches:
        raise TrainingError(f"no validated batches of {model} in the {days} days before {key}")
    params = {**params, "run": {**params.get("run", {}), "as_of": as_utc(as_of).isoformat()}}
    workspace = prepare_workspace(settings, params, key)
    for manifest in batches:
        source_key = f"batches/{model}/{manifest['run_key']}/{BATCH_FILE}"
        storage.download(source_key, workspace / BATCHES_DIR / f"{manifest['run_key']}.parquet")
    dvc(workspace, "add", "--quiet", BATCHES_DIR)
    dvc(workspace, "repro", "--quiet")
    dvc(workspace, "push", "--quiet")

    prefix = run_prefix(model, key)
    files = {}
    for name in PUBLISHED:
        path = workspace / name
        files[name] = {"uri": storage.put_file(f"{prefix}/{name}", path), "sha256": sha256_file(path)}
    lock_hashes = read_lock_hashes((workspace / "dvc.lock").read_text())
    manifest = {
        "model": model,
        "run_key": key,
        "as_of": params["run"]["as_of"],
        "workspace": str(workspace),
        "batches": [m["manifest_uri"] for m in batches],
        "data_hash": lock_hashes[BATCHES_DIR],
        "files": files,
        "metrics": json.loads((workspace / "reports/metrics.json").read_text()),
        "prepare": json.loads((workspace / "reports/prepare.json").read_text()),
    }
    manifest["manifest_uri"] = storage.put_text(f"{prefix}/{RUN_MANIFEST}", json.dumps(manifest, indent=2))
    return manifest
