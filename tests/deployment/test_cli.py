from retrainer.cli import main
from retrainer.deployment.state import read
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from tests.deploy_helpers import register


def test_deploy_commands_move_the_record_and_status_shows_it(storage, params, capsys):
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"one", alias=CHAMPION)
    register(registry, params, b"two")
    assert main(["deploy", "canary", "2", "--reason", "try it", "--by", "alice"]) == 0
    assert main(["deploy", "status"]) == 0
    out = capsys.readouterr().out
    assert "canary mode, champion v1 challenger v2 at 5%" in out and "canary_started by alice: try it" in out
    assert (
        main(["deploy", "rollback", "--model", "fraud-xgb", "--reason", "alerts doubled", "--by", "bob"]) == 0
    )
    assert read(registry)[0]["mode"] == "champion"
    assert main(["deploy", "rollback", "--reason", "again"]) == 1  # nothing to roll back to
    assert "InvalidMove" in capsys.readouterr().err
    rolled = [e for e in registry.audit_log() if e["event"] == "deployment_rolled_back"]
    assert [(e["actor"], e["reason"], e["version"]) for e in rolled] == [("bob", "alerts doubled", 2)]
