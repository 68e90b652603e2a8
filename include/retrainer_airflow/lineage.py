"""OpenLineage for TaskFlow tasks whose result names what they read and wrote: `@lineage_task` is
`@task` whose operator hands the `lineage` of its return value (`retrainer.registry.openlineage`:
`{"inputs": [...], "outputs": [...]}`, each `{namespace, name, version}`) to Airflow's OpenLineage provider
through the provider's operator hook `get_openlineage_facets_on_complete`.

The provider calls that hook only when a transport is configured (`[openlineage] transport`, e.g.
`AIRFLOW__OPENLINEAGE__TRANSPORT='{"type": "file", "log_file_path": "...", "append": true}'`); without
one its listener is not even loaded, and the task runs as a plain `@task`. The dataset names are built here
rather than from Assets because the provider turns an Asset into a dataset only for schemes it has a
converter for (`file` with common-io; `s3` needs the Amazon provider); these names work for both.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import task_decorator_factory
from airflow.providers.standard.decorators.python import _PythonDecoratedOperator


def operator_lineage(lineage: dict | None):
    """The provider's `OperatorLineage` for a task's `lineage` dict (None or empty: an empty one, so the
    provider falls back to its other sources). Each dataset carries its `version` as a `version` facet."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.generated.base import InputDataset, OutputDataset
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    def made(kind, found: dict):
        facets = {}
        if found.get("version") is not None:
            facets["version"] = DatasetVersionDatasetFacet(datasetVersion=str(found["version"]))
        return kind(namespace=found["namespace"], name=found["name"], facets=facets)

    lineage = lineage or {}
    return OperatorLineage(
        inputs=[made(InputDataset, d) for d in lineage.get("inputs", [])],
        outputs=[made(OutputDataset, d) for d in lineage.get("outputs", [])],
    )


class _LineageDecoratedOperator(_PythonDecoratedOperator):
    """A `@task` operator that keeps its return value for the OpenLineage hook below (the provider calls it
    in the same worker process, after `execute`)."""

    returned: Any = None

    def execute(self, context):
        self.returned = super().execute(context)
        return self.returned

    def get_openlineage_facets_on_complete(self, task_instance):
        returned = self.returned if isinstance(self.returned, dict) else {}
        return operator_lineage(returned.get("lineage"))


def lineage_task(python_callable=None, **kwargs):
    """`@task` (same arguments) whose returned dict's `lineage` becomes the task's OpenLineage inputs and
    outputs when a transport is configured."""
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=_LineageDecoratedOperator,
        **kwargs,
    )
