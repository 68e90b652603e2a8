"""
### Models whose configuration is broken, shown as this file's DAG import error

The generated DAG files (`retrain_models.py`, `score_models.py`, `monitor_models.py`, `deploy_models.py`)
make the four DAGs of every healthy model only: a mistake in one model's `params.yaml` (or its suite) takes
that model's DAGs away and leaves every other model's running, its scoring included.

This file defines no DAG. While some model is broken, parsing it fails with one error that names each
broken model, its file, the key and the fix, so Airflow's "DAG Import Errors" banner shows them. Fix the
file named (`retrainer models check` says ok when it is right): the model's DAGs come back at the next
parse and this error goes away. With every model healthy the file raises nothing.
"""

from __future__ import annotations

from retrainer.core.models import BrokenModelsError, check_models  # yaml, json, pydantic: parse-time light
from retrainer.core.settings import Settings

_, _broken = check_models(Settings.from_env().project_dir)
if _broken:
    raise BrokenModelsError(_broken)
