"""Events other systems can follow, through real Airflow, issue 22 item 4.

A first retraining (`airflow dags test`) registers v1, champion at once (no move); under `airflow
standalone`, a promotion of v2 and its rollback by hand (the deploy DAG, triggered through the REST API)
are each one Asset event on `retrainer://deployment/fraud-xgb`, seen in the
metadata DB's `asset_event` table and through the REST API with their extra (version, mode, share,
reason, actor, the audit event's id), and each starts a run of a downstream DAG scheduled on that Asset
(`tests/e2e/dags/follow_deployment.py`), which receives the move. A scoring day that moves nothing
emits no event. With the OpenLineage file transport configured, the retraining's `register` names its input
batches (sha256 as version) and output version, and the scoring names the champion and the scored day.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import copy_configuration
from tests.e2e import servers
from tests.e2e.conftest import Airflow
from tests.e2e.test_deployment_e2e import FIRST_RUN, Api, _registry

pytestmark = pytest.mark.e2e
wait = servers.wait

ASSET = "retrainer://deployment/fraud-xgb"
CONSUMER = "follow_deployment_fraud-xgb"


def _asset_events(home: Path) -> list[dict]:
    """The deployment Asset's events as the metadata DB holds them, oldest first."""
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT e.extra, e.source_dag_id, e.source_task_id FROM asset_event e "
            f"JOIN asset a ON a.id = e.asset_id WHERE a.uri = '{ASSET}' ORDER BY e.id"
        ).fetchall()
    return [json.loads(extra) | {"_source": f"{dag}.{task}"} for extra, dag, task in rows]


def _consumer_runs(api: Api, count: int, log: Path) -> list[dict]:
    """The downstream DAG's runs once `count` of them have ended, oldest first."""

    def ended():
        runs = api("GET", f"/dags/{CONSUMER}/dagRuns?order_by=run_after")["dag_runs"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return len(done) >= count and runs

    runs = wait(ended, 300, f"{count} run(s) of {CONSUMER}")
    assert all(r["state"] == "success" for r in runs), f"{runs}\n{log.read_text()[-3000:]}"
    return runs


def _path(storage, key: str) -> str:
    """A local storage key's OpenLineage dataset name: its absolute path."""
    return storage.uri(key).removeprefix("file://")


def _lineage_events(path: Path, job: str) -> list[dict]:
    """The OpenLineage COMPLETE events of `job` (`<dag_id>.<task_id>`) the file transport wrote."""
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in events if e["job"]["name"] == job and e["eventType"] == "COMPLETE"]


