from concurrent.futures import ThreadPoolExecutor

import pytest

from retrainer.core.errors import Rejected
from retrainer.deployment.approval import (
    APPROVE,
    CANARY,
    OPTIONS,
    REJECT,
    SHADOW_FIRST,
    AlreadyDecided,
    decide,
    decided,
    needs_approval,
    summary_markdown,
)
from retrainer.deployment.state import read
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry
from tests.deploy_helpers import register

ALICE = {"id": "alice", "name": "alice"}


@pytest.fixture
def registry(storage, params):
    registry = Registry(storage, "fraud-xgb")
    register(registry, params, b"champion", alias=CHAMPION)
    register(registry, params, b"challenger", alias=CHALLENGER)
    return registry


def _registered(version=2, aliases=(CHALLENGER,), created=True):
    return {"version": version, "aliases": list(aliases), "created": created}


def _answer(option, user=ALICE):
    return {
        "chosen_options": [option],
        "responded_by_user": user,
        "responded_at": "2026-11-23T10:00:00+00:00",
    }


def test_only_an_undecided_challenger_waits_for_a_person():
    assert needs_approval(_registered(), "required")
    assert not needs_approval(_registered(), "auto")
    assert not needs_approval(_registered(1, [CHAMPION]), "required")  # the first model
    assert not needs_approval(_registered(2, []), "required")  # older than the challenger of the moment
    assert not needs_approval(_registered(), "required", settled=True)  # a rerun of a decided version
    assert needs_approval(_registered(created=False), "required")  # register retried: still asked
    assert not needs_approval(None, "required")
    with pytest.raises(ValueError):
        needs_approval(_registered(), "maybe")


@pytest.mark.parametrize(
    ("option", "mode", "champion", "share"),
    [(APPROVE, "champion", 2, 0), (SHADOW_FIRST, "shadow", 1, 0), (CANARY, "canary", 1, 5)],
)
def test_each_answer_moves_the_deployment_and_is_audited(registry, params, option, mode, champion, share):
    done = decide(registry, _registered(), _answer(option), "required", params)
    state, _ = read(registry)
    assert (state["mode"], state["champion"], state["share"]) == (mode, champion, share)
    answered = [e for e in registry.audit_log() if e["event"] == "approval_answered"]
    assert [(e["actor"], e["option"], e["version"]) for e in answered] == [("alice", option, 2)]
    assert done["by"] == "alice"
    # the decide task retried after its move: nothing moves twice
    decide(registry, _registered(), _answer(option), "required", params)
    assert read(registry)[0]["revision"] == state["revision"]


def test_a_decided_version_is_not_decided_again_but_a_retried_register_is_asked(registry, params):
    assert not decided(registry, 2)
    decide(registry, _registered(created=False), _answer(SHADOW_FIRST), "required", params)
    assert decided(registry, 2)
    again = decide(registry, _registered(created=False), None, "required", params)  # a rerun asks nothing
    assert again["decision"] == "none" and "decided before" in again["why"]
    auto = decide(registry, _registered(), None, "auto", params)  # nor does auto-approval move it again
    assert auto["decision"] == "none" and read(registry)[0]["mode"] == "shadow"


def test_reject_and_time_out_never_promote_and_say_why(registry, params):
    assert decide(registry, _registered(), _answer(REJECT), "required", params)["decision"] == "rejected"
    timed_out = decide(registry, _registered(), _answer(REJECT, user=None), "required", params)
    assert timed_out["decision"] == "timed out"
    state, _ = read(registry)
    assert (state["champion"], state["revision"]) == (1, 0)
    assert registry.alias(CHAMPION)["version"] == 1
    events = {e["event"]: e for e in registry.audit_log()}
    assert events["approval_answered"]["option"] == REJECT
    assert "nobody answered within" in events["approval_timed_out"]["reason"]


