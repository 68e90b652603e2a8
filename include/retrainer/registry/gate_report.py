"""The gate report bound to its bytes: evaluate writes `gates.json` and its sha256 beside it
(`gates.sha256.json`, next to the run's manifest, which stays as train wrote it); register reads it back
only through that sha256 and judges each gate's own verdict, not just the report's top-level `passed`.

    runs/<model>/<run>/gates.json           the gate report (evaluate)
    runs/<model>/<run>/report.html          the same report for people (report.md too)
    runs/<model>/<run>/gates.sha256.json    {"gates_key", "sha256", "pages": {name: sha256}, "written_at"}
                                            (evaluate, after them)
"""

from __future__ import annotations

import json
from typing import Any

from retrainer.core import clock, layout
from retrainer.core.errors import Rejected
from retrainer.storage import KeyNotFound, Storage
from retrainer.storage.base import sha256_bytes

FAILED = "failed"  # a gate's verdict (retrainer.evaluation.gates.FAILED; registry does not import evaluation)


class NotGated(Rejected):
    """The gate report given to register did not pass, or judged another run: nothing is registered."""

    def __init__(self, gates_uri: str, why: str) -> None:
        super().__init__(f"refusing to register on the gate report {gates_uri}: {why}")
        self.gates_uri = gates_uri


def write_sealed(
    storage: Storage, model: str, run_key: str, report: dict, pages: dict[str, str] | None = None
) -> tuple[str, str]:
    """Write the gate report of run `run_key` and its `pages` for people ({file name: text}, e.g. the
    `report.html` the registry plugin serves), then its sha256 record, which holds each page's sha256 too;
    returns (the report's URI, sha256).

    The record is written after the report, so a crash between the two leaves the old record: register
    refuses the new bytes (ChecksumMismatch) until evaluate reruns, never accepts unsealed ones."""
    data = json.dumps(report, indent=2).encode()
    key = layout.run_file_key(model, run_key, layout.GATES_FILE)
    uri = storage.put_bytes(key, data)
    sha256 = sha256_bytes(data)
    hashes = {}
    for name, text in (pages or {}).items():
        storage.put_bytes(layout.run_file_key(model, run_key, name), page := text.encode())
        hashes[name] = sha256_bytes(page)
    seal = {"gates_key": key, "sha256": sha256, "pages": hashes, "written_at": clock.now().isoformat()}
    storage.put_text(layout.run_file_key(model, run_key, layout.GATES_SEAL), json.dumps(seal, indent=2))
    return uri, sha256


def sealed_page_sha256(storage: Storage, model: str, run_key: str, name: str) -> str | None:
    """The sha256 evaluate recorded for the page `name` (`report.html`) of run `run_key`'s gate report; None
    when it recorded none (no seal, or a seal written before pages were sealed)."""
    try:
        seal = json.loads(storage.get_text(layout.run_file_key(model, run_key, layout.GATES_SEAL)))
    except KeyNotFound:
        return None
    return (seal.get("pages") or {}).get(name)


def sealed_sha256(storage: Storage, model: str, run_key: str, gates_uri: str) -> str:
    """The sha256 evaluate recorded for the gate report of run `run_key` at `gates_uri`; NotGated if it
    recorded none (a report evaluate did not write, or written before reports were sealed) or sealed
    another file."""
    seal_key = layout.run_file_key(model, run_key, layout.GATES_SEAL)
    if not storage.exists(seal_key):
        missing = storage.uri(seal_key)
        raise NotGated(gates_uri, f"no sha256 of it was recorded ({missing} is missing); rerun evaluate")
    seal = json.loads(storage.get_text(seal_key))
    if seal.get("gates_key") != (key := storage.key_of(gates_uri)):
        raise NotGated(gates_uri, f"evaluate sealed {seal.get('gates_key')} for run {run_key}, not {key}")
    return seal["sha256"]


def read_verified(storage: Storage, gates_uri: str, sha256: str) -> tuple[bytes, dict[str, Any]]:
    """The gate report's bytes and JSON, refused with ChecksumMismatch (a verdict) unless they hash to
    `sha256`: a report edited after evaluate wrote it is never registered."""
    data = storage.get_verified(storage.key_of(gates_uri), sha256, f"{gates_uri} (gate report)")
    return data, json.loads(data)


def _label(gate: dict) -> str:
    return f"{gate.get('name')}" + (f" [slice {gate['slice']}]" if gate.get("slice") else "")


def judge(gates_uri: str, report: dict) -> None:
    """Judge the report's gates, not only its top level: NotGated unless it holds gates, none failed, each
    gate's `passed` agrees with its verdict and the top-level `passed` agrees with them all."""
    gates = report.get("gates")
    if not isinstance(gates, list) or not gates:
        raise NotGated(gates_uri, "it holds no gates to judge")
    for gate in gates:
        if gate.get("passed") is not (gate.get("verdict") != FAILED):
            raise NotGated(
                gates_uri,
                f"gate {_label(gate)} says passed={gate.get('passed')} with verdict {gate.get('verdict')!r}",
            )
    failed = ", ".join(_label(g) for g in gates if g.get("verdict") == FAILED)
    if failed and report.get("passed") is True:
        raise NotGated(gates_uri, f"its top level says passed, but gate(s) failed: {failed}")
    if failed or report.get("passed") is not True:
        raise NotGated(gates_uri, "it did not pass" + (f": gate(s) failed: {failed}" if failed else ""))
