"""Where things live: the project, the storage root, the source, DVC's cache and remote, from the environment.

Deployment differences are environment variables, never code edits: the embedded default keeps everything
under `var/` in the project; pointing `RETRAINER_STORAGE_ROOT` at `s3://bucket/prefix` moves it to S3.
`RETRAINER_MODEL` names the model a command works on when it is not given (`--model`) and more than one
model is configured under `models/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    storage_root: str
    source_root: str
    dvc_remote: str
    dvc_cache_dir: Path
    work_dir: Path
    model: str | None = None
    # How a run's workspace files are linked to the DVC cache. A hard link first: `dvc add` and each
    # stage's outputs enter the cache as links, not copies, so the cache is not a second full copy of the
    # window (DVC makes both read-only). `copy` when the cache is on another filesystem.
    dvc_cache_type: str = "hardlink,copy"

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
            model=env.get("RETRAINER_MODEL") or None,
            dvc_cache_type=env.get("RETRAINER_DVC_CACHE_TYPE", cls.dvc_cache_type),
        )

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"

    def suite_path(self, params: dict) -> Path:
        """The expectation suite a model's params name (`data.suite`)."""
        return self.expectations_dir / f"{params['data']['suite']}.json"

    def model_source_root(self, params: dict) -> str:
        """The root of a model's daily partitions: the source root, or its `source.prefix` under it."""
        prefix = (params.get("source") or {}).get("prefix", "").strip("/")
        return f"{self.source_root.rstrip('/')}/{prefix}" if prefix else self.source_root
