"""Human approval of a new challenger: the options the Airflow form offers, the gate report's summary it
shows, and what each answer (or its absence) does to the deployment, with who, when and why in the audit.

    Approve        promote at once (blue-green; `retrainer deploy rollback` moves it back)
    Shadow first   the challenger scores every row beside the champion and decides none
    Canary         the challenger decides a share of customers, ramped by the daily scoring run
    Reject         nothing moves; the version stays registered
    (time-out)     as Reject, and the audit log says nobody answered in time

One answer per approval: the first answer to a version (or its time-out, or the auto-approval) is written
create-only (`registry/<model>/approvals/<version>.json`); a later, different answer is refused
(`AlreadyDecided`, naming the first: what, who, when) and audited as `approval_refused`, so a Reject (and a
time-out) is final for that version. The same answer again (the decide task retried) only finishes its move.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from retrainer.core import layout
from retrainer.core.markup import code, text
from retrainer.deployment import actions
from retrainer.deployment.state import DeploymentError, audit, now_text, read, read_or_none, settle
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import KeyExists
from retrainer.training.adapt import describe as describe_training

APPROVE, REJECT, SHADOW_FIRST, CANARY = "Approve", "Reject", "Shadow first", "Canary"
OPTIONS = (APPROVE, REJECT, SHADOW_FIRST, CANARY)
ON_TIMEOUT = REJECT  # the form's default, taken by Airflow when nobody answers in time
REQUIRED, AUTO = "required", "auto"  # the retraining DAG's `approval` Param
SETTLED = ("approval_answered", "approval_timed_out", "approval_auto")  # audit events that settle one
ANSWERED, TIMED_OUT, AUTO_APPROVED = SETTLED  # the kinds of a recorded answer: its audit event


class AlreadyDecided(DeploymentError):
    """The approval of this version was answered before: one answer per approval, the first one stands."""

    def __init__(self, model: str, version: int, first: dict, option: str | None, actor: str | None) -> None:
        super().__init__(
            f"refusing the answer {option!r} by {actor} to the approval of {model} v{version}: it was "
            f"answered {first.get('option')!r} by {first.get('actor')} at {first.get('recorded_at')} "
            f"({first.get('kind')}), and one answer per approval stands "
            f"({layout.registry_approval_key(model, version)}). To deploy another model, train a new "
            "version; an operator's move is `retrainer deploy`, audited under their name"
        )
        self.first = first


def decided(registry: Registry, version: int) -> bool:
    """Whether the approval of `version` is settled: answered, timed out or taken automatically. Judged
    from the recorded answer and the audit log, not from whether this run created the version: a register
    task retried after a crash finds its version already there, and its challenger must still be asked."""
    if registry.storage.exists(layout.registry_approval_key(registry.model, version)):
        return True
    return _settling_event(registry, version) is not None


def _settling_event(registry: Registry, version: int) -> dict | None:
    """The first audit event that settled the approval of `version` (before answers were recorded)."""
    settled = (e for e in registry.audit_log() if e.get("event") in SETTLED and e.get("version") == version)
    return next(settled, None)


def _same(first: dict, answer: dict) -> bool:
    return all(first.get(k) == answer.get(k) for k in ("kind", "option", "actor", "responded_at"))


def record_answer(registry: Registry, version: int, answer: dict) -> tuple[dict, bool]:
    """Write `answer` (kind, option, actor, responded_at) as the one answer to the approval of
    `version`, create-only; returns (the answer that stands, whether it is this one). Of two answers at
    once, exactly one is written. A version settled in the audit log before answers were recorded keeps
    the answer the log holds."""
    storage, key = registry.storage, layout.registry_approval_key(registry.model, version)
    if not storage.exists(key) and (event := _settling_event(registry, version)) is not None:
        logged = {
            "version": version,
            "kind": event["event"],
            "option": event.get("option", REJECT),  # a time-out is a Reject
            "actor": event.get("actor"),
            "responded_at": event.get("responded_at"),
            "recorded_at": event["at"],
        }
        with contextlib.suppress(KeyExists):  # another writer recorded it (or an answer) first
            storage.put_text(key, json.dumps(logged, default=str), if_absent=True)
    answer = {"version": version, **answer, "recorded_at": now_text()}
    try:
        storage.put_text(key, json.dumps(answer, default=str), if_absent=True)
    except KeyExists:
        first = json.loads(storage.get_text(key))
        return first, _same(first, answer)
    return answer, True


def _settle(registry: Registry, version: int, answer: dict, **details) -> None:
    """Record `answer` as the approval's one answer and audit it once; AlreadyDecided (audited as
    `approval_refused`) if another answer stands. The same answer again passes: a retried decide task
    finishes the move its first try began."""
    first, stands = record_answer(registry, version, answer)
    storage, model = registry.storage, registry.model
    if not stands:
        audit(
            storage,
            model,
            "approval_refused",
            version=version,
            actor=answer["actor"],
            option=answer["option"],
            responded_at=answer.get("responded_at"),
            reason=f"answered after {first.get('option')!r} by {first.get('actor')} at "
            f"{first.get('recorded_at')}: one answer per approval",
            first=first,
        )
        raise AlreadyDecided(model, version, first, answer["option"], answer["actor"])
    if _settling_event(registry, version) is None:  # once, also when a crash came between record and audit
        audit(storage, model, answer["kind"], version=version, actor=answer["actor"], **details)


def needs_approval(registered: dict | None, approval: str, settled: bool = False) -> bool:
    """True when a challenger waits for a person: the registered version holds the `challenger` alias, its
    approval is not `settled` (`decided`), and the run's `approval` Param is `required`."""
    if approval not in (REQUIRED, AUTO):
        raise ValueError(f"approval must be {REQUIRED!r} or {AUTO!r}, got {approval!r}")
    candidate = bool(registered and CHALLENGER in registered["aliases"])
    return candidate and not settled and approval == REQUIRED


