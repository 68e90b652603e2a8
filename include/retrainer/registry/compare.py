"""Two versions of one model side by side, from the registry's records and stored reports: what the
comparison page (`registry.compare_html`, the plugin's `/registry/compare`) shows, as plain data.

In: a `Registry` and two version numbers (`b` None: the champion of the deployment record, else of the
alias). Out: a `comparison` dict whose sections are lists of rows `{"name", "a", "b", "difference"}`
(difference = a - b where both are numbers), plus the gates and slices matched by name, the params diff,
the features added and removed, and each version's approvals and deployment moves from the audit log.

Each version's gate report (`gates.json`) is read through `Registry.read_file`, so its bytes are checked
against the sha256 in the version's record; a report that fails the check is not used, and the comparison
says so in `problems` (the record's own gates and metrics still show).
"""

from __future__ import annotations

import json
from typing import Any

from retrainer.core import layout
from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.page import params_diff
from retrainer.registry.store import Registry, VersionNotFound
from retrainer.storage import ChecksumMismatch, KeyNotFound

METRICS = ("pr_auc", "roc_auc", "recall_at_fpr", "rows", "positives")
COSTS = ("threshold", "alerts", "missed_fraud_amount", "review_cost", "total")
APPROVAL_EVENT = "approval_"  # approval_answered, approval_timed_out, approval_auto, approval_refused


class NoChampion(VersionNotFound):
    """No `b` was given and the model has no champion to compare with."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def row(name: str, a: Any, b: Any) -> dict[str, Any]:
    """One line of a side-by-side table; `difference` is a - b when both are numbers, else None."""
    return {"name": name, "a": a, "b": b, "difference": a - b if _number(a) and _number(b) else None}


def champion_version(registry: Registry) -> int | None:
    """The champion: the deployment record's (the truth of what scores), else the alias's, else None."""
    try:
        state = json.loads(registry.storage.get_text(layout.registry_deployment_key(registry.model)))
    except KeyNotFound:
        state = None
    if isinstance(state, dict) and state.get("champion") is not None:
        return int(state["champion"])
    alias = registry.alias(CHAMPION)
    return None if alias is None else int(alias["version"])


def gate_report(registry: Registry, record: dict) -> tuple[dict | None, str | None]:
    """The version's stored gate report, checked by its sha256: (report, None), or (None, why not)."""
    version = record["version"]
    if layout.GATES_FILE not in (record.get("files") or {}):
        return None, f"v{version} has no stored gate report ({layout.GATES_FILE}): its record's gates shown"
    try:
        return json.loads(registry.read_file(version, layout.GATES_FILE)), None
    except ChecksumMismatch as error:
        return None, f"v{version}: {error}; its gate report is not used (`retrainer registry verify`)"
    except KeyNotFound as error:
        return None, f"v{version}: its gate report is missing ({error.uri}); run `retrainer registry verify`"


def _label(gate: dict) -> str:
    return f"{gate.get('name')}" + (f" [slice {gate['slice']}]" if gate.get("slice") else "")


def gate_rows(a_gates: list[dict], b_gates: list[dict]) -> list[dict[str, Any]]:
    """Every gate of either version, matched by name and slice, in a's order then b's own: each side is
    {verdict, value, threshold} or None where that version was not held to the gate."""

    def side(gate: dict | None) -> dict | None:
        return gate and {k: gate.get(k) for k in ("verdict", "value", "threshold")}

    mine, theirs = {_label(g): g for g in a_gates}, {_label(g): g for g in b_gates}
    return [
        {"gate": label, "a": side(mine.get(label)), "b": side(theirs.get(label))} for label in mine | theirs
    ]


def slice_rows(a_report: dict | None, b_report: dict | None) -> list[dict[str, Any]]:
    """Every slice of either gate report, matched by name: each side is the slice's rows, positives, the
    version's own value of the slice metric, whether it was judged and its difference from the champion
    of its day (delta, with its interval), or None where that report has no such slice."""

    def rows_of(report: dict | None) -> dict[str, dict]:
        slices = (report or {}).get("slices") or {}
        metric = slices.get("metric", "roc_auc")
        return {
            str(r.get("slice")): {
                "rows": r.get("rows"),
                "positives": r.get("positives"),
                "metric": metric,
                "value": r.get(f"{CHALLENGER}_{metric}"),
                "judged": r.get("judged"),
                "delta": r.get("delta"),
                "delta_low": r.get("delta_low"),
                "delta_high": r.get("delta_high"),
            }
            for r in slices.get("rows") or []
        }

    mine, theirs = rows_of(a_report), rows_of(b_report)
    return [{"slice": name, "a": mine.get(name), "b": theirs.get(name)} for name in mine | theirs]


