"""The registry page shown inside the Airflow UI: per model its deployment (mode, share, since), versions
with aliases, gate verdicts and a link to each gate report, lineage (batches, data hash, `dvc.lock` hashes,
git revision, feature definitions hash, params diff against the champion), the Airflow run that made each
version, the warnings of the batches each version was trained on, the latest shadow/canary monitoring
report and the audit log.

Read-only: it only reads storage; every change goes through the DAGs or the CLI. The deployment record
and scoring reports are read as stored JSON (keys from `core.layout`), so the registry needs neither.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

from retrainer.core import layout
from retrainer.core.artifacts import RAW_COLUMNS
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.storage import KeyNotFound, Storage

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2937; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .35rem .7rem; text-align: left; font-size: .85rem;
         vertical-align: top; }
th { background: #f3f4f6; } code { font-size: .75rem; } .alias { background: #dbeafe; padding: 0 .4rem; }
.state { background: #ecfdf5; border: 1px solid #a7f3d0; padding: .6rem 1rem; display: inline-block; }
.failed { color: #b91c1c; } details { margin: .2rem 0; } summary { cursor: pointer; }
"""
AIRFLOW_RUN = "/dags/{dag}/runs/{run}"  # the Airflow UI's page of a DAG run
RETRAIN_DAG = "retrain_{model}"  # each model's retraining DAG (dags/retrain_models.py)


def _cells(*cells: str, raw: tuple[int, ...] = ()) -> str:
    """A table row; every cell is escaped except the positions in `raw`: markup built here, by a helper
    that escapes every value it puts in (`_gates`, `_run_link`, `_lineage`, the alias names)."""
    return (
        "<tr>"
        + "".join(f"<td>{c if i in raw else escape(str(c))}</td>" for i, c in enumerate(cells))
        + "</tr>"
    )


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _json(storage: Storage, key: str) -> Any:
    try:
        return json.loads(storage.get_text(key))
    except KeyNotFound:
        return None


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out |= _flat(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def params_diff(params: dict | None, champion_params: dict | None) -> dict[str, tuple[Any, Any]]:
    """{dotted key: (this version's value, the champion's)} for every param that differs."""
    mine, theirs = _flat(params or {}), _flat(champion_params or {})
    return {
        k: (mine.get(k), theirs.get(k))
        for k in sorted(mine.keys() | theirs.keys())
        if mine.get(k) != theirs.get(k)
    }


def _metric(record: dict, name: str) -> str:
    value = (record.get("metrics") or {}).get("challenger", {}).get(name)
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _gates(record: dict, model: str) -> str:
    gates = record.get("gates") or []
    failed = [g for g in gates if g.get("verdict") == "failed"]
    verdict = f"{len(gates) - len(failed)}/{len(gates)} passed" if gates else "-"
    css = ' class="failed"' if failed else ""
    route = layout.GATE_REPORT_ROUTE.format(version=int(record["version"]), model=quote(model, safe=""))
    link = escape(route)  # relative to the page: works under any base URL
    return f'<span{css}>{escape(verdict)}</span> <a href="{link}">gate report</a>'


def _compare(record: dict, champion: dict | None, model: str) -> str:
    """A link to the version side by side with the champion (`registry.compare`); none for the champion
    itself or when there is none."""
    if champion is None or champion["version"] == record["version"]:
        return ""
    link = escape(layout.compare_route(model, int(record["version"])))  # relative, like the gate report
    return f' · <a href="{link}">compare with champion</a>'


def _run_link(record: dict) -> str:
    run = record.get("airflow_run_id")
    if not run:
        return "-"
    dag = RETRAIN_DAG.format(model=record.get("model", ""))
    href = escape(AIRFLOW_RUN.format(dag=quote(dag, safe=""), run=quote(str(run), safe="")))
    return f'<a href="{href}" target="_top">{escape(run)}</a>'


def _lineage(record: dict, champion: dict | None) -> str:
    git = record.get("git") or {}
    hashes = "".join(
        f"<li><code>{escape(str(path))}</code> {escape(str(md5))}</li>"
        for path, md5 in (record.get("dvc_lock_hashes") or {}).items()
    )
    batches = "".join(f"<li><code>{escape(str(b))}</code></li>" for b in record.get("batches") or [])
    if champion is None or champion["version"] == record["version"]:
        diff = "<p>(this is the champion)</p>" if champion else ""
    else:
        changed = params_diff(record.get("params"), champion.get("params"))
        rows = [_cells(k, json.dumps(a), json.dumps(b)) for k, (a, b) in changed.items()]
        title = f"params diff against champion v{champion['version']}"
        diff = _table(["param", "this version", title], rows) if rows else f"<p>{escape(title)}: none</p>"
    data_hash, commit = escape(str(record.get("data_hash"))), escape(str(git.get("commit") or "-"))
    return (
        f"<details><summary>lineage</summary><p>data hash <code>{data_hash}</code>, "
        f"git <code>{commit}</code>{' (dirty)' if git.get('dirty') else ''}</p>{_training(record)}"
        f"{_features(record)}"
        f"<p>dvc.lock hashes</p><ul>{hashes}</ul><p>batches</p><ul>{batches}</ul>{diff}</details>"
    )


def _training(record: dict) -> str:
    """How the version was trained, from its lineage: the search (`tuning`: trials, pruned, seed, what
    stopped it, the validation score as written and chosen, the chosen values), the class imbalance handling
    and the score calibration (holdout ECE raw and calibrated); nothing a version does not record."""
    lines = []
    tuning = record.get("tuning")
    if isinstance(tuning, dict) and tuning.get("enabled"):
        written, best = (tuning.get("as_written") or {}).get("value"), (tuning.get("best") or {}).get("value")
        chosen = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in tuning["chosen"].items()
        )
        lines.append(
            f"tuned: {tuning.get('trials_run')} trials ({tuning.get('trials_pruned')} pruned, seed "
            f"{tuning.get('seed')}, stopped by {tuning.get('stopped_by')}), valid {tuning.get('metric')} "
            f"{_fixed(written)} as written, {_fixed(best)} chosen: {chosen or 'the values as written'}"
        )
    elif isinstance(tuning, dict):
        lines.append("not tuned: train.xgboost as written")
    imbalance = record.get("imbalance")
    if isinstance(imbalance, dict) and imbalance.get("applied"):
        sample = imbalance.get("sample") or {}
        lines.append(
            f"class imbalance: scale_pos_weight {imbalance.get('scale_pos_weight_used', '-')}, "
            f"negatives kept "
            f"{sample.get('negatives_after', '-')} of {sample.get('negatives_before', '-')}"
        )
    calibration = record.get("calibration")
    if isinstance(calibration, dict) and calibration.get("method"):
        raw, calibrated = (calibration.get(side) or {} for side in ("uncalibrated", "calibrated"))
        lines.append(
            f"scores calibrated: {calibration['method']}, holdout ECE {_fixed(raw.get('ece'))} raw, "
            f"{_fixed(calibrated.get('ece'))} calibrated"
        )
    return "".join(f"<p>{escape(str(line))}</p>" for line in lines)


