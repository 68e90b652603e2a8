"""Drift episodes and the cool-down: when a confirmed drift is posted to a person, and when the last
retraining was (so that a retraining that failed leaves the cool-down free).

- An episode is the streak of monitor runs in a row whose drift is confirmed against one champion; a run
  that is not confirmed, or a new champion, ends it.
- A confirmed drift is posted when its episode starts, when a retraining is signalled during it (news: a
  retraining starts), and then only as a reminder every `monitoring.reminder_days`: not daily.
- A confirmed drift inside the cool-down says it is suppressed and until when (`suppressed_until`).
- The cool-down runs from the newest registered version, or from the newest monitor run that signalled a
  retraining, unless that retraining failed: the retraining DAG records its failure beside the signal
  (`monitoring/<model>/<monitor run>/retraining-failed.json`, written by `record_failed_retraining`). A
  signalled retraining without such a record (still running, or done) holds the cool-down.

Pure functions over the monitor's earlier reports (oldest first), plus the record's reader and writer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from retrainer.core import clock, layout
from retrainer.core.clock import as_utc
from retrainer.drift.check import CONFIRMED
from retrainer.storage import Storage

NEW, RETRAINING, REMINDER = "new episode", "retraining signalled", "reminder"


def _posted(report: dict) -> bool:
    """Whether an earlier monitor run posted its drift: its `alert.posted`; a run from before episodes
    were recorded posted every confirmed drift."""
    alert = report.get("alert")
    return bool(alert.get("posted")) if isinstance(alert, dict) else report.get("verdict") == CONFIRMED


def streak(earlier: list[dict], champion: int | None) -> list[dict]:
    """The earlier runs of the episode still going on: the newest runs in a row that confirmed drift
    against `champion` (oldest first); empty when the run before this one did not."""
    runs: list[dict] = []
    for report in reversed(earlier):
        if report.get("verdict") != CONFIRMED or report.get("champion_version") != champion:
            break
        runs.append(report)
    return runs[::-1]


def drift_alert(
    earlier: list[dict],
    verdict: str,
    champion: int | None,
    as_of: datetime | str,
    retrain: bool,
    reminder_days: int,
) -> dict[str, Any]:
    """Whether this run posts its drift, and the episode it belongs to: `{"posted", "why" (new episode |
    retraining signalled | reminder | None), "episode_started", "runs" (runs in the episode so far, this
    one included), "last_posted", "next_reminder"}`. A run whose drift is not confirmed posts nothing and
    belongs to no episode. `retrain`: this run signals a retraining."""
    now = as_utc(as_of)
    if verdict != CONFIRMED:
        return {"posted": False, "why": None, "episode_started": None, "runs": 0}
    runs = streak(earlier, champion)
    started = as_utc(runs[0]["as_of"]) if runs else now
    posts = [as_utc(r["as_of"]) for r in runs if _posted(r)]
    last = max(posts, default=None)
    if not runs:
        why = NEW
    elif retrain:
        why = RETRAINING
    elif last is None or now - last >= timedelta(days=reminder_days):
        why = REMINDER
    else:
        why = None
    last_posted = now if why else last
    return {
        "posted": why is not None,
        "why": why,
        "episode_started": started.isoformat(),
        "runs": len(runs) + 1,
        "last_posted": last_posted and last_posted.isoformat(),
        "next_reminder": (last_posted + timedelta(days=reminder_days)).isoformat(),
    }


def alert_note(alert: dict[str, Any], trigger: dict[str, Any]) -> str:
    """What the drift alert adds about its episode and the cool-down, for a person: a suppressed drift
    says so and until when; a reminder says since when the drift holds. Empty for a run not confirmed."""
    if not alert.get("episode_started"):
        return ""
    parts = []
    if trigger.get("suppressed"):
        parts.append(
            f"Suppressed: inside the {trigger['cooldown_days']}-day cool-down after the retraining of "
            f"{trigger['last_retraining']}, until {trigger['suppressed_until']}; no retraining starts"
        )
    elif trigger.get("retrain"):
        parts.append("A retraining is signalled")
    if alert.get("why") == REMINDER:
        parts.append(f"Reminder: drift confirmed since {alert['episode_started']} ({alert['runs']} runs)")
    if alert.get("next_reminder"):
        parts.append(f"Next reminder {alert['next_reminder']} if it persists")
    return "".join(f". {part}" for part in parts)


def title_note(trigger: dict[str, Any]) -> str:
    """What the drift page's title adds for a drift the cool-down suppresses: until when."""
    until = trigger.get("suppressed_until")
    return f" (suppressed by the cool-down until {until}: no retraining)" if until else ""


