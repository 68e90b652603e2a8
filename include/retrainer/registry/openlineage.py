"""What a task read and wrote, as OpenLineage datasets (plain dicts; no OpenLineage or Airflow import here):
the retraining's register task read the validated batches and wrote a model version; the scoring task
read the day's source rows and the deployed versions and wrote the scored day. `retrainer_airflow.lineage`
hands them to Airflow's OpenLineage provider, which emits them only when a transport is configured.

Names follow OpenLineage's naming conventions for object stores: `file:///path` is namespace `file`, name
`/path`; `s3://bucket/key` is namespace `s3://bucket`, name `key`. Each dataset's `version` is what
identifies its content: a batch's sha256, a model's version number, a scored day's date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from retrainer.core import layout

if TYPE_CHECKING:
    from retrainer.storage import Storage


def dataset(uri: str, version: str | int | None = None, **fields: Any) -> dict[str, Any]:
    """`{"namespace", "name", "uri", "version", **fields}` of the object at `uri` (file:// or s3://)."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        namespace, name = "file", unquote(parts.path or uri)
    else:
        namespace, name = f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")
    return {
        "namespace": namespace,
        "name": name,
        "uri": uri,
        "version": None if version is None else str(version),
        **fields,
    }


def model_version(storage: Storage, model: str, version: int, role: str | None = None) -> dict[str, Any]:
    """A registered version, named by its record in the registry (`registry/<model>/versions/NNNNNN.json`)."""
    fields = {"model": model, "model_version": int(version)} | ({"role": role} if role else {})
    return dataset(storage.uri(layout.registry_version_key(model, int(version))), int(version), **fields)


def retraining(storage: Storage, model: str, batches: list[dict], version: int) -> dict[str, list[dict]]:
    """The lineage of a registered version: `inputs`, each validated batch of the run's training window
    (`batches`: the run manifest's, with `run_key` and `sha256`; one without a `run_key` cannot be named
    and is left out), its bytes' sha256 as version; `outputs`, the version."""
    inputs = [
        dataset(
            storage.uri(layout.batch_file_key(model, batch["run_key"])),
            batch["sha256"],
            sha256=batch["sha256"],
            batch=batch["run_key"],
        )
        for batch in batches
        if batch.get("run_key")
    ]
    return {"inputs": inputs, "outputs": [model_version(storage, model, version)]}


def scoring(storage: Storage, source_uri: str | None, model: str, summary: dict) -> dict[str, list[dict]]:
    """The lineage of a scored day (`summary`: `scoring.batch.score_day`'s): `inputs`, the day's source
    rows (`source_uri`, if known) and the champion (and challenger) that scored them; `outputs`, the scores
    file, the day as version."""
    day = summary["day"]
    inputs = [dataset(source_uri, day, day=day)] if source_uri else []
    inputs.append(model_version(storage, model, summary["champion"], "champion"))
    if summary.get("challenger") is not None:
        inputs.append(model_version(storage, model, summary["challenger"], "challenger"))
    return {"inputs": inputs, "outputs": [dataset(summary["scores_uri"], day, day=day, model=model)]}
