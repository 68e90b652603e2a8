"""Kill -9 the retraining path at every task boundary and inside each task, rerun it, and get what an
uninterrupted run gets: one version, its champion alias, files that verify, the same model sha256.

The path runs as one process (`tests/tasks/chain.py`: the DAG's task entry points chained); the storage
fault hook (`retrainer.storage.faults`) SIGKILLs it right after a chosen write.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import date

import pytest

from retrainer.registry import integrity
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from tests import processes
from tests.conftest import PROJECT_DIR, generate_source

pytestmark = pytest.mark.e2e

AS_OF = "2026-11-16T00:00:00+00:00"
RUN = "2026-11-16T000000Z"
FIRST_RUN = {"extract_window_days": 56}
MODEL = "fraud-xgb"

# (where, the keys whose writes count, after which of them the process dies)
TASK_KILLS = [
    ("after extract", "batches/*/manifest.json", 1),
    ("inside validate: Data Docs half published", "data-docs/*", 3),
    ("after validate", "batches/*/validation.json", 1),
    ("inside train: publish half done", "runs/*", 5),
    ("after train", "runs/*/manifest.json", 1),
    ("inside evaluate: gates.json without its report", "runs/*/gates.json", 1),
    ("after evaluate", "runs/*/report.html", 1),
]
REGISTER_KILLS = [
    ("inside register: after the first object", "registry/*/objects/*", 1),
    ("inside register: run claimed, no version record", "registry/*/runs/*", 1),
    ("inside register: version record, no alias", "registry/*/versions/*", 1),
    ("inside register: version's audit event, no alias event", "registry/*/audit/*", 1),
    ("inside register: alias's audit event, alias not swapped", "registry/*/audit/*", 2),
    ("after register: alias swapped", "registry/*/aliases/*", 1),
]

# Along one path each kill finds what the ones before it wrote: the version's audit event survives its kill,
# so the alias's audit event is the next run's first audit write.
ALIAS_EVENT = "inside register: alias's audit event, alias not swapped"
ALONG_ONE_PATH = [(where, keys, 1 if where == ALIAS_EVENT else n) for where, keys, n in REGISTER_KILLS]


def _env(var, storage_root=None, kill: tuple[str, str, int] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETRAINER_", "AIRFLOW"))}
    env["RETRAINER_VAR_DIR"] = str(var)
    env["RETRAINER_MODEL"] = "fraud-xgb"  # two models are configured; the chain runs the fraud model
    if storage_root:
        env["RETRAINER_STORAGE_ROOT"] = storage_root
    if kill:
        env.update(RETRAINER_FAULT_KEYS=kill[1], RETRAINER_FAULT_AFTER_WRITES=str(kill[2]))
    return env


def _chain(var, kill=None):
    return processes.run(
        [sys.executable, "-m", "tests.tasks.chain", AS_OF, json.dumps(FIRST_RUN)],
        _env(var, kill=kill),
        cwd=PROJECT_DIR,
        timeout=900,
    )


def _register(var, storage_root, kill=None):
    manifest, gates = (
        f"{storage_root}/runs/{MODEL}/{RUN}/{name}" for name in ("manifest.json", "gates.json")
    )
    command = [sys.executable, "-m", "retrainer", "task", "register", "--uri", manifest, "--gates-uri", gates]
    return processes.run(command, _env(var, storage_root, kill), cwd=PROJECT_DIR, timeout=300)


def _model_sha256(storage) -> str:
    return Registry(storage, MODEL).get(CHAMPION)["files"]["model.ubj"]["sha256"]


def _assert_one_whole_version(storage, reference_sha256: str) -> None:
    registry = Registry(storage, MODEL)
    assert [r["version"] for r in registry.versions()] == [1]
    assert registry.alias(CHAMPION)["version"] == 1
    assert registry.verify(1) == {}
    assert _model_sha256(storage) == reference_sha256
    log = [(e["event"], e["version"]) for e in registry.audit_log()]
    assert log == [("version_registered", 1), ("alias_moved", 1)]
    assert integrity.check(registry).problems == []  # a crash leaves nothing `registry verify` calls tampered


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: its var directory and the sha256 of the model it registered."""
    var = tmp_path_factory.mktemp("reference") / "var"
    generate_source(open_storage(var / "source"), days=70, last_day=date(2026, 11, 15))
    done = _chain(var)
    assert done.returncode == 0, done.stderr[-3000:]
    storage = open_storage(var / "storage")
    return {"var": var, "sha256": _model_sha256(storage)}


def test_a_path_killed_at_every_task_boundary_and_inside_each_task_converges_on_rerun(reference, tmp_path):
    var = tmp_path / "var"
    shutil.copytree(reference["var"] / "source", var / "source")
    for kill in TASK_KILLS + ALONG_ONE_PATH:
        done = _chain(var, kill)
        assert done.returncode == -9, (
            f"{kill[0]}: expected SIGKILL, got {done.returncode}\n{done.stderr[-2000:]}"
        )
    done = _chain(var)  # and once more, with nothing killed
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"] == 1 and result["aliases"] == [CHAMPION]
    storage = open_storage(var / "storage")
    _assert_one_whole_version(storage, reference["sha256"])
    # the event written before the kill that hit ahead of the alias swap is not in the log
    assert len(Registry(storage, MODEL).orphan_events()) == 1


@pytest.mark.parametrize("kill", REGISTER_KILLS, ids=[k[0] for k in REGISTER_KILLS])
def test_register_killed_mid_task_and_retried_finishes_the_version(reference, tmp_path, kill):
    """The register task alone, killed then retried (as Airflow retries a task), on a copy of the reference
    storage root without its registry: a root copied elsewhere reads back."""
    root = tmp_path / "storage"
    shutil.copytree(reference["var"] / "storage", root, ignore=shutil.ignore_patterns("registry"))
    storage_root = root.as_uri()
    killed = _register(tmp_path / "var", storage_root, kill)
    assert killed.returncode == -9, f"expected SIGKILL, got {killed.returncode}\n{killed.stderr[-2000:]}"
    retried = _register(tmp_path / "var", storage_root)
    assert retried.returncode == 0, retried.stderr[-3000:]
    result = json.loads(retried.stdout)
    assert result["version"] == 1 and result["aliases"] == [CHAMPION]
    _assert_one_whole_version(open_storage(root), reference["sha256"])