def summary_markdown(registry: Registry, version: int, extra: Sequence[str] = ()) -> str:
    """The approval form's body: headline metric against the champion with its interval, money saved, the
    worst slice and where the full gate report is; `extra` lines (Markdown, escaped by their maker) follow
    the money line.

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
    lines.extend(extra)
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
    if trained_on := record.get("trained_on"):  # which rows and weights (training.adapt)
        lines.append(f"- **trained on**: {text(describe_training(trained_on))}")
    lines += [
        f"- trained on data {code(record.get('data_hash'))}, git {code(str(commit)[:12])}",
        f"- full report: [gate report v{version}]({report})",
        "",
        "**Approve** promotes at once; **Shadow first** scores beside the champion without deciding; "
        "**Canary** lets it decide a ramping share of customers; **Reject** keeps the champion.",
    ]
    return "\n".join(lines)


def _moved_since_form(registry: Registry, shown: int | None) -> str:
    """What the answer's reason adds when the deployment moved after the form showed it (revision `shown`,
    register's `form_revision`): the person answered about a state that is no longer the one it changes."""
    now_at = (read_or_none(registry) or {}).get("revision")
    if shown is None or now_at == shown:
        return ""
    return f" (the form showed deployment revision {shown}; it was at revision {now_at} when answered)"


def _who(user: Any) -> str | None:
    if isinstance(user, dict):
        return user.get("name") or user.get("id")
    return user


def decide(
    registry: Registry, registered: dict | None, answer: dict | None, approval: str, params: dict
) -> dict:
    """Act on the approval of `registered` (register's XCom): `answer` is the form's XCom (chosen options,
    responded by, responded at), None when nobody was asked or the form failed. Records the answer (or the
    time-out, or the auto-approval) as the version's one answer, writes it to the audit log and moves the
    deployment; returns what was done, small for XCom. AlreadyDecided (audited as `approval_refused`,
    nothing moves) for a different answer after the first: a Reject stays final."""
    if not registered:
        return {"decision": "none", "why": "nothing was registered"}
    version = registered["version"]
    if CHAMPION in registered["aliases"]:
        return {"decision": "champion", "version": version, "why": "first model: champion without approval"}
    if CHALLENGER not in registered["aliases"]:
        return {"decision": "none", "version": version, "why": "not the challenger: a newer model is"}
    if answer is None and decided(registry, version):
        return {"decision": "none", "version": version, "why": "decided before: a rerun asks nothing"}
    if approval == AUTO:
        option, actor, why = params["deployment"]["auto_choice"], "auto-approval", "approval: auto"
        given = {"kind": AUTO_APPROVED, "option": option, "actor": actor, "responded_at": None}
        _settle(registry, version, given, option=option, reason=why)
    elif answer is None:
        audit(
            registry.storage,
            registry.model,
            "approval_missing",
            version=version,
            actor="retrain",
            reason="the form failed",
        )
        return {"decision": "none", "version": version, "why": "no answer: the approval task did not finish"}
    elif _who(answer.get("responded_by_user")) is None:
        why = "nobody answered within the approval's response_timeout; it stays registered, not promoted"
        deadline = answer.get("responded_at")
        given = {"kind": TIMED_OUT, "option": REJECT, "actor": "airflow", "responded_at": str(deadline)}
        first, stands = record_answer(registry, version, given)  # a time-out moves nothing: never refused
        if not stands or _settling_event(registry, version) is None:  # audited once, or as late
            audit(
                registry.storage,
                registry.model,
                TIMED_OUT,
                version=version,
                actor="airflow",
                reason=why,
                at_deadline=deadline,
                **({} if stands else {"answered_before": first}),
            )
        return {"decision": "timed out", "version": version, "why": why}
    else:
        option = answer["chosen_options"][0]
        if option not in OPTIONS:  # before it is recorded as the answer
            raise ValueError(f"unknown approval option {option!r}; known: {OPTIONS}")
        actor, why = _who(answer["responded_by_user"]), f"answered {option!r} in the Airflow approval form"
        # the form's comment field (approval_form.COMMENT): the person's why, kept with the answer and move
        comment = str((answer.get("params_input") or {}).get("comment") or "").strip()
        why += f": {comment}" if comment else ""
        why += _moved_since_form(registry, registered.get("form_revision"))
        responded_at = str(answer.get("responded_at"))
        given = {"kind": ANSWERED, "option": option, "actor": actor, "responded_at": responded_at}
        given |= {"comment": comment}
        details = {"option": option, "responded_at": responded_at, "reason": why, "comment": comment}
        _settle(registry, version, given, **details)
    if option == REJECT:
        return {"decision": "rejected", "version": version, "by": actor, "why": why}
    settle(registry)  # a move of this answer interrupted by a crash is finished, not skipped as done
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
