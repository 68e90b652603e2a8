"""What each task says in its log, in a few human lines: what it did, the figures a person checks first, and
where its report is (the registry plugin's address when the plugin serves it, else the storage URI).

Each `*_lines` function turns a stage's result (the dict a task returns, and what it read) into lines, with
no I/O but reading the gate report; `log_summary` writes them to the task's log (a summary that cannot be
made is a warning, never the task's failure). Airflow shows the standard `logging` records of a task in
its log, so these are what a person reads in the UI, above the returned XCom dict.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from retrainer.core import layout
from retrainer.evaluation.gates import GateFailed
from retrainer.storage import Storage

log = logging.getLogger("retrainer.tasks")


def log_summary(summarise: Callable[..., list[str]], *args: Any) -> list[str]:
    """Log the lines `summarise(*args)` gives, each at INFO on the `retrainer.tasks` logger; returns them.
    A summary that cannot be made (a result without a field it reads) is a warning, never the task's
    failure: the work is done and its result returned all the same."""
    try:
        lines = [line for line in summarise(*args) if line]
    except Exception as error:  # noqa: BLE001 (a log line must not fail the task it describes)
        log.warning("no summary (%s: %s %s)", summarise.__name__, type(error).__name__, error)
        return []
    for line in lines:
        log.info("%s", line)
    return lines


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _page(uri: str | None, storage_root: str | None = None) -> str | None:
    """The address a person opens for a stored page: through the registry plugin when it serves the page
    (a Data Docs or a drift page, `layout.ui_url`), else the storage URI as it is."""
    if not uri:
        return None
    if storage_root and uri.startswith(storage_root.rstrip("/") + "/"):
        key = uri[len(storage_root.rstrip("/")) + 1 :]
        if key.split("/", 1)[0] in layout.UI_AREAS:
            return layout.ui_url(key)
    return uri


def train_lines(manifest: dict[str, Any]) -> list[str]:
    """The train task: the window and rows trained on, the challenger's trees (kept and why), its holdout
    figures against the baseline, whether the rows were weighted, and the run's manifest."""
    window, metrics = manifest.get("window") or {}, manifest.get("metrics", {})
    fit = manifest.get("fit") or {}
    challenger, baseline = metrics.get("challenger", {}), metrics.get("baseline", {})
    lines = [
        f"trained {manifest.get('model')} on {window.get('start')} .. {window.get('end')}: "
        f"{_number(window.get('rows'))} rows from {len(manifest.get('batches', []))} validated batch(es)",
        f"holdout PR-AUC: challenger {_number(challenger.get('pr_auc'))}, "
        f"baseline {_number(baseline.get('pr_auc'))}",
    ]
    if trees := fit.get("challenger_trees"):
        lines.append(f"challenger trees: {trees['why']}")
    if (manifest.get("tuning") or {}).get("enabled"):  # the search's choice (every trial: tuning.json)
        lines.append(f"tuning: {manifest['tuning']['why']}")
    if (fit.get("imbalance") or {}).get("applied"):
        balance = {k: v for k, v in fit["imbalance"].items() if v is not None and k != "applied"}
        lines.append(f"class imbalance: {balance}")
    adaptation = manifest.get("adaptation") or {}
    if adaptation.get("weighted"):
        lines.append(f"drift run: rows weighted toward the drifted days; kept the {fit.get('kept')} fit")
    lines.append(f"run manifest: {manifest['manifest_uri']}")
    return lines


def gate_table(gates: list[dict[str, Any]]) -> list[str]:
    """The gates as aligned lines: verdict, gate (and slice), value against threshold."""
    rows = [
        (g["verdict"].upper(), g["name"] + (f" [slice {g['slice']}]" if g.get("slice") else ""), g["detail"])
        for g in gates
    ]
    width = max((len(name) for _, name, _ in rows), default=0)
    return [f"  {verdict:<17} {name:<{width}}  {detail}" for verdict, name, detail in rows]


def evaluate_lines(result: dict[str, Any], gates: list[dict[str, Any]]) -> list[str]:
    """The evaluate task: the verdict, every gate with its value and threshold, the champion compared with,
    and the run's gate report in the Airflow UI (`layout.run_report_url`: no version yet)."""
    passed = sum(1 for g in gates if g["verdict"] == "passed")
    champion = result.get("champion_version")
    return [
        f"challenger passed the gates ({passed} passed, {len(gates) - passed} without enough data to judge); "
        + (f"compared with champion v{champion}" if champion else "no champion to compare with"),
        *gate_table(gates),
        f"gate report: {result['report_url']}",
    ]


