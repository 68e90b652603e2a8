"""Human approval of a new challenger: the options the Airflow form offers, the gate report's summary it
shows, and what each answer (or its absence) does to the deployment, with who, when and why in the audit.

    Approve        promote at once (blue-green; `retrainer deploy rollback` moves it back)
    Shadow first   the challenger scores every row beside the champion and decides none
    Canary         the challenger decides a share of customers, ramped by the daily scoring run
    Reject         nothing moves; the version stays registered
    (time-out)     as Reject, and the audit log says nobody answered in time
"""

from __future__ import annotations

import json
from typing import Any

from retrainer.core import layout
from retrainer.core.markup import code, text
from retrainer.deployment import actions
from retrainer.deployment.state import audit, read
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry

APPROVE, REJECT, SHADOW_FIRST, CANARY = "Approve", "Reject", "Shadow first", "Canary"
OPTIONS = (APPROVE, REJECT, SHADOW_FIRST, CANARY)
ON_TIMEOUT = REJECT  # the form's default, taken by Airflow when nobody answers in time
REQUIRED, AUTO = "required", "auto"  # the retraining DAG's `approval` Param
SETTLED = ("approval_answered", "approval_timed_out", "approval_auto")  # audit events that settle one


def decided(registry: Registry, version: int) -> bool:
    """Whether the approval of `version` is settled: answered, timed out or taken automatically. Judged
    from the audit log, not from whether this run created the version: a register task retried after a
    crash finds its version already there, and its challenger must still be asked."""
    return any(e.get("event") in SETTLED and e.get("version") == version for e in registry.audit_log())


def needs_approval(registered: dict | None, approval: str, settled: bool = False) -> bool:
    """True when a challenger waits for a person: the registered version holds the `challenger` alias, its
    approval is not `settled` (`decided`), and the run's `approval` Param is `required`."""
    if approval not in (REQUIRED, AUTO):
        raise ValueError(f"approval must be {REQUIRED!r} or {AUTO!r}, got {approval!r}")
    candidate = bool(registered and CHALLENGER in registered["aliases"])
    return candidate and not settled and approval == REQUIRED


def summary_markdown(registry: Registry, version: int) -> str:
    """The approval form's body: headline metric against the champion with its interval, money saved, the
    worst slice and where the full gate report is.

    Airflow's UI renders the body as Markdown: every text from data or configuration (model name, slice
    names made of category levels, the positives' word, hashes) is escaped (`core.markup`), so it shows as
    itself and cannot add a tag, a link or an image to the form a person approves from."""
    record = registry.get(version)
    gates = json.loads(registry.read_file(version, layout.GATES_FILE))
    metric = gates.get("headline_metric", "pr_auc")
    name = text(metric)
    mine = gates["metrics"]["challenger"][metric]
    lines = [f"### {text(registry.model)} v{version}: passed every gate", ""]
    champion = gates["metrics"].get(CHAMPION)
    interval = gates.get("non_regression")
    if champion and interval:
        lines.append(
            f"- **{name}** {mine:.4f} vs champion v{text(gates['champion_version'])} {champion[metric]:.4f}: "
            f"difference {interval['estimate']:+.4f}, {interval['confidence']:.0%} interval "
            f"[{interval['low']:+.4f}, {interval['high']:+.4f}]"
        )
    else:
        lines.append(f"- **{name}** {mine:.4f} (no champion to compare with)")
    saved = gates["costs"].get("saved_vs_champion")
    if saved is not None:
        verb = "saves" if saved >= 0 else "costs"
        lines.append(f"- **money**: {verb} {abs(saved):,.2f} against the champion on the holdout")
    judged = [row for row in gates["slices"]["rows"] if row["judged"]]
    if judged:
        worst = min(
            judged,
            key=lambda r: (r["delta"] if r.get("delta") is not None else 0.0, r["challenger_roc_auc"] or 0.0),
        )
        delta = f", {worst['delta']:+.4f} vs champion" if worst.get("delta") is not None else ""
        lines.append(
            f"- **worst slice**: {text(worst['slice'])} ROC-AUC {worst['challenger_roc_auc']:.4f}{delta} "
            f"({text(worst['positives'])} {text(gates.get('positives', 'positives'))})"
        )
    commit = (record.get("git") or {}).get("commit") or "-"
    # Ours, not data: the version is an int and the model name percent-encoded, so the link stays ours.
    report = layout.gate_report_url(registry.model, version)
    lines += [
        f"- trained on data {code(record.get('data_hash'))}, git {code(str(commit)[:12])}",
        f"- full report: [gate report v{version}]({report})",
        "",
        "**Approve** promotes at once; **Shadow first** scores beside the champion without deciding; "
        "**Canary** lets it decide a ramping share of customers; **Reject** keeps the champion.",
    ]
    return "\n".join(lines)


