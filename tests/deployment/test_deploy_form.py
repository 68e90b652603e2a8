"""The deploy form's moves by hand: a version that is missing or unknown is refused at once, as a verdict
that names the registered versions and what is deployed, and nothing moves (issue 27)."""

import pytest

from retrainer.core.errors import Rejected
from retrainer.deployment import actions
from retrainer.deployment.actions import UnknownVersion, VersionRequired, run_action
from retrainer.deployment.state import read
from retrainer.registry.store import Registry
from tests.deploy_helpers import three_versions


@pytest.fixture
def registry(storage, params):
    registry = three_versions(storage, params)
    actions.start_canary(registry, 2, "bob", "canary of v2", params)
    return registry


@pytest.mark.parametrize("action", actions.NEEDS_VERSION)
def test_a_move_without_a_version_is_a_verdict_naming_what_to_choose(registry, params, action):
    before = read(registry)[0]
    with pytest.raises(VersionRequired) as refused:
        run_action(registry, action, None, "alice", "by hand", params)
    print(refused.value)
    assert isinstance(refused.value, Rejected)  # the DAG's retry policy fails a Rejected at once
    message = str(refused.value)
    assert "v1, v2, v3" in message and f"canary v2 at {before['share']} %" in message
    assert read(registry)[0]["revision"] == before["revision"]  # nothing moved


def test_an_unknown_version_is_refused_naming_the_registered_ones(registry, params):
    before = read(registry)[0]
    with pytest.raises(UnknownVersion) as refused:
        run_action(registry, "promote", 9, "alice", "by hand", params)
    assert isinstance(refused.value, Rejected)
    assert "no version 9" in str(refused.value) and "v1, v2, v3" in str(refused.value)
    assert read(registry)[0]["revision"] == before["revision"]


def test_a_known_version_still_moves(registry, params):
    state = run_action(registry, "promote", 3, "alice", "by hand", params)
    assert state["champion"] == 3 and state["mode"] == "champion"


def test_the_deploy_task_fails_at_once_on_a_missing_version(storage, params, dagbag_deploy):
    """Through the DAG's retry policy: the verdict is not retried (it was retried twice before)."""
    from airflow.sdk import RetryAction

    registry = Registry(storage, "fraud-xgb")
    three_versions(storage, params)
    with pytest.raises(VersionRequired) as refused:
        run_action(registry, "promote", None, "alice", "by hand", params)
    task = dagbag_deploy.task_dict["deploy"]
    assert task.retry_policy.evaluate(refused.value, 1, 3).action == RetryAction.FAIL


@pytest.fixture(scope="module")
def dagbag_deploy():
    import importlib.util

    from retrainer.core.models import load_model
    from tests.conftest import PROJECT_DIR

    spec = importlib.util.spec_from_file_location(
        "deploy_models_under_test", PROJECT_DIR / "dags/deploy_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.deploy_dag("fraud-xgb", load_model(PROJECT_DIR, "fraud-xgb"))