def gate_failed_lines(failed: GateFailed) -> list[str]:
    """The evaluate task when the gates refuse the challenger: how many failed, the table, the report."""
    gates = [gate.to_dict() for gate in failed.gates]
    return [
        f"challenger REJECTED by {len(failed.failed)} of {len(gates)} gates; the champion stays as it is",
        *gate_table(gates),
        f"gate report: {failed.report_url}",
    ]


def stored_evaluate_lines(storage: Storage, result: dict[str, Any]) -> list[str]:
    """`evaluate_lines` with the gates read from the report evaluate wrote (`gates_uri` of its result)."""
    return evaluate_lines(result, json.loads(storage.get_text(storage.key_of(result["gates_uri"])))["gates"])


def register_lines(registered: dict[str, Any]) -> list[str]:
    model, version = registered["model"], registered["version"]
    aliases = ", ".join(registered.get("aliases") or []) or "no alias"
    state = "registered" if registered.get("created") else "already registered (a rerun)"
    return [
        f"{model} v{version} {state}: {aliases}; PR-AUC {_number(registered.get('pr_auc'))}",
        f"gate report: {layout.gate_report_url(model, version)}",
    ]


def score_lines(summary: dict[str, Any]) -> list[str]:
    """The score task: the day, rows, who decided them, and the scores file."""
    decided = ", ".join(f"v{who}: {_number(n)}" for who, n in (summary.get("decided_by") or {}).items())
    lines = [
        f"scored {summary['day']}: {_number(summary['rows'])} rows under {summary.get('mode')}"
        + (f" (champion v{summary['champion']}" if summary.get("champion") is not None else " (no champion")
        + (f", challenger v{summary['challenger']}" if summary.get("challenger") else "")
        + ")"
        + (f"; rows decided by {decided}" if decided else ""),
    ]
    if problem := summary.get("challenger_problem"):
        lines.append(f"challenger problem: {problem}")
    lines.append(f"scores: {summary['scores_uri']}")
    return lines


def day_report_lines(report: dict[str, Any]) -> list[str]:
    """The scoring DAG's report_day task: the day's health breaches (or none) and the report's page in the
    Airflow UI (`layout.day_report_url`)."""
    breaches = report.get("breaches") or []
    lines = [
        f"monitored {report['day']} under {report.get('mode')}: "
        + (f"{len(breaches)} breach(es), alerted" if breaches else "every health figure within its bounds")
    ]
    lines += [f"  - {breach}" for breach in breaches]
    if report.get("alert_rate_ratio") is not None:
        lines.append(f"challenger / champion alert rate: {_number(report['alert_rate_ratio'])}")
    lines.append(f"day report: {report['report_url']}")
    return lines


def act_lines(result: dict[str, Any]) -> list[str]:
    move = result.get("move")
    share = result.get("share")
    moved = f"; moved ({move['what']}, revision {' -> '.join(map(str, move['revision']))})" if move else ""
    at = f" at {share}%" if share not in (None, 0, 100) else ""
    return [
        f"{result['action']}: {result.get('reason') or 'no reason given'}",
        f"deployment now: {result.get('mode')}{at}{moved}",
    ]


def deploy_lines(action: str, version: Any, result: dict[str, Any]) -> list[str]:
    move = result.get("move")
    asked = f"{action}" + (f" v{version}" if version not in (None, "") else "")
    challenger = result.get("challenger")
    return [
        f"{asked}: " + (f"done ({move['what']})" if move else "nothing moved (already in that state)"),
        f"deployment now: {result.get('mode')}, champion v{result.get('champion')}"
        + (f", challenger v{challenger} at {result.get('share')}%" if challenger else "")
        + f" (revision {result.get('revision')})",
    ]


def drift_lines(result: dict[str, Any], storage_root: str | None = None) -> list[str]:
    """The drift monitor's check: the verdict, what moved most, whether a retraining starts, the report."""
    evidence = result.get("evidence") or {}
    moved = ", ".join(
        f"{f['feature']} PSI {_number(f.get('psi'))}" for f in (evidence.get("features") or [])[:3]
    )
    lines = [
        f"drift check {result.get('run')}: {result.get('verdict')}"
        + (f" ({', '.join(evidence['kinds'])})" if evidence.get("kinds") else "")
        + ("; confirmed" if result.get("confirmed") else "")
        + ("; a retraining is signalled" if result.get("trigger") else "; no retraining signalled"),
    ]
    if moved:
        lines.append(f"moved most: {moved}")
    if breaches := (evidence.get("estimate") or {}).get("breaches"):  # from the scores, before labels
        below = ", ".join(f"{b['day']} {_number(b['estimate'])}" for b in breaches)
        lines.append(f"estimated PR-AUC below {_number(breaches[0]['min_pr_auc'])}: {below}")
    page = result.get("page_url") or _page(result.get("page_uri"), storage_root)
    lines.append(f"drift report: {page or result.get('report_uri')}")
    return lines
