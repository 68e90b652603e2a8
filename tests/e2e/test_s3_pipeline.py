"""The same task functions with storage, source and DVC remote on S3 (moto_server on 127.0.0.1):
only configuration changes, the code path is the one the local default takes."""

from datetime import date

import boto3
import pytest

from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import S3Storage, open_storage
from retrainer.tasks import retrain as tasks
from tests.conftest import generate_source, week

pytestmark = pytest.mark.e2e


def test_retraining_on_s3_registers_a_champion_and_pushes_to_the_s3_remote(s3_env, var_dir, monkeypatch):
    bucket = s3_env
    monkeypatch.setenv("RETRAINER_STORAGE_ROOT", f"s3://{bucket}/storage")
    monkeypatch.setenv("RETRAINER_SOURCE_ROOT", f"s3://{bucket}/source")
    monkeypatch.setenv("RETRAINER_DVC_REMOTE", f"s3://{bucket}/dvcstore")
    generate_source(open_storage(f"s3://{bucket}/source"), days=70, last_day=date(2026, 11, 15))

    batch = tasks.extract(tasks.Run(*week("2026-11-16T00:00:00+00:00")), {"extract_window_days": 56})
    assert batch["batch_uri"].startswith(f"s3://{bucket}/storage/batches/")
    tasks.validate(batch["manifest_uri"])
    trained = tasks.train(tasks.Run(*week("2026-11-16T00:00:00+00:00")))
    evaluated = tasks.evaluate(trained["run_manifest_uri"])
    registered = tasks.register(trained["run_manifest_uri"], evaluated["gates_uri"], "manual__s3")

    assert registered["version"] == 1 and registered["aliases"] == [CHAMPION]
    storage = open_storage(f"s3://{bucket}/storage")
    assert isinstance(storage, S3Storage)
    assert Registry(storage, "fraud-xgb").read_file(CHAMPION, "model.ubj")  # checksum-verified read from S3
    pushed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="dvcstore/")["KeyCount"]
    assert pushed >= 5  # the dvc-added batches and the pipeline's outputs
    assert not (var_dir / "storage").exists()  # nothing fell back to the local default
