"""Every DAG imports cleanly, has docs, owner, tags and retries, and does no heavy work at parse time."""

import ast
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR

DAGS_DIR = PROJECT_DIR / "dags"
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
HEAVY_MODULES = {
    "pandas",
    "numpy",
    "xgboost",
    "sklearn",
    "great_expectations",
    "dvc",
    "pyarrow",
    "scipy",
    "boto3",
}
# The retry policy names retrainer.core.errors, which Airflow imports at parse time, and the DAG files read
# the model folders through retrainer.core.models (yaml, pydantic): they must stay this light.
PARSE_TIME_PACKAGE_MODULES = {
    "retrainer",
    "retrainer.core",
    "retrainer.core.errors",
    "retrainer.core.expressions",  # the schema parses evaluate.rule and slices.expressions (ast, no numpy)
    "retrainer.core.models",
    "retrainer.core.params",
    "retrainer.core.feature_declarations",  # names, windows and aggregations of features.derived (pure)
    "retrainer.core.feature_suite",  # the features suite's check (json)
    "retrainer.core.form_fields",  # the trigger form's fields, bounded by the schema (pydantic)
    "retrainer.core.suite_columns",  # the columns a suite names (json)
    "retrainer.core.feature_schema",
    "retrainer.core.adaptation_schema",  # the adaptation section (pydantic)
    "retrainer.core.monitoring_schema",  # the monitoring section (pydantic)
    "retrainer.core.scoring_schema",  # the scoring section (pydantic)
    "retrainer.core.estimation_schema",  # monitoring.estimation (pydantic)
    "retrainer.core.tuning_schema",  # train.tuning and train.imbalance (pydantic)
    "retrainer.core.schema",
    "retrainer.core.sections",
    "retrainer.core.settings",
    "retrainer.core.timeouts",
    "retrainer.deployment",
    "retrainer.deployment.events",  # the deployment Asset's URI and its events' extra (pure)
}
# What a DAG file may import from the package at its top level: the model folders, the settings, and
# retrainer.core (its errors and timeouts: the verdicts of the retry policy, the time limits).
PARSE_TIME_IMPORTS = {"retrainer.core", "retrainer.core.models", "retrainer.core.settings"}


@pytest.fixture(scope="module")
def dagbag():
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"retrain_fraud-xgb", "score_fraud-xgb", "deploy_fraud-xgb"} <= set(dagbag.dags)
    # model_config_errors.py only raises (a broken model's import error): with every model healthy, nothing
    assert not [d for d in dagbag.dags.values() if d.fileloc.endswith("model_config_errors.py")]


def test_every_dag_has_docs_tags_owner_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} has no documentation"
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner not in (None, "", "airflow"), f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_retrain_dag_is_the_documented_pipeline(dagbag):
    dag = dagbag.dags["retrain_fraud-xgb"]
    assert dag.max_active_runs == 1
    assert set(dag.params) == {
        "extract_window_days",
        "training_window_days",
        "min_pr_auc",
        "min_recall_at_fpr",
        "champion_tolerance",
        "approval",
    }
    assert dag.params["approval"] == "required"
    order = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    assert order == {
        "wait_for_late_files": [],
        "extract": ["wait_for_late_files"],
        "validate": ["extract"],
        "check_labels": ["validate"],
        "train": ["check_labels"],
        "evaluate": ["train"],
        "register": ["evaluate", "train"],
        "route": ["register"],
        "approve": ["route"],
        "decide": ["approve", "route"],
        "announce_move": ["decide"],
    }
    register = dag.task_dict["register"]
    assert [a.uri for a in register.outlets] == ["retrainer://registry/fraud-xgb"]
    assert [a.uri for a in dag.task_dict["announce_move"].outlets] == ["retrainer://deployment/fraud-xgb"]