def _who(user: Any) -> str | None:
    if isinstance(user, dict):
        return user.get("name") or user.get("id")
    return user


def decide(
    registry: Registry, registered: dict | None, answer: dict | None, approval: str, params: dict
) -> dict:
    """Act on the approval of `registered` (register's XCom): `answer` is the form's XCom (chosen options,
    responded by, responded at), None when nobody was asked or the form failed. Writes the answer (or the
    time-out) to the audit log and moves the deployment; returns what was done, small for XCom."""
    if not registered:
        return {"decision": "none", "why": "nothing was registered"}
    version = registered["version"]
    if CHAMPION in registered["aliases"]:
        return {"decision": "champion", "version": version, "why": "first model: champion without approval"}
    if CHALLENGER not in registered["aliases"]:
        return {"decision": "none", "version": version, "why": "not the challenger: a newer model is"}
    if answer is None and decided(registry, version):
        return {"decision": "none", "version": version, "why": "decided before: a rerun asks nothing"}
    storage, model = registry.storage, registry.model
    if approval == AUTO:
        option, actor, why = params["deployment"]["auto_choice"], "auto-approval", "approval: auto"
        audit(storage, model, "approval_auto", version=version, actor=actor, option=option, reason=why)
    elif answer is None:
        audit(storage, model, "approval_missing", version=version, actor="retrain", reason="the form failed")
        return {"decision": "none", "version": version, "why": "no answer: the approval task did not finish"}
    elif _who(answer.get("responded_by_user")) is None:
        why = "nobody answered within the approval's response_timeout; it stays registered, not promoted"
        audit(
            storage,
            model,
            "approval_timed_out",
            version=version,
            actor="airflow",
            reason=why,
            at_deadline=answer.get("responded_at"),
        )
        return {"decision": "timed out", "version": version, "why": why}
    else:
        option = answer["chosen_options"][0]
        actor, why = _who(answer["responded_by_user"]), f"answered {option!r} in the Airflow approval form"
        audit(
            storage,
            model,
            "approval_answered",
            version=version,
            actor=actor,
            option=option,
            responded_at=str(answer.get("responded_at")),
            reason=why,
        )
    if option == REJECT:
        return {"decision": "rejected", "version": version, "by": actor, "why": why}
    state, _ = read(registry)
    reason = f"v{version} {option}: {why}"
    if option == APPROVE:
        if state["champion"] != version:
            state = actions.promote(registry, version, actor, reason)
    elif option == SHADOW_FIRST:
        if (state["mode"], state["challenger"]) != ("shadow", version):
            state = actions.start_shadow(registry, version, actor, reason)
    elif option == CANARY:
        if (state["mode"], state["challenger"]) != ("canary", version):
            state = actions.start_canary(registry, version, actor, reason, params)
    else:
        raise ValueError(f"unknown approval option {option!r}; known: {OPTIONS}")
    return {
        "decision": option,
        "version": version,
        "by": actor,
        "mode": state["mode"],
        "share": state["share"],
    }