def _fixed(value: Any, sign: str = "") -> str:
    """A stored metric with four decimals, or `-` when the record holds no number there."""
    return f"{value:{sign}.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _features(record: dict) -> str:
    """The feature definitions' hash and derived columns of a version (`registry.lineage.
    feature_definitions`), and its PR-AUC against the same model on the raw columns alone; nothing for a
    version registered before lineage recorded them."""
    features, comparison = record.get("features"), record.get(RAW_COLUMNS)
    if not isinstance(features, dict):
        return ""
    derived = features.get("derived") or []
    names = "".join(f"<li><code>{escape(str(name))}</code></li>" for name in derived)
    out = (
        f"<p>feature definitions hash <code>{escape(str(features.get('definitions_hash')))}</code>, "
        f"{len(derived)} derived feature(s)</p>" + (f"<ul>{names}</ul>" if names else "")
    )
    if isinstance(comparison, dict):
        if comparison.get("comparable"):
            mine, raw = (_fixed(comparison.get(k)) for k in ("challenger_pr_auc", "pr_auc"))
            out += (
                f"<p>declared features vs raw columns alone: PR-AUC {mine} against {raw}, "
                f"lift {_fixed(comparison.get('lift'), '+')}</p>"
            )
        else:
            out += f"<p>declared features vs raw columns alone: {escape(str(comparison.get('reason')))}</p>"
    return out


def _data_warnings(versions: list[dict]) -> str:
    """What the validation of the batches each version was trained on warned about (`lineage
    ["data_warnings"]`, `registry.data_warnings`), newest version first; every value escaped."""
    rows = [
        _cells(
            f"v{record['version']}",
            batch.get("run_key"),
            w.get("expectation"),
            w.get("column") or "(table)",
            w.get("text"),
        )
        for record in versions
        for batch in record.get("data_warnings") or []
        for w in batch.get("warnings") or []
    ]
    if not rows:
        return "<p>No version was trained on a batch with warnings.</p>"
    return _table(["version", "batch", "expectation", "column", "warning"], rows)


def _deployment(state: dict | None) -> str:
    if state is None:
        return "<p class='state'>No deployment record yet: the champion alias decides every row.</p>"
    # Every value is escaped, numbers too: the record is stored JSON, read back as whatever it holds.
    s = {key: escape(str(value)) for key, value in state.items()}
    challenger = f", challenger <b>v{s['challenger']}</b>" if state.get("challenger") else ""
    share = f" deciding <b>{s['share']}%</b> of customers" if state["mode"] == "canary" else ""
    previous = f"; previous champion v{s['previous_champion']}" if state.get("previous_champion") else ""
    return (
        f"<p class='state' id='deployment'>mode <b>{s['mode']}</b>: champion "
        f"<b>v{s['champion']}</b>{challenger}{share}, since {escape(str(state.get('since') or '-'))} "
        f"(revision {s['revision']}, set by {escape(str(state.get('set_by')))}: "
        f"{escape(str(state.get('reason')))}){previous}</p>"
    )


