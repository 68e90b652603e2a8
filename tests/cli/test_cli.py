import json

from retrainer.cli import main
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry


def test_generate_writes_one_partition_per_day(var_dir, capsys):
    assert main(["generate", "--end", "2026-11-15", "--days", "3", "--rows-per-day", "50"]) == 0
    assert "wrote 3 daily partitions" in capsys.readouterr().out
    assert sorted(p.parent.name for p in (var_dir / "source").rglob("*.parquet")) == [
        "date=2026-11-13",
        "date=2026-11-14",
        "date=2026-11-15",
    ]


def test_registry_list_and_show_give_versions_with_lineage(storage, capsys):
    registry = Registry(storage, "fraud-xgb")
    lineage = {
        "as_of": "2026-11-16T00:00:00+00:00",
        "data_hash": "abc.dir",
        "metrics": {"challenger": {"pr_auc": 0.5, "recall_at_fpr": 0.6}},
    }
    registry.register({"model.ubj": b"m"}, lineage, "key", actor="test")
    registry.set_alias(CHAMPION, 1, "alice", "first", expected=None)

    assert main(["registry", "list", "--json"]) == 0
    [version] = json.loads(capsys.readouterr().out)
    assert version["version"] == 1 and version["aliases"] == [CHAMPION] and version["data_hash"] == "abc.dir"

    assert main(["registry", "show", "champion"]) == 0
    assert capsys.readouterr().out.startswith("v1 champion")
    assert main(["registry", "audit"]) == 0
    assert "alias_moved champion -> v1 by alice: first" in capsys.readouterr().out


def test_errors_are_one_named_line_and_a_failing_exit_code(var_dir, capsys):
    assert main(["registry", "show", "7"]) == 1
    assert capsys.readouterr().err.strip() == "retrainer: error: VersionNotFound: fraud-xgb has no version 7"


def test_registry_verify_names_the_file_that_does_not_verify(storage, capsys):
    registry = Registry(storage, "fraud-xgb")
    lineage = {
        "as_of": "2026-11-16",
        "data_hash": "d",
        "metrics": {"challenger": {"pr_auc": 0.5, "recall_at_fpr": 0.6}},
    }
    record, _ = registry.register({"model.ubj": b"m", "dvc.lock": b"l"}, lineage, "key", actor="test")
    assert main(["registry", "verify"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "fraud-xgb: audit chain, version records, aliases and deployment record verified",
        "v1: 2 files verified",
    ]

    storage.put_bytes(record["files"]["model.ubj"]["key"], b"altered")
    assert main(["registry", "verify", "1"]) == 1
    captured = capsys.readouterr()
    assert "v1: 2 files NOT VERIFIED (model.ubj)" in captured.out
    assert "file 'model.ubj' (registry/fraud-xgb/objects/" in captured.err
    assert main(["registry", "show", "1"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("NOT VERIFIED (model.ubj)")
    assert main(["registry", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["verified"] is False and set(listed["verify_problems"]) == {"model.ubj"}


def test_registry_list_without_a_model_lists_every_model(var_dir, monkeypatch, capsys):
    monkeypatch.delenv("RETRAINER_MODEL")
    assert main(["registry", "list"]) == 0
    listed = "ato-xgb:\n(no version yet)\nfraud-xgb:\n(no version yet)\nraw-fraud-xgb:\n(no version yet)\n"
    assert capsys.readouterr().out == listed
    assert main(["registry", "list", "--model", "ato-xgb", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main(["quarantine", "list"]) == 1  # three models: which one?
    assert "3 models are configured (ato-xgb, fraud-xgb, raw-fraud-xgb" in capsys.readouterr().err
