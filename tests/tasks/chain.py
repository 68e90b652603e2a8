"""The retraining path as one process: the DAG's task entry points chained, as Airflow runs them.

`python -m tests.tasks.chain AS_OF [DAG_PARAMS_JSON]` prints the register task's result as JSON. The crash
tests run it with the storage fault hook (`retrainer.storage.faults`) set to kill it part-way.
"""

from __future__ import annotations

import json
import sys

from retrainer.tasks import retrain as tasks
from tests.conftest import week


def run(as_of: str, dag_params: dict | None = None) -> dict:
    run = tasks.Run(*week(as_of), run_id="manual__crash")
    batch = tasks.extract(run, dag_params)
    tasks.validate(batch["manifest_uri"], dag_params)
    tasks.check_labels(run, dag_params)
    trained = tasks.train(run, dag_params)
    evaluated = tasks.evaluate(trained["run_manifest_uri"], dag_params)
    return tasks.register(trained["run_manifest_uri"], evaluated["gates_uri"], "manual__crash", dag_params)


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else None)))