def test_moves_are_asset_events_a_downstream_dag_follows_and_lineage_reaches_the_file_transport(
    tmp_path, migrated_db
):
    from retrainer.core import layout
    from retrainer.registry import chain
    from tests.deploy_helpers import register

    project = copy_configuration(tmp_path / "project")
    shutil.copy2(Path(__file__).parent / "dags" / "follow_deployment.py", project / "dags")
    (tmp_path / "airflow").mkdir()
    shutil.copy2(migrated_db, tmp_path / "airflow" / "airflow.db")
    airflow = Airflow(tmp_path / "airflow", tmp_path / "var", project)
    lineage_file = tmp_path / "openlineage.jsonl"
    openlineage = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(lineage_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "retrainer-e2e",
    }
    airflow.retrainer("generate", "--end", "2026-10-04", "--days", "98")
    # The retraining and the scoring day run in `airflow dags test` (no scheduler: the scheduled DAGs stay
    # unscheduled); the moves and the downstream DAG under the scheduler of `airflow standalone`.
    first = airflow.dags_test("retrain_fraud-xgb", "2026-09-07", FIRST_RUN, openlineage)
    assert first.state == "success", first.log[-3000:]
    assert first.tasks["register"] == "success" and first.tasks["announce_move"] == "skipped", first.tasks
    storage, registry = _registry(airflow)
    champion = registry.get("champion")  # v1, champion at once: no deployment move
    other = register(registry, champion["params"], b"not scored here")  # v2, only moved

    with servers.standalone(airflow, {"AIRFLOW__CORE__PARALLELISM": "2"}) as (base, token):
        api, log = Api(base, token), airflow.home / "standalone.log"
        for dag_id in ("deploy_fraud-xgb", CONSUMER):  # the scheduled DAGs stay paused
            wait(lambda d=dag_id: api("GET", f"/dags/{d}"), 180, f"{dag_id} to be parsed")
            api("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        promote = {"action": "promote", "version": other, "reason": "e2e: v2 wins"}
        tis = api.wait_run("deploy_fraud-xgb", api.trigger("deploy_fraud-xgb", None, promote), log)
        assert tis == {"deploy": "success", "announce_move": "success"}
        _consumer_runs(api, 1, log)  # one move, one downstream run, before the next move
        rollback = {"action": "rollback", "reason": "e2e: alerts doubled"}
        tis = api.wait_run("deploy_fraud-xgb", api.trigger("deploy_fraud-xgb", None, rollback), log)
        assert tis["announce_move"] == "success"
        runs = _consumer_runs(api, 2, log)
        received = [api.xcom(CONSUMER, r["dag_run_id"], "react") for r in runs]
        # what an external system reads through the REST API
        (asset,) = api("GET", f"/assets?uri_pattern={ASSET}")["assets"]
        via_api = api("GET", f"/assets/events?asset_id={asset['id']}&order_by=timestamp")["asset_events"]

    # a day scored under the champion alone moves nothing: no event
    scored = airflow.dags_test("score_fraud-xgb", "2026-10-04", extra_env=openlineage)
    assert scored.state == "success", scored.log[-3000:]
    assert scored.tasks["act"] == "success" and scored.tasks["announce_move"] == "skipped", scored.tasks

    events = _asset_events(airflow.home)
    print(f"\n[events] asset_event rows of {ASSET}:")
    for event in events:
        print(f"  {event}")
    print(f"[events] received by {CONSUMER}: {received}")
    assert [e["_source"] for e in events] == ["deploy_fraud-xgb.announce_move"] * 2
    promoted, rolled_back = events
    assert (promoted["event"], promoted["version"], promoted["mode"], promoted["share"]) == (
        "deployment_promoted",
        other,
        "champion",
        0,
    )
    assert promoted["champion"] == other and promoted["reason"] == "e2e: v2 wins"
    assert (rolled_back["event"], rolled_back["champion"]) == ("deployment_rolled_back", champion["version"])
    assert rolled_back["reason"] == "e2e: alerts doubled"
    audited = {e.get("move_id"): e for e in chain.load(storage, "fraud-xgb").events.values()}
    for event in (promoted, rolled_back):
        audit = audited[event["audit_event_id"]]  # the move's own audit event in the registry's chain
        assert (audit["event"], audit["actor"], audit["reason"]) == (
            event["event"],
            event["actor"],
            event["reason"],
        )
    bare = [{k: v for k, v in e.items() if k != "_source"} for e in events]
    assert received == [[bare[0]], [bare[1]]]  # each downstream run got its move
    assert [e["extra"] for e in via_api] == bare
    assert [len(e["created_dagruns"]) for e in via_api] == [1, 1]

    register_events = _lineage_events(lineage_file, "retrain_fraud-xgb.register")
    assert register_events, f"no OpenLineage event for register in {lineage_file}"
    lineage = register_events[-1]
    print(f"[lineage] register: inputs {lineage['inputs']}\n  outputs {lineage['outputs']}")
    batches = {i["name"]: i["facets"]["version"]["datasetVersion"] for i in lineage["inputs"]}
    version_record = _path(storage, layout.registry_version_key("fraud-xgb", champion["version"]))
    assert [o["name"] for o in lineage["outputs"]] == [version_record]
    assert lineage["outputs"][0]["facets"]["version"]["datasetVersion"] == str(champion["version"])
    manifests = [json.loads(storage.get_bytes(key)) for key in champion["batch_keys"]]  # what it trained on
    trained_on = {
        _path(storage, layout.batch_file_key("fraud-xgb", m["run_key"])): m["sha256"] for m in manifests
    }
    assert batches == trained_on and batches

    (score_event,) = _lineage_events(lineage_file, "score_fraud-xgb.score")
    versions = [i["facets"]["version"]["datasetVersion"] for i in score_event["inputs"]]
    assert versions == ["2026-10-03", str(champion["version"])]  # the source day, the champion
    (scores,) = score_event["outputs"]
    assert scores["name"].endswith("date=2026-10-03/scores.parquet")
