"""Every move names the revision it was decided on: the CLI's `--expect-revision`, the deploy DAG's
`expected_revision` Param and the scoring run's automatic moves; a stale one is refused with
DeploymentMoved naming both revisions."""

from __future__ import annotations

import contextlib
import io
import multiprocessing

import pytest

from retrainer.cli import main
from retrainer.deployment import actions
from retrainer.deployment.state import DeploymentMoved, read
from retrainer.deployment.verdicts import ROLLBACK
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from tests.deploy_helpers import register, three_versions

MODEL = "fraud-xgb"
ROUNDS = 20


@pytest.fixture
def registry(storage, params):
    return three_versions(storage, params, MODEL)


def _cli(argv: list[str], barrier, results) -> None:
    """One `retrainer` command in a process of its own; puts (argv, exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        barrier.wait()
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse refusing a flag
            code = exit_.code
    results.put((argv[1], code, err.getvalue()))


def _race(commands: list[list[str]]) -> list[tuple[str, int, str]]:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(len(commands)), ctx.Queue()
    workers = [ctx.Process(target=_cli, args=(argv, barrier, results)) for argv in commands]
    for worker in workers:
        worker.start()
    try:
        return [results.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()


def _moves_from(registry: Registry, revision: int) -> list[dict]:
    return [e for e in registry.audit_log() if e.get("from_revision") == revision]


def _one_applied(registry: Registry, revision: int, outcome: list[tuple[str, int, str]]) -> str:
    """Exactly one command applied (exit 0, one move from `revision`), the others were refused naming both
    revisions; returns the winner's action."""
    won = [action for action, code, _ in outcome if code == 0]
    refused = [err for _, code, err in outcome if code != 0]
    assert len(won) == 1, f"from revision {revision}: {outcome}"
    assert all("DeploymentMoved" in err and f"revision {revision}" in err for err in refused), outcome
    assert all(f"revision {revision + 1}" in err for err in refused), outcome
    assert len(_moves_from(registry, revision)) == 1
    state = read(registry)[0]
    assert state["revision"] == revision + 1
    assert registry.alias(CHAMPION)["version"] == state["champion"]
    return won[0]


def _move(action: str, revision: int, *version: str) -> list[str]:
    return [
        "deploy",
        action,
        *version,
        "--model",
        MODEL,
        "--reason",
        "race",
        "--expect-revision",
        str(revision),
    ]


def test_rollback_against_ramp_from_one_revision_applies_exactly_one(registry, params):
    winners = []
    for _ in range(ROUNDS):
        actions.start_canary(registry, 2, "setup", "next round", params)
        revision = read(registry)[0]["revision"]
        outcome = _race([_move("rollback", revision), _move("ramp", revision)])
        winners.append(_one_applied(registry, revision, outcome))
        if read(registry)[0]["mode"] == "canary":
            actions.rollback(registry, "setup", "end of round")
    print("winners:", winners)


def test_promote_against_canary_from_one_revision_applies_exactly_one(registry, params):
    winners = []
    for _ in range(ROUNDS):
        revision = read(registry)[0]["revision"]
        outcome = _race([_move("promote", revision, "2"), _move("canary", revision, "3")])
        winners.append(_one_applied(registry, revision, outcome))
        state = read(registry)[0]
        if state["mode"] == "canary":
            actions.rollback(registry, "setup", "end of round")
        else:
            actions.promote(registry, 1, "setup", "end of round")
    print("winners:", winners)


def test_a_stale_expected_revision_names_both_and_changes_nothing(registry, capsys):
    assert main(_move("shadow", 0, "2")) == 0
    assert main(_move("promote", 0, "3")) == 1
    err = capsys.readouterr().err
    assert "DeploymentMoved" in err and "revision 0" in err and "revision 1" in err
    state = read(registry)[0]
    assert (state["mode"], state["champion"], state["revision"]) == ("shadow", 1, 1)
    assert main(["deploy", "status", "--model", MODEL]) == 0
    assert "--expect-revision 1" in capsys.readouterr().out


def test_without_an_expected_revision_the_cli_moves_the_current_state_and_says_so(registry, capsys):
    assert main(["deploy", "shadow", "2", "--model", MODEL, "--reason", "watch"]) == 0
    assert main(["deploy", "promote", "3", "--model", MODEL, "--reason", "decided later"]) == 0
    assert read(registry)[0]["champion"] == 3
    with pytest.raises(SystemExit):
        main(["deploy", "promote", "--help"])
    assert "Without it the move applies to the deployment as it is when read" in " ".join(
        capsys.readouterr().out.split()
    )


def _report(day: str, revision: int, challenger: int) -> dict:
    """A scored day's report whose challenger breached its alert-rate bound."""
    return {
        "day": day,
        "deployment_revision": revision,
        "challenger": challenger,
        "alert_rate_ratio": 9.0,
        "challenger_alert_rate": 0.9,
        "champion_alert_rate": 0.1,
    }


