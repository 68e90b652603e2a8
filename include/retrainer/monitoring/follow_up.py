"""The follow-up retraining of a drift-triggered version: due once the drifted days' labels have matured.

A drift-triggered retraining runs on what is known when the drift is confirmed: the drifted days' inputs,
not their labels (they mature `data.label_maturity_days` later). So once that horizon has passed since the
evidence's `as_of`, the monitor asks for one more retraining, through the `retrainer://labels-matured/<model>`
Asset: its run trains up to the monitor's logical date, when the drifted days' labels are complete, and a
concept change is learnt as soon as it can be. It is not drift: the drift cool-down does not hold it.

Asked exactly once per drift-triggered version: the request is recorded under the monitoring area
(`layout.follow_up_key`) before the Asset event carries it, and a version that already has its follow-up
in the registry is not asked again."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from retrainer.core import layout
from retrainer.core.clock import as_utc, run_key
from retrainer.registry.register import is_follow_up_event, labels_matured_uri  # noqa: F401 (re-exported)
from retrainer.registry.store import Registry
from retrainer.storage import KeyNotFound, Storage

DRIFT = "drift"
FOLLOW_UP = "follow-up"


def evidence_as_of(version: dict) -> datetime | None:
    """The newest `as_of` of the drift evidence that triggered `version` (its lineage `trigger`), or None
    when it was not drift-triggered."""
    trigger = version.get("trigger") or {}
    if trigger.get("kind") != DRIFT:
        return None
    moments = [
        as_utc(event["extra"]["as_of"])
        for event in trigger.get("asset_events", [])
        if (event.get("extra") or {}).get("as_of") and not is_follow_up_event(event)
    ]
    return max(moments, default=None)


def _requested(storage: Storage, model: str, version: int) -> dict | None:
    try:
        return json.loads(storage.get_text(layout.follow_up_key(model, version)))
    except KeyNotFound:
        return None


def follow_up_due(storage: Storage, params: dict[str, Any], as_of: datetime | str) -> dict | None:
    """The follow-up retraining the monitor run at `as_of` must ask for, or None.

    Due for a drift-triggered version once `as_of` is at or after its evidence's `as_of` plus
    `data.label_maturity_days`, unless it was asked already (a request recorded by `record_request`), a
    version following it up is registered, or any version trained up to the due date or later (its
    matured labels hold the drifted days already). Of several due, the oldest version first. The request (the
    Asset event's `extra`): `model`, `follows_up` (the version), `evidence_run`, `evidence_as_of`, `due`,
    `as_of` (this run's logical date: the follow-up trains up to it) and `requested_by` (this run)."""
    model = params["model"]["name"]
    days = params["data"]["label_maturity_days"]
    moment = as_utc(as_of)
    versions = Registry(storage, model).versions()
    followed = {v["trigger"].get("follow_up_of") for v in versions if v.get("trigger")}
    for version in sorted(versions, key=lambda v: v["version"]):
        evidence = evidence_as_of(version)
        if evidence is None or version["version"] in followed:
            continue
        due = evidence + timedelta(days=days)
        if moment < due or _requested(storage, model, version["version"]) is not None:
            continue
        if any(as_utc(v["as_of"]) >= due for v in versions):  # a later retraining learnt those labels
            continue
        return {
            "model": model,
            "follows_up": version["version"],
            "evidence_run": run_key(evidence),
            "evidence_as_of": evidence.isoformat(),
            "due": due.isoformat(),
            "label_maturity_days": days,
            "as_of": moment.isoformat(),  # the follow-up's window ends here (retrain's evidence_ends)
            "requested_by": run_key(moment),
        }
    return None


def record_request(storage: Storage, request: dict) -> dict:
    """Record that `request` (from `follow_up_due`) was asked for, so no later run asks again; returns it.
    A rerun of the same request overwrites the same key with the same content."""
    storage.put_text(
        layout.follow_up_key(request["model"], request["follows_up"]), json.dumps(request, indent=2)
    )
    return request