def settings_tree(record: dict) -> dict[str, Any]:
    """What made a version, as one tree for the params diff: its params, the tuning's chosen values, the
    class imbalance handling it used and the calibration's method."""
    tree: dict[str, Any] = {"params": record.get("params") or {}}
    if isinstance(tuning := record.get("tuning"), dict):
        tree["tuning"] = {"enabled": tuning.get("enabled"), "chosen": tuning.get("chosen") or {}}
    if isinstance(imbalance := record.get("imbalance"), dict):
        tree["imbalance"] = {k: v for k, v in imbalance.items() if k not in ("sample", "why")}
    if isinstance(calibration := record.get("calibration"), dict):
        tree["calibration"] = {k: calibration.get(k) for k in ("method", "fitted_on") if k in calibration}
    return tree


def feature_list(record: dict) -> list[str]:
    """The columns the version's model was fitted on, from the params it trained with (numeric, derived,
    one-hot categorical levels); empty when its params name no features."""
    from retrainer.features.matrix import feature_names  # the one definition of the matrix's columns

    features = (record.get("params") or {}).get("features")
    try:
        return feature_names(features) if isinstance(features, dict) else []
    except (KeyError, TypeError):  # a params tree of before `categorical`, or hand-written
        return list(features.get("numeric") or [])


def features(a: dict, b: dict) -> dict[str, list[str]]:
    """The feature lists of both versions and what a adds to b's (`added`) and lacks of it (`removed`)."""
    mine, theirs = feature_list(a), feature_list(b)
    return {
        "a": mine,
        "b": theirs,
        "added": [f for f in mine if f not in theirs],
        "removed": [f for f in theirs if f not in mine],
    }


def _interval(report: dict | None, record: dict) -> dict | None:
    found = (report or {}).get("non_regression") or record.get("non_regression")
    if not isinstance(found, dict):
        return None
    return found | {"champion_version": (report or {}).get("champion_version")}


def paired(a: dict, a_interval: dict | None, b: dict, b_interval: dict | None) -> dict | None:
    """The paired bootstrap interval of a - b when one was judged against the other on its own holdout
    (the other the champion then), else None: figures of two different holdouts are not paired."""
    if a_interval and a_interval.get("champion_version") == b["version"]:
        return a_interval | {"holdout_of": a["version"]}
    if b_interval and b_interval.get("champion_version") == a["version"]:
        flipped = {
            "estimate": -b_interval["estimate"],
            "low": -b_interval["high"],
            "high": -b_interval["low"],
        }
        return b_interval | flipped | {"holdout_of": b["version"]}
    return None


def _metrics(record: dict) -> dict:
    return (record.get("metrics") or {}).get(CHALLENGER) or {}


def _costs(record: dict) -> dict:
    costs = record.get("costs") or {}
    return ((costs.get("models") or {}).get(CHALLENGER) or {}) | {
        "saved_vs_champion": costs.get("saved_vs_champion")
    }


def _window(record: dict) -> list[dict]:
    window, trained = record.get("training_window") or {}, record.get("trained_on") or {}
    counts = trained.get("rows") or {}
    splits = counts.get("splits") or {}
    rows = [row(f"window {k}", window.get(k), None) for k in ("start", "end", "days", "label_maturity_days")]
    rows += [
        row("maturity horizon", window.get("maturity_horizon") or trained.get("maturity_horizon"), None),
        row("rows in window", window.get("rows"), None),
        row("rows labelled (matured)", counts.get("labelled"), None),
    ]
    for split in ("train", "valid", "holdout"):
        found = splits.get(split) or {}
        rows += [
            row(f"{split} rows", found.get("rows"), None),
            row(f"{split} positives", found.get("frauds"), None),
        ]
    return rows


def _data(record: dict) -> list[dict]:
    window = record.get("training_window") or {}
    return [
        row("data hash (dvc)", record.get("data_hash"), None),
        row("training rows sha256", window.get("sha256"), None),
        row("feature definitions hash", (record.get("features") or {}).get("definitions_hash"), None),
        row("git commit", (record.get("git") or {}).get("commit"), None),
    ]


