"""The approval form's body (Airflow's HITL form for a new challenger, Browse > Required Actions): the gate
summary, the alert-rate change against the champion, why the run happened (with its evidence in one
line), what is deployed now, what each answer would do to it (e.g. "ends v2's 5 % canary"), and who may
answer. Built when the version is registered; Markdown, every text from data or configuration escaped
(`core.markup`), so a value shows as itself and never as a tag, a link or an image.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from retrainer.core import clock, layout
from retrainer.core.markup import code, text
from retrainer.deployment.approval import APPROVE, CANARY, REJECT, SHADOW_FIRST, summary_markdown
from retrainer.deployment.state import CANARY as CANARY_MODE
from retrainer.deployment.state import SHADOW, read_or_none
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry

# The form's one field (the HITL operator's `params`): its text goes with the answer to the audit log.
COMMENT = "comment"


def form_body(registry: Registry, version: int, params: dict[str, Any], now: datetime | None = None) -> str:
    """The whole approval form of `version` (registered, with its gate report) of the model whose checked
    params are `params`, as Markdown; `now` (default: the clock) dates the deployment shown."""
    record = registry.get(version)
    gates = json.loads(registry.read_file(version, layout.GATES_FILE))
    state = read_or_none(registry)
    rate = alert_rate_line(gates)
    extra = [rate] if rate else []
    if state is not None and int(state["champion"]) != int(version):
        # Ours, not data: the versions ints, the model percent-encoded (`core.layout`). The champion the
        # form names, pinned: a promotion before the click must not change what is compared.
        champion = int(state["champion"])
        link = layout.compare_url(registry.model, version, champion)
        extra.append(f"- **side by side**: [compare with the champion v{champion}]({link})")
    lines = [summary_markdown(registry, version, extra)]  # beside the metrics
    lines += [
        "",
        "#### Why this run",
        f"- {why_line(record.get('trigger') or {}, record.get('as_of'))}",
        "",
        f"#### Deployed now{_revision(state)}",
        f"- {deployed_line(state, now or clock.now())}",
        "",
        "#### What each answer does",
        *(f"- **{option}**: {effect}" for option, effect in effects(state, version, params).items()),
        "- no answer before the form's time-out: as **Reject**",
        "",
        "#### Who may answer",
        f"- {who_may_answer(params['deployment']['approvers'])}",
        f"- Write why in **{COMMENT}**: it is recorded with your answer in the registry's audit log.",
    ]
    return "\n".join(lines)


def _revision(state: dict | None) -> str:
    return f" (deployment revision {int(state['revision'])})" if state else ""


def alert_rate_line(gates: dict) -> str | None:
    """The challenger's alert rate on the holdout against the champion's, each at its own threshold, and
    the bounds that would roll a canary back; None for a report without a champion or alert rates."""
    found = gates.get("alert_rates") or {}
    rates = found.get("rates") or {}
    mine, theirs = rates.get(CHALLENGER), rates.get(CHAMPION)
    if mine is None or theirs is None:
        return None
    low, high = (found.get("bounds") or [None, None])[:2]
    ratio = f"{mine / theirs:.2f}x" if theirs else ("1x" if not mine else "unbounded")
    bounds = f"; a canary is rolled back outside {low:g}x-{high:g}x" if low is not None else ""
    champion = gates.get("champion_version")
    return (
        f"- **alert rate**: {mine:.2%} of the {int(found.get('rows') or 0):,} holdout rows vs champion "
        f"v{text(champion)}'s {theirs:.2%} ({ratio}{bounds})"
    )


def why_line(trigger: dict, as_of: Any = None) -> str:
    """Why the run happened, in one line: the schedule (and its interval's end), by hand, drift (the
    monitor run, its verdict and the top features with their PSI, or the scores' or PR-AUC's move), or the
    follow-up of an earlier drift-triggered version."""
    kind = trigger.get("kind")
    if not kind:  # a version registered without it (by hand, or before lineage recorded it)
        return "not recorded in the version's lineage"
    until = f" (data up to {text(as_of)})" if as_of else ""
    if kind == "schedule":
        return f"**schedule**: the model's scheduled retraining{until}"
    if kind == "manual":
        return f"**manual**: triggered by hand{until}"
    if kind == "follow-up":
        reason = text(trigger.get("reason") or "follow-up")
        return f"**follow-up**: {reason}, the drifted days' labels have matured{until}"
    evidence = [e.get("extra") or {} for e in trigger.get("asset_events") or []]
    drift = [e for e in evidence if "follows_up" not in e] or evidence
    return f"**drift**: {'; '.join(_evidence(e) for e in drift[-1:]) or 'no evidence recorded'}{until}"


def _evidence(extra: dict) -> str:
    """One drift event's evidence: which monitor run, its verdict, what moved and by how much."""
    threshold = (extra.get("thresholds") or {}).get("psi_threshold")
    moved = [
        f"{text(f.get('feature'))} PSI {f['psi']:.3f}"
        for f in (extra.get("features") or [])[:3]
        if isinstance(f.get("psi"), int | float)
    ]
    parts = [f"monitor run {text(extra.get('run') or '?')}: {text(extra.get('verdict') or 'drift')}"]
    if moved:
        parts.append(", ".join(moved) + (f" (threshold {text(threshold)})" if threshold is not None else ""))
    prediction = extra.get("prediction") or {}
    if prediction.get("verdict") == "drift" and isinstance(prediction.get("psi"), int | float):
        parts.append(f"scores PSI {prediction['psi']:.3f}")
    performance = extra.get("performance") or {}
    if performance.get("verdict") == "drift" and isinstance(performance.get("pr_auc"), int | float):
        parts.append(f"PR-AUC {performance['pr_auc']:.3f} vs holdout {performance.get('holdout_pr_auc')}")
    if extra.get("page_url"):
        parts.append(f"report {code(extra['page_url'])}")
    return "; ".join(parts)