def test_auto_approval_takes_the_configured_choice_and_the_first_model_needs_none(registry, params):
    assert decide(registry, _registered(1, [CHAMPION]), None, "required", params)["decision"] == "champion"
    done = decide(registry, _registered(), None, "auto", params)
    assert done["decision"] == params["deployment"]["auto_choice"] == CANARY
    assert read(registry)[0]["set_by"] == "auto-approval"


def test_the_form_body_summarises_the_gate_report(registry):
    body = summary_markdown(registry, 2)
    assert "pr_auc** 0.6100 vs champion v1 0.5800" in body and "[-0.0100, +0.0700]" in body
    assert "saves 1,234.50" in body
    assert "worst slice**: region=latam" in body
    assert "/registry/versions/2/report.html" in body
    assert OPTIONS == ("Approve", "Reject", "Shadow first", "Canary")


def _answers(registry, event):
    return [(e["actor"], e["option"]) for e in registry.audit_log() if e["event"] == event]


def test_a_second_answer_is_refused_named_and_audited_and_nothing_moves(registry, params):
    """Canary, then a Reject to the same form: the Reject is refused (naming the first answer, who and
    when) and audited as refused; the canary keeps running, as the audit log says."""
    decide(registry, _registered(), _answer(CANARY), "required", params)
    state, _ = read(registry)
    bob = {"id": "bob", "name": "bob"}
    with pytest.raises(AlreadyDecided, match=r"answered 'Canary' by alice at 20") as refused:
        decide(registry, _registered(), _answer(REJECT, user=bob), "required", params)
    assert isinstance(refused.value, Rejected)  # a verdict: the decide task is not retried
    assert read(registry)[0] == state
    assert _answers(registry, "approval_answered") == [("alice", CANARY)]
    assert _answers(registry, "approval_refused") == [("bob", REJECT)]


@pytest.mark.parametrize("later", [APPROVE, CANARY, SHADOW_FIRST])
def test_a_reject_is_final_for_its_version(registry, params, later):
    decide(registry, _registered(), _answer(REJECT), "required", params)
    with pytest.raises(AlreadyDecided, match="answered 'Reject' by alice"):
        decide(registry, _registered(), _answer(later), "required", params)
    state, _ = read(registry)
    assert (state["mode"], state["champion"], state["challenger"]) == ("champion", 1, None)
    assert state["revision"] == 0
    assert registry.alias(CHAMPION)["version"] == 1
    assert _answers(registry, "approval_refused") == [("alice", later)]


def test_a_time_out_is_final_too(registry, params):
    decide(registry, _registered(), _answer(REJECT, user=None), "required", params)
    with pytest.raises(AlreadyDecided, match="answered 'Reject' by airflow"):
        decide(registry, _registered(), _answer(APPROVE), "required", params)
    assert registry.alias(CHAMPION)["version"] == 1


@pytest.fixture
def registry_on_s3(s3_env, params):
    from retrainer.storage import open_storage

    registry = Registry(open_storage(f"s3://{s3_env}/approvals"), "fraud-xgb")
    register(registry, params, b"champion", alias=CHAMPION)
    register(registry, params, b"challenger", alias=CHALLENGER)
    return registry


@pytest.mark.parametrize("root", ["local", "s3"])
def test_of_answers_given_at_once_exactly_one_stands(root, request, params):
    registry = request.getfixturevalue("registry" if root == "local" else "registry_on_s3")
    users = [{"id": f"user{i}", "name": f"user{i}"} for i in range(6)]
    options = [REJECT, APPROVE] * 3

    def answer(i):
        try:
            return decide(registry, _registered(), _answer(options[i], user=users[i]), "required", params)
        except AlreadyDecided:
            return None

    with ThreadPoolExecutor(6) as pool:
        done = [d for d in pool.map(answer, range(6)) if d is not None]
    assert len(done) == 1
    assert len(_answers(registry, "approval_answered")) == 1
    assert len(_answers(registry, "approval_refused")) == 5
    assert (read(registry)[0]["champion"] == 2) == (done[0]["decision"] == APPROVE)