def batches(record: dict) -> dict[str, str]:
    """{batch run key: its sha256} of the batches a version was trained on (a URI when that is all)."""
    found = {}
    for batch in record.get("batches") or []:
        if isinstance(batch, dict):
            found[str(batch.get("run_key"))] = str(batch.get("sha256"))
        else:
            found[str(batch)] = "-"
    return found


def _calibration(record: dict) -> list[dict]:
    calibration = record.get("calibration") or {}
    before, after = calibration.get("uncalibrated") or {}, calibration.get("calibrated") or {}
    return [
        row("method", calibration.get("method"), None),
        row("ECE before", before.get("ece"), None),
        row("ECE after", after.get("ece"), None),
        row("Brier before", before.get("brier"), None),
        row("Brier after", after.get("brier"), None),
    ]


def _pair(a_rows: list[dict], b_rows: list[dict]) -> list[dict]:
    """The same-named rows of two versions, side by side."""
    return [row(x["name"], x["a"], y["a"]) for x, y in zip(a_rows, b_rows, strict=True)]


def history(registry: Registry, version: int, log: list[dict]) -> dict[str, list[dict]]:
    """Who approved the version and how it was deployed: its stored approval answer (if any), the approval
    events and the deployment moves naming it in the audit log (oldest first)."""
    try:
        answer = json.loads(registry.storage.get_text(layout.registry_approval_key(registry.model, version)))
    except KeyNotFound:
        answer = None
    mine = [e for e in log if e.get("version") == version]
    keep = ("event", "at", "actor", "option", "alias", "mode", "share", "champion", "reason", "revision")
    return {
        "answer": [answer] if isinstance(answer, dict) else [],
        "approvals": [
            {k: e.get(k) for k in keep} for e in mine if str(e.get("event")).startswith(APPROVAL_EVENT)
        ],
        # the deployment record's moves (mode, share), and the alias moves (versions deployed before the
        # record existed have only those)
        "moves": [
            {k: e.get(k) for k in keep} for e in mine if e.get("move_id") or e.get("event") == "alias_moved"
        ],
    }


def comparison(registry: Registry, a: int, b: int | None = None) -> dict[str, Any]:
    """Versions `a` and `b` (None: the champion) of the registry's model side by side (module docstring).
    VersionNotFound naming the model and version for one it does not hold; NoChampion when `b` is None and
    nothing is champion."""
    champion = champion_version(registry)
    if b is None:
        if champion is None:
            raise NoChampion(
                f"{registry.model} has no champion to compare v{a} with: give the other version (&b=<n>)"
            )
        b = champion
    first, second = registry.get(int(a)), registry.get(int(b))
    (a_report, a_problem), (b_report, b_problem) = gate_report(registry, first), gate_report(registry, second)
    a_interval, b_interval = _interval(a_report, first), _interval(b_report, second)
    mine, theirs = _metrics(first), _metrics(second)
    a_costs, b_costs = _costs(first), _costs(second)
    log = registry.audit_log()
    return {
        "model": registry.model,
        "a": {
            "version": first["version"],
            "created_at": first.get("created_at"),
            "as_of": first.get("as_of"),
        },
        "b": {
            "version": second["version"],
            "created_at": second.get("created_at"),
            "as_of": second.get("as_of"),
        },
        "champion": champion,
        "problems": [p for p in (a_problem, b_problem) if p],
        "metrics": [row(name, mine.get(name), theirs.get(name)) for name in METRICS],
        "intervals": {
            "a": a_interval,
            "b": b_interval,
            "paired": paired(first, a_interval, second, b_interval),
        },
        "gates": gate_rows((a_report or first).get("gates") or [], (b_report or second).get("gates") or []),
        "slices": slice_rows(a_report, b_report),
        "costs": [row(name, a_costs.get(name), b_costs.get(name)) for name in (*COSTS, "saved_vs_champion")],
        "params": [
            {"key": key, "a": x, "b": y}
            for key, (x, y) in params_diff(settings_tree(first), settings_tree(second)).items()
        ],
        "window": _pair(_window(first), _window(second)),
        "data": _pair(_data(first), _data(second)),
        "batches": {"a": batches(first), "b": batches(second)},
        "features": features(first, second),
        "calibration": _pair(_calibration(first), _calibration(second)),
        "history": {
            "a": history(registry, first["version"], log),
            "b": history(registry, second["version"], log),
        },
    }
