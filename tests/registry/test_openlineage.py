"""The lineage a lineage tool shows (issue 22, item 4): a retraining names the validated batches it trained
on (their sha256 as version) and the version it registered; a scored day names the source day, the
champion (and challenger) that scored it, and the scores written, under OpenLineage's naming of files
and S3 objects."""

from __future__ import annotations

from retrainer.core import layout
from retrainer.deployment import actions
from retrainer.registry.openlineage import dataset, retraining
from retrainer.registry.store import Registry
from retrainer.storage import open_storage
from retrainer.tasks import score
from tests.deploy_helpers import champion_and_challenger, write_days

MODEL = "fraud-xgb"


def test_files_and_s3_objects_are_named_as_openlineage_names_them():
    local = dataset("file:///srv/retrainer/batches/b.parquet", "abc")
    assert (local["namespace"], local["name"], local["version"]) == (
        "file",
        "/srv/retrainer/batches/b.parquet",
        "abc",
    )
    remote = dataset("s3://lake/retrainer/registry/fraud-xgb/versions/000003.json", 3)
    assert (remote["namespace"], remote["name"], remote["version"]) == (
        "s3://lake",
        "retrainer/registry/fraud-xgb/versions/000003.json",
        "3",
    )


def test_a_retraining_names_each_batch_it_trained_on_and_the_version_it_registered(tmp_path):
    storage = open_storage(f"file://{tmp_path}/storage")
    batches = [
        {"run_key": "2026-11-09T000000Z", "sha256": "a" * 64, "manifest_uri": "ignored"},
        {"run_key": "2026-11-16T000000Z", "sha256": "b" * 64, "manifest_uri": "ignored"},
    ]
    lineage = retraining(storage, MODEL, batches, 7)
    assert [d["name"] for d in lineage["inputs"]] == [
        f"{tmp_path}/storage/{layout.batch_file_key(MODEL, b['run_key'])}" for b in batches
    ]
    assert [d["version"] for d in lineage["inputs"]] == ["a" * 64, "b" * 64]
    (version,) = lineage["outputs"]
    assert version["version"] == "7" and version["uri"] == storage.uri(layout.registry_version_key(MODEL, 7))


def test_a_scored_day_names_the_source_day_the_deployed_versions_and_its_scores(storage, source, params):
    registry = Registry(storage, MODEL)
    champion, challenger = champion_and_challenger(registry, params)
    write_days(source, 2)
    actions.start_shadow(registry, challenger, "alice", "watch it")
    summary = score.score("2026-11-02T04:00:00+00:00", model=MODEL)
    lineage = summary["lineage"]
    print(f"\nscoring lineage: {lineage}")
    day, versions = "2026-11-01", [d for d in lineage["inputs"] if "model_version" in d]
    assert [(d["role"], d["model_version"]) for d in versions] == [
        ("champion", champion),
        ("challenger", challenger),
    ]
    (rows,) = [d for d in lineage["inputs"] if "model_version" not in d]
    assert rows["version"] == day and rows["uri"].startswith(source.root_uri.rstrip("/"))
    (scores,) = lineage["outputs"]
    assert scores["uri"] == summary["scores_uri"] and scores["version"] == day