def deployed_line(state: dict | None, now: datetime) -> str:
    """What decides the rows today: the champion, and a shadow or canary challenger with its share, since
    when and its day (day 1 = the day it started)."""
    if state is None:
        return "nothing yet: no champion"
    line = f"champion **v{int(state['champion'])}**"
    if state["mode"] in (SHADOW, CANARY_MODE) and state.get("challenger") is not None:
        running = _running(state)
        since = state.get("since")
        day = ""
        if since:
            started = clock.as_utc(since)
            day = f" since {started.date().isoformat()} (day {max((now - started).days, 0) + 1})"
        line += f"; {running}{day}"
    elif state.get("previous_champion") is not None:
        line += f" (previous champion v{int(state['previous_champion'])}, what a rollback brings back)"
    set_by = state.get("set_by")
    return line + (f"; set by {text(set_by)}" if set_by else "")


def _running(state: dict) -> str:
    """The running challenger in a few words: "v2's 5 % canary" or "v2's shadow run"."""
    version = int(state["challenger"])
    if state["mode"] == CANARY_MODE:
        return f"v{version}'s {int(state.get('share') or 0)} % canary"
    return f"v{version}'s shadow run"


def effects(state: dict | None, version: int, params: dict[str, Any]) -> dict[str, str]:
    """What each answer would do to the deployment `state` (None: nothing deployed), in the form's order of
    reading: what it starts and what it ends or replaces."""
    steps = params["deployment"]["canary"]["steps"]
    champion = f"v{int(state['champion'])}" if state else "the champion"
    running = state and state["mode"] in (SHADOW, CANARY_MODE) and state.get("challenger") is not None
    ends = f"; **ends {_running(state)}**" if running else ""
    replaced = f"; {champion} stays as previous champion (`retrainer deploy rollback` brings it back)"
    return {
        APPROVE: f"v{version} becomes champion at once (blue-green), replacing {champion}{ends}{replaced}",
        SHADOW_FIRST: f"v{version} scores every row beside champion {champion} and decides none{ends}",
        CANARY: f"v{version} decides {int(steps[0])} % of customers, ramped "
        f"{' -> '.join(f'{int(s)} %' for s in steps)} by the daily scoring run{ends}",
        REJECT: "nothing moves"
        + (f"; {_running(state)} goes on" if running else "")
        + f"; v{version} stays registered, never deployed by this form",
    }


def who_may_answer(approvers: list[str]) -> str:
    """Who Airflow lets answer: the model's `deployment.approvers` (the form's assigned users), or any user
    allowed to answer this DAG's required actions. Anyone else's click is refused (HTTP 403) and nothing
    moves: the form says so, since the UI only shows that the response failed."""
    if approvers:
        names = ", ".join(code(user) for user in approvers)
        return (
            f"only {names} (`deployment.approvers`); Airflow refuses anyone else's answer "
            '("not a respondent for the task", HTTP 403; the UI shows only "Response failed") and nothing '
            "moves"
        )
    return (
        "any user allowed to answer this DAG's required actions (no `deployment.approvers` set); a viewer's "
        'click is refused by Airflow (HTTP 403; the UI shows only "Response failed") and nothing moves'
    )