def last_retraining(versions: Iterable[dict], earlier: list[dict], failed_runs: set[str]) -> datetime | None:
    """When a retraining last happened or was asked for: the logical date (`as_of`) of the newest
    registered version, or of the latest monitor run that signalled one whose retraining did not fail
    (`failed_runs`: the runs whose signalled retraining failed; one still running holds), so a burst of
    drift starts one retraining and a failed one leaves the next signal free."""
    moments = [as_utc(v["as_of"]) for v in versions if v.get("as_of")]
    moments += [
        as_utc(r["as_of"])
        for r in earlier
        if (r.get("trigger") or {}).get("retrain") and r.get("run") not in failed_runs
    ]
    return max(moments, default=None)


def cooldown(last: datetime | None, as_of: datetime | str, days: int) -> tuple[bool, str | None]:
    """Whether `as_of` is inside the cool-down of `days` after the `last` retraining, and until when."""
    if last is None:
        return False, None
    until = last + timedelta(days=days)
    return as_utc(as_of) < until, until.isoformat()


def judge(
    earlier: list[dict],
    versions: Iterable[dict],
    failed: set[str],
    verdict: str,
    champion: int | None,
    as_of: datetime | str,
    cooldown_days: int,
    reminder_days: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A monitor run's two decisions from its drift `verdict`: the report's `trigger` (`{"retrain",
    "last_retraining", "cooldown_days", "suppressed", "suppressed_until"}`: a confirmed drift starts a
    retraining unless inside the cool-down after the last one, `last_retraining` over `versions` and the
    `earlier` runs' signals, `failed` ones left out) and its `alert` (`drift_alert`: post or not)."""
    last = last_retraining(versions, earlier, failed)
    cooling, until = cooldown(last, as_of, cooldown_days)
    confirmed = verdict == CONFIRMED
    trigger = {
        "retrain": confirmed and not cooling,
        "last_retraining": last and last.isoformat(),
        "cooldown_days": cooldown_days,
        "suppressed": confirmed and cooling,
        "suppressed_until": until if confirmed and cooling else None,
    }
    return trigger, drift_alert(earlier, verdict, champion, as_of, trigger["retrain"], reminder_days)


def record_failed_retraining(
    storage: Storage, model: str, monitor_runs: Iterable[str], airflow_run_id: str | None, error: str | None
) -> list[str]:
    """Record that the retraining signalled by each of `monitor_runs` (the `run` of the drift evidence a
    failed retraining run consumed) failed: the monitor then leaves the cool-down free. Returns the keys
    written (rewritten the same on a second failure of the same run)."""
    written = []
    for run in sorted(set(monitor_runs)):
        key = layout.monitoring_file_key(model, run, layout.RETRAINING_FAILED)
        record = {"monitor_run": run, "airflow_run_id": airflow_run_id, "error": error}
        storage.put_text(key, json.dumps(record | {"recorded_at": clock.now().isoformat()}, indent=2))
        written.append(key)
    return written


def failed_runs(storage: Storage, model: str, earlier: list[dict]) -> set[str]:
    """The earlier monitor runs that signalled a retraining which failed (`record_failed_retraining`)."""
    signalled = [r["run"] for r in earlier if (r.get("trigger") or {}).get("retrain") and r.get("run")]
    return {
        run
        for run in signalled
        if storage.exists(layout.monitoring_file_key(model, run, layout.RETRAINING_FAILED))
    }


def evidence_runs(asset_events: Iterable[Any]) -> list[str]:
    """The monitor runs named by drift evidence (each consumed asset event's `extra["run"]`, read by duck
    typing from Airflow's events)."""
    extras = [getattr(event, "extra", None) or {} for event in asset_events or ()]
    return [str(extra["run"]) for extra in extras if extra.get("run")]