def _monitoring(model: str, report: dict | None, state: dict | None) -> str:
    """The latest scored day's shadow/canary figures; said to be history when the deployment has moved
    since that day was scored (its `deployment_revision` is not the record's), so an ended canary's day
    never reads as the canary running now."""
    if report is None:
        return "<p>No day scored yet.</p>"
    scored_under, now = report.get("deployment_revision"), (state or {}).get("revision")
    moved = ""
    if scored_under is not None and now is not None and scored_under != now:
        moved = (
            f"<p class='state'>This day was scored under deployment revision {escape(str(scored_under))} "
            f"(mode {escape(str(report.get('mode')))}); the deployment has moved since (now revision "
            f"{escape(str(now))}, mode {escape(str(state.get('mode')))}): it describes what ran then, "
            "not what runs now.</p>"
        )
    keys = (
        "day", "mode", "share", "rows", "decided_by", "champion_alert_rate", "challenger_alert_rate",
        "alert_rate_ratio", "agreement", "challenger_psi", "challenger_error_rate", "performance",
    )  # fmt: skip
    rows = [_cells(k, json.dumps(report.get(k), default=str)) for k in keys if k in report]
    # the day's report page through the plugin (a storage URI is no link a browser opens from the UI)
    link = layout.day_report_url(model, str(report.get("day")))
    return (
        moved + _table(["latest scored day", "value"], rows) + f'<p><a href="{escape(link)}">report</a></p>'
    )


def _latest_report(storage: Storage, model: str) -> dict | None:
    keys = [k for k in storage.list(layout.scores_area(model)) if k.endswith("/" + layout.SCORE_REPORT_FILE)]
    return _json(storage, keys[-1]) if keys else None


def _history_link(model: str) -> str:
    """The link to the model's history page (relative to the page: works under any base URL)."""
    href = escape(layout.HISTORY_ROUTE.format(model=quote(model, safe="")))
    return f'<p><a class="history" href="{href}">history of {escape(model)} over time</a></p>'


def render_model(registry: Registry, notes: str = "") -> str:
    """The section of one model, `notes` (markup built by the caller) under its heading."""
    storage, model = registry.storage, registry.model
    by_version = registry.aliases_by_version()
    champion = registry.get(CHAMPION) if registry.alias(CHAMPION) else None
    rows, versions = [], list(reversed(registry.versions()))  # newest first
    for record in versions:
        names = " ".join(
            f'<span class="alias">{escape(a)}</span>' for a in by_version.get(record["version"], [])
        )
        rows.append(
            _cells(
                f"v{record['version']}",
                names,
                record.get("as_of", "-"),
                _metric(record, "pr_auc"),
                _metric(record, "recall_at_fpr"),
                _gates(record, model) + _compare(record, champion, model),
                _run_link(record),
                _lineage(record, champion),
                raw=(1, 5, 6, 7),
            )
        )
    audit = [
        _cells(
            e["at"],
            e["event"],
            e.get("alias") or e.get("option") or e.get("mode") or "",
            f"v{e.get('version')}" if e.get("version") is not None else "",
            e.get("actor") or "",
            e.get("reason") or "",
        )
        for e in reversed(registry.audit_log())
    ]
    state = _json(storage, layout.registry_deployment_key(model))
    return (
        f"<section><h2>{escape(model)}</h2>{notes}{_history_link(model)}"
        f"<h3>Deployment</h3>{_deployment(state)}"
        "<h3>Versions</h3>"
        + _table(
            ["version", "aliases", "as of", "PR-AUC", "recall@FPR", "gates", "Airflow run", "lineage"], rows
        )
        + f"<h3>Data warnings</h3>{_data_warnings(versions)}"
        + f"<h3>Shadow / canary monitoring</h3>{_monitoring(model, _latest_report(storage, model), state)}"
        + "<h3>Audit log</h3>"
        + _table(["at", "event", "alias / option / mode", "version", "by", "why"], audit)
        + "</section>"
    )


def models(storage: Storage) -> list[str]:
    return layout.registry_models(storage.list(layout.REGISTRY_AREA))


def render(storage: Storage, names: list[str] | None = None, notes: dict[str, str] | None = None) -> str:
    """The whole page: one section per model (default: those in the registry), each with its `notes`
    under its heading (markup built by the caller, e.g. `registry.ui.model_notes`)."""
    names = models(storage) if names is None else names
    notes = notes or {}
    body = (
        "".join(render_model(Registry(storage, name), notes.get(name, "")) for name in names)
        or "<p>No model registered yet.</p>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Model registry</title>"
        f"<style>{STYLE}</style></head><body><h1>Model registry</h1>"
        f"<p>Models: {escape(', '.join(names) or '-')}. Read-only: deploy with a model's "
        "<code>deploy_&lt;model&gt;</code> DAG or <code>retrainer deploy --model &lt;model&gt;</code>.</p>"
        f"{body}</body></html>"
    )
