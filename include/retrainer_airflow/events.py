"""Deployment moves as Airflow Asset events: the `announce_move` task that follows each task able to move a
model's deployment (deploy's `deploy`, score's `act`, retrain's `decide`) has the model's deployment Asset
(`retrainer://deployment/<model>`) as outlet, and sets the event's `extra` from the move the task returned
(`retrainer.deployment.events.event_extra`). A task that moved nothing makes it skip: Airflow registers an
outlet's event whenever its task succeeds, so skipping is how no move means no event.

A downstream DAG follows a model's moves with `schedule=[deployment_asset(model)]` (its
`triggering_asset_events` hold the extras); an external system reads them from the REST API
(`GET /api/v2/assets/events?asset_id=...`).
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowSkipException
from airflow.sdk import Asset

from retrainer.deployment import events


def deployment_asset(model: str) -> Asset:
    """The Asset whose events are `model`'s deployment moves."""
    return Asset(events.asset_uri(model), group=events.ASSET_GROUP)


def announce_move(model: str, result: dict, outlet_events) -> dict:
    """Set the `extra` of the deployment Asset event from `result["move"]` (the task's return value) and
    return it; AirflowSkipException (no event) when `result` names no move."""
    extra = events.event_extra(model, (result or {}).get("move"))
    if extra is None:
        raise AirflowSkipException(f"the deployment of {model} did not move: no deployment event")
    outlet_events[deployment_asset(model)].extra = extra
    return extra