def test_the_scoring_runs_verdict_is_refused_when_the_deployment_moved_since_the_day_was_scored(
    registry, params
):
    actions.start_canary(registry, 2, "alice", "try it", params)
    scored = read(registry)[0]["revision"]
    actions.ramp(registry, "bob", "looks fine to me", params)  # a move by hand while the day is scored
    with pytest.raises(DeploymentMoved) as refused:
        actions.after_scored_day(registry, [_report("2026-11-10", scored, 2)], params, scored)
    assert (refused.value.revision, refused.value.found) == (scored, scored + 1)
    state = read(registry)[0]
    assert (state["mode"], state["revision"]) == ("canary", scored + 1)  # bob's ramp stands
    assert [e["found_revision"] for e in registry.audit_log() if e["event"] == "deployment_move_refused"] == [
        scored + 1
    ]

    # scored under the revision that stands: the breach rolls the canary back
    found, state = actions.after_scored_day(
        registry, [_report("2026-11-11", scored + 1, 2)], params, scored + 1
    )
    assert found.action == ROLLBACK and state["mode"] == "champion" and state["revision"] == scored + 2


def test_the_deploy_dag_offers_the_expected_revision_and_passes_it(registry, params):
    from pathlib import Path

    from retrainer.tasks.deploy import deploy

    dag_text = (Path(__file__).parents[2] / "dags" / "deploy_models.py").read_text()
    assert '"expected_revision": Param(' in dag_text
    deploy({"action": "shadow", "version": 2, "reason": "watch", "expected_revision": 0}, "alice", MODEL)
    with pytest.raises(DeploymentMoved):
        deploy({"action": "promote", "version": 3, "reason": "stale", "expected_revision": 0}, "bob", MODEL)
    assert read(registry)[0]["champion"] == 1


def _move_once(root: str, action: str, version: int | None, revision: int, barrier, results) -> None:
    """One move from `revision` in a process of its own: puts (action, "applied" or the error's name)."""
    from retrainer.core.models import load_model
    from retrainer.storage import open_storage
    from tests.conftest import PROJECT_DIR

    registry = Registry(open_storage(root), MODEL)
    params = load_model(PROJECT_DIR, MODEL)
    barrier.wait()
    try:
        actions.run_action(registry, action, version, action, "race", params, revision)
        results.put((action, "applied"))
    except Exception as error:
        results.put((action, type(error).__name__))


def test_on_s3_raced_moves_from_one_revision_apply_exactly_one(s3_env, params):
    from retrainer.storage import open_storage

    root = f"s3://{s3_env}/root"
    registry = Registry(open_storage(root), MODEL)
    for n in range(3):
        register(registry, params, f"model {n}".encode(), alias=CHAMPION if n == 0 else None)
    ctx = multiprocessing.get_context("fork")
    for round_ in range(10):
        if round_ % 2:
            actions.start_canary(registry, 2, "setup", "next round", params)
            pair = [("rollback", None), ("ramp", None)]
        else:
            pair = [("promote", 2), ("canary", 3)]
        revision = read(registry)[0]["revision"]
        barrier, results = ctx.Barrier(2), ctx.Queue()
        workers = [
            ctx.Process(target=_move_once, args=(root, a, v, revision, barrier, results)) for a, v in pair
        ]
        for worker in workers:
            worker.start()
        outcome = sorted(results.get(timeout=120)[1] for _ in workers)
        for worker in workers:
            worker.join(timeout=30)
        assert outcome == ["DeploymentMoved", "applied"], (round_, outcome)
        assert len(_moves_from(registry, revision)) == 1
        state = read(registry)[0]
        assert registry.alias(CHAMPION)["version"] == state["champion"]
        if state["mode"] == "canary":
            actions.rollback(registry, "setup", "end of round")
        if read(registry)[0]["champion"] != 1:
            actions.promote(registry, 1, "setup", "end of round")


def test_the_scoring_runs_move_retried_after_it_landed_is_not_refused_nor_repeated(registry, params):
    """An `act` task killed after its move was whole and retried by Airflow: same revision, same verdict,
    the move already made is the answer."""
    actions.start_canary(registry, 2, "alice", "try it", params)
    scored = read(registry)[0]["revision"]
    reports = [_report("2026-11-10", scored, 2)]
    first = actions.after_scored_day(registry, reports, params, scored)[1]
    again = actions.after_scored_day(registry, reports, params, scored)[1]
    assert again["revision"] == first["revision"] == scored + 1
    rolled = [e for e in registry.audit_log() if e["event"] == "deployment_rolled_back"]
    assert len(rolled) == 1
    # a person's stale decision is still refused: the same reason, but another actor
    with pytest.raises(DeploymentMoved):
        actions.rollback(registry, "bob", rolled[0]["reason"], scored)


def test_the_same_person_repeating_a_move_gets_it_once_and_another_move_is_still_refused(registry, params):
    actions.start_canary(registry, 2, "setup", "canary", params)
    revision = read(registry)[0]["revision"]
    actions.ramp(registry, "alice", "go", params, revision)
    again = actions.ramp(registry, "alice", "go", params, revision)  # a double submission: one ramp
    assert again["revision"] == revision + 1 and again["share"] == read(registry)[0]["share"]
    with pytest.raises(DeploymentMoved):  # same person, same reason, another move: decided on a stale state
        actions.rollback(registry, "alice", "go", revision)
    assert len(_moves_from(registry, revision)) == 1 and read(registry)[0]["revision"] == revision + 1