def test_the_approval_waits_for_a_person_with_a_time_out_that_rejects(dagbag):
    from datetime import timedelta

    from airflow.providers.standard.operators.hitl import HITLOperator

    from retrainer.deployment.approval import ON_TIMEOUT, OPTIONS

    approve = dagbag.dags["retrain_fraud-xgb"].task_dict["approve"]
    assert isinstance(approve, HITLOperator)
    assert tuple(approve.options) == OPTIONS and approve.defaults == [ON_TIMEOUT]
    assert approve.response_timeout and approve.response_timeout > timedelta(0)
    # it must never cut the wait short: none, or longer than the response time-out
    assert approve.execution_timeout is None or approve.execution_timeout > approve.response_timeout
    assert "approval_body" in approve.body
    assert dagbag.dags["retrain_fraud-xgb"].task_dict["decide"].trigger_rule == "none_failed_min_one_success"


def test_scoring_and_deploy_dags_are_wired_as_documented(dagbag):
    score = dagbag.dags["score_fraud-xgb"]
    assert score.max_active_runs == 1
    assert {t.task_id: sorted(t.upstream_task_ids) for t in score.tasks} == {
        "score": [],
        "report_day": ["score"],
        "act": ["report_day"],
        "announce_move": ["act"],
        "out_of_bounds": ["report_day"],
        "alert": ["out_of_bounds", "report_day"],
    }
    # the breaches are posted in the alert task itself: one that cannot be delivered fails it (test_alerts)
    assert not score.get_task("alert").on_success_callback
    deploy = dagbag.dags["deploy_fraud-xgb"]
    assert {t.task_id: sorted(t.upstream_task_ids) for t in deploy.tasks} == {
        "deploy": [],
        "announce_move": ["deploy"],
    }
    for dag in (score, deploy):  # each move is an event of the model's deployment Asset
        assert [a.uri for a in dag.task_dict["announce_move"].outlets] == ["retrainer://deployment/fraud-xgb"]
    assert set(deploy.params) == {"action", "version", "reason", "expected_revision"}
    from retrainer.deployment.actions import ACTIONS

    assert set(deploy.params.get_param("action").schema["enum"]) == set(ACTIONS)


def test_the_monitor_judges_only_days_that_have_landed(dagbag):
    """check_drift runs after wait_for_days, a sensor that frees its worker while it waits for the judged
    days to land (retrainer.monitoring.days), and whose own time-out is past the model's wait."""
    monitor = dagbag.dags["monitor_fraud-xgb"]
    wait = monitor.get_task("wait_for_days")
    assert monitor.get_task("check_drift").upstream_task_ids == {"wait_for_days"}
    assert wait.mode == "reschedule" and wait.upstream_task_ids == set()
    assert wait.timeout > 12 * 3600  # models/defaults.yaml: monitoring.days.wait_hours


def test_dag_params_map_onto_params_yaml():
    from retrainer.core.models import load_model
    from retrainer.core.params import DAG_PARAMS as PARAM_KEYS
    from retrainer.core.params import merge_params

    params = load_model(PROJECT_DIR, "fraud-xgb")
    merge_params(params, {key: 1 for key in PARAM_KEYS.values()})  # raises on a key params.yaml lacks


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_heavy_import_at_a_dag_files_top_level(path):
    tree = ast.parse(path.read_text())
    for node in tree.body:  # module level only: imports inside task bodies run at execution time
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            assert top not in HEAVY_MODULES, f"{path.name} imports {name} at top level"
            assert top != "retrainer" or name in PARSE_TIME_IMPORTS, (
                f"{path.name} imports {name} at top level"
            )


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_a_dag_file_loads_no_heavy_module(path):
    code = "import runpy, sys; runpy.run_path(sys.argv[1]); print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY_MODULES)
    package = sorted(m for m in loaded if m.split(".")[0] == "retrainer")
    assert heavy == [], f"parsing {path.name} imported {heavy[:5]}"
    assert set(package) <= PARSE_TIME_PACKAGE_MODULES, f"parsing {path.name} imported {package}"


def test_dag_files_are_wiring_only():
    """The code of a DAG file (its docstring, the DAG's page in the UI, aside) stays short: wiring."""
    for path in DAG_FILES:
        tree = ast.parse(path.read_text())
        doc = tree.body[0].end_lineno if ast.get_docstring(tree) else 0
        assert len(path.read_text().splitlines()) - doc <= 160, f"{path.name} is more than wiring"


def test_the_package_never_imports_airflow():
    for path in (PROJECT_DIR / "include" / "retrainer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "airflow" for n in names), f"{path} imports {names}"


def _core_timetable(dag):
    """The timetable as the scheduler and the REST API use it: through the serialized DAG."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable


def test_a_scheduled_run_covers_the_calendar_week(dagbag):
    import pendulum
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = _core_timetable(dagbag.dags["retrain_fraud-xgb"])
    after = DataInterval(pendulum.datetime(2026, 11, 2), pendulum.datetime(2026, 11, 9))
    info = timetable.next_dagrun_info(
        last_automated_data_interval=after, restriction=TimeRestriction(None, None, catchup=True)
    )
    assert info.data_interval == DataInterval(pendulum.datetime(2026, 11, 9), pendulum.datetime(2026, 11, 16))
    assert info.run_after == pendulum.datetime(2026, 11, 16)  # it starts when its week ends
    # unpaused today (catchup=False), the first run is the last complete calendar week
    latest = timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(None, None, catchup=False)
    ).data_interval
    assert latest.start.day_of_week == pendulum.MONDAY and latest.start.time() == pendulum.time(0)
    assert latest.end == latest.start.add(days=7) <= pendulum.now("UTC")


@pytest.mark.parametrize("moment", ["2026-11-16T00:00:00", "2026-11-18T10:30:00", "2026-11-22T23:59:59"])
def test_a_manual_run_snaps_to_the_last_complete_week(dagbag, moment):
    """The form's logical date ("now") and `airflow dags test DATE` both go through this."""
    import pendulum

    timetable = _core_timetable(dagbag.dags["retrain_fraud-xgb"])
    interval = timetable.infer_manual_data_interval(run_after=pendulum.parse(moment, tz="UTC"))
    assert (interval.start, interval.end) == (pendulum.datetime(2026, 11, 9), pendulum.datetime(2026, 11, 16))


def test_no_run_can_end_before_its_tasks_are_created(dagbag):
    """Airflow creates no task instance for a run before a task's start_date and calls the run a
    success; with no start_date every run gets its tasks, and extract refuses a window before
    data.start_date instead."""
    dag = dagbag.dags["retrain_fraud-xgb"]
    assert dag.start_date is None and all(task.start_date is None for task in dag.tasks)


def _config_of(dag_id: str) -> dict:
    from retrainer.core.models import load_model

    return load_model(PROJECT_DIR, dag_id.split("_", 1)[1])


def test_every_task_has_the_time_limit_of_its_models_params(dagbag):
    """Nothing hangs forever: each task has timeouts.tasks.<task>, else timeouts.task_minutes; the approval
    waits by its response time-out, never cut short; the sensor keeps its own time-out."""
    from datetime import timedelta

    for dag_id, dag in dagbag.dags.items():
        timeouts = _config_of(dag_id)["timeouts"]
        for task in dag.tasks:
            where = f"{dag_id}.{task.task_id}"
            if task.task_id == "approve":
                assert task.response_timeout, where
                assert task.execution_timeout is None or task.execution_timeout > task.response_timeout, where
                continue
            minutes = timeouts["tasks"].get(task.task_id, timeouts["task_minutes"])
            assert task.execution_timeout == timedelta(minutes=minutes), f"{where}: {task.execution_timeout}"
    sensor = dagbag.dags["retrain_fraud-xgb"].task_dict["wait_for_late_files"]
    assert sensor.timeout == 12 * 3600


def test_every_task_a_model_may_time_apart_is_a_task():
    import typing

    from retrainer.core.schema import TimedTask

    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    task_ids = {t.task_id for dag in DagBag(dag_folder=str(DAGS_DIR)).dags.values() for t in dag.tasks}
    assert set(typing.get_args(TimedTask)) <= task_ids - {"approve"}


def test_a_models_time_limits_are_its_own():
    """Two models, two sets of limits: a model's `timeouts` reaches its DAGs only."""
    import copy
    import importlib.util
    from datetime import timedelta

    spec = importlib.util.spec_from_file_location("score_models_under_test", DAGS_DIR / "score_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = copy.deepcopy(_config_of("score_fraud-xgb"))
    config["timeouts"] |= {"task_minutes": 7, "tasks": {"score": 11}}
    dag = module.score_dag("fraud-xgb", config)
    limits = {t.task_id: t.execution_timeout for t in dag.tasks}
    assert limits.pop("score") == timedelta(minutes=11)
    assert set(limits.values()) == {timedelta(minutes=7)}


@pytest.mark.parametrize("kind", ["retrain", "score", "monitor", "deploy"])
def test_a_verdict_is_final_and_a_time_out_is_retried(dagbag, kind, tmp_path):
    """A day without a champion (NoChampion, a Rejected) fails at once; a process or an S3 endpoint that
    hung may answer on the retry."""
    from airflow.sdk import RetryAction

    from retrainer.core.errors import Rejected, StageTimeout, StorageTimeout
    from retrainer.deployment.state import read
    from retrainer.registry.store import Registry
    from retrainer.storage import open_storage

    with pytest.raises(Rejected) as no_champion:  # what score_<model> meets on a day with no champion
        read(Registry(open_storage(tmp_path), "fraud-xgb"))
    stalled = StorageTimeout("get", "s3://b/k", "http://s3", "-", OSError())
    hung = [StageTimeout("`dvc repro`", 60, "-"), stalled]
    for task in dagbag.dags[f"{kind}_fraud-xgb"].tasks:
        if task.task_id == "approve":
            continue  # it raises nothing of ours: a time-out is an answer (Reject)
        assert task.retry_policy, f"{kind}.{task.task_id} has no retry policy"
        assert task.retry_policy.evaluate(no_champion.value, 1, 3).action == RetryAction.FAIL
        for error in hung:
            assert task.retry_policy.evaluate(error, 1, 3).action == RetryAction.DEFAULT


@pytest.mark.parametrize(("kind", "entry"), [("score", "score"), ("monitor", "check_drift")])
def test_a_checksum_mismatch_in_scoring_or_monitoring_is_final(dagbag, kind, entry, storage, source, params):
    """The champion's model bytes edited in the registry: the day's scoring or drift check meets a
    ChecksumMismatch, and every task of score_<model> and monitor_<model> fails on it at once, never
    retried into the same verdict."""
    from airflow.sdk import RetryAction

    from retrainer.registry.store import Registry
    from retrainer.storage import ChecksumMismatch
    from retrainer.tasks import monitor, score
    from tests.deploy_helpers import champion_and_challenger, write_days

    registry = Registry(storage, "fraud-xgb")
    champion, _ = champion_and_challenger(registry, params)
    write_days(source, 3, fraud_rate=0.02)
    storage.put_bytes(registry.get(champion)["files"]["model.ubj"]["key"], b"edited by hand")
    run = {"score": score.score, "check_drift": monitor.check_drift}[entry]
    with pytest.raises(ChecksumMismatch) as mismatch:
        run("2026-11-03T00:00:00+00:00", None, "fraud-xgb")
    for task in dagbag.dags[f"{kind}_fraud-xgb"].tasks:
        assert task.retry_policy, f"{kind}.{task.task_id} has no retry policy"
        decision = task.retry_policy.evaluate(mismatch.value, 1, 3)
        assert decision.action == RetryAction.FAIL, f"{kind}.{task.task_id} retries a ChecksumMismatch"
