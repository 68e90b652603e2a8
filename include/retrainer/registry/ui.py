"""What the registry plugin (plugins/registry_plugin.py) serves inside the Airflow UI, each model taken
from the request and checked against the configured models (`models/<name>/params.yaml`):

    /                                         every configured model's registry section (`page.render`)
    /versions?model=M                         a model's versions, aliases and deployment as JSON
    /versions/<n>/report.html?model=M         a version's gate report, from the registry
    /compare?model=M&a=<n>[&b=<n>]            two versions side by side (b: the champion), `registry.compare`
    /runs/<model>/<run>/report.html           a training run's gate report (evaluate's, passed or not)
    /scores/<model>/<day>/report.html         a scored day's report (`scoring.report_page.day_page`)
    /data-docs/<model>/<run>/<path>           a run's Data Docs site (storage key = the path)
    /monitoring/<model>/<run>/<file>          a monitor run's drift report
    /history?model=M                          a model's history over time (`history_html`)

Read-only over storage (local or S3). No RETRAINER_MODEL is needed: a request naming no configured model
gets NotServed (the plugin's 404); one model's broken params.yaml shows as its error line on the page
and does not stop the others'.
"""

from __future__ import annotations

import json
import mimetypes
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any

from retrainer.core import layout
from retrainer.core.models import check_models, model_names
from retrainer.registry import page
from retrainer.registry.store import Registry, RegistryError
from retrainer.storage import ChecksumMismatch, KeyNotFound, Storage

# Served with their own type; anything else is a download (never sniffed into HTML).
TEXT_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json", ".css": "text/css"}


class NotServed(LookupError):
    """The request names no configured model, no stored file, or a path outside the served areas."""


class Changed(NotServed):
    """The stored report no longer hashes to the sha256 recorded for it: it is refused, never shown."""


def check_model(project_dir: Path, model: str) -> str:
    """`model` if it is configured, else NotServed naming the configured models."""
    names = model_names(project_dir)
    if model not in names:
        raise NotServed(f"no model {model!r}: the configured models are {', '.join(names) or 'none'}")
    return model


def config_problems(project_dir: Path) -> dict[str, list[str]]:
    """Per configured model, the problems of its params (empty for a healthy model), by name."""
    healthy, broken = check_models(project_dir)
    return {name: broken.get(name, []) for name in sorted([*healthy, *broken])}


# How many of the last runs' reports the page links per kind (Data Docs, drift, scored days, gate reports).
RECENT = 5


def _recent(storage: Storage, area: str, name: str, count: int = RECENT) -> list[str]:
    """The last `count` keys under `area` (run keys and `date=` folders sort by time), newest first, whose
    folder is a run's (or a day's) and file is `name`."""
    keys = [
        k
        for k in storage.list(area)
        if k.startswith(area + "/") and len(PurePosixPath(k).parts) == 4 and k.endswith("/" + name)
    ]
    return sorted(keys, reverse=True)[:count]


def _link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def report_links(storage: Storage, model: str) -> str:
    """Links (through the plugin, never a storage URI) to the reports of a model's last runs: Data Docs of
    validate, gate reports of evaluate (rejected ones too), drift reports and scored days' reports."""

    def links(area: str, name: str, url) -> list[str]:  # url: the run (or day) folder -> its address
        folders = [PurePosixPath(k).parts[2] for k in _recent(storage, area, name)]
        return [_link(url(f), f.removeprefix("date=")) for f in folders]

    kinds = {
        "Data Docs": links(
            layout.data_docs_area(model),
            "index.html",
            lambda run: layout.ui_url(f"{layout.data_docs_prefix(model, run)}/index.html"),
        ),
        "gate reports": links(
            layout.runs_area(model), layout.REPORT_HTML, lambda run: layout.run_report_url(model, run)
        ),
        "drift reports": links(
            layout.monitoring_area(model),
            layout.DRIFT_PAGE,
            lambda run: layout.ui_url(layout.monitoring_file_key(model, run, layout.DRIFT_PAGE)),
        ),
        "scoring reports": links(
            layout.scores_area(model),
            layout.SCORE_REPORT_FILE,
            lambda day: layout.day_report_url(model, day.removeprefix("date=")),
        ),
    }
    items = [f"<li>{escape(kind)}: {' · '.join(found)}</li>" for kind, found in kinds.items() if found]
    return f"<h3>Last runs' reports</h3><ul class='reports'>{''.join(items)}</ul>" if items else ""


def model_notes(storage: Storage, model: str, problems: list[str]) -> str:
    """Above a model's section: its configuration problems, and links to the reports of its last runs
    (through the plugin)."""
    lines = "".join(f"<li class='failed'>{escape(p)}</li>" for p in problems)
    notes = f"<p class='failed'>{escape(model)}: configuration broken</p><ul>{lines}</ul>" if lines else ""
    return notes + report_links(storage, model)


def index(storage: Storage, project_dir: Path) -> str:
    """The page: every configured model, each with its notes, whether or not its params load."""
    problems = config_problems(project_dir)
    notes = {name: model_notes(storage, name, found) for name, found in problems.items()}
    return page.render(storage, list(problems), notes=notes)


def versions(storage: Storage, project_dir: Path, model: str) -> dict[str, Any]:
    """A configured model's aliases, deployment record and versions."""
    registry = Registry(storage, check_model(project_dir, model))
    try:
        deployment = json.loads(storage.get_text(layout.registry_deployment_key(model)))
    except KeyNotFound:
        deployment = None
    return {
        "model": model,
        "aliases": registry.aliases(),
        "deployment": deployment,
        "versions": registry.versions(),
    }


def gate_report(storage: Storage, project_dir: Path, model: str, version: int) -> str:
    """A version's gate report from the registry (its sha256 checked against the version's record)."""
    registry = Registry(storage, check_model(project_dir, model))
    try:
        return registry.read_file(version, layout.REPORT_HTML).decode()
    except ChecksumMismatch as changed:
        raise Changed(str(changed)) from None
    except (RegistryError, LookupError) as error:
        raise NotServed(str(error)) from None


def compare(storage: Storage, project_dir: Path, model: str, a: int, b: int | None = None) -> str:
    """The page of versions `a` and `b` (None: the champion) side by side; NotServed naming the model and
    version the registry does not hold, or the missing champion."""
    from retrainer.registry import compare_html
    from retrainer.registry.compare import comparison

    registry = Registry(storage, check_model(project_dir, model))
    try:
        found = comparison(registry, a, b)
    except LookupError as error:  # VersionNotFound, NoChampion
        raise NotServed(str(error)) from None
    return compare_html.render(found)


def _segment(value: str, what: str) -> str:
    """`value` as one path segment of a storage key, else NotServed (no `..`, '/', '\\' or NUL)."""
    if value in ("", ".", "..") or any(c in value for c in "/\\\x00"):
        raise NotServed(f"{value!r} is not a {what} the registry serves")
    return value


def run_report(storage: Storage, project_dir: Path, model: str, run: str) -> str:
    """A training run's gate report page (`runs/<model>/<run>/report.html`, evaluate's, before any version
    exists), checked against the sha256 evaluate recorded for it where it recorded one."""
    from retrainer.registry.gate_report import sealed_page_sha256

    key = layout.run_file_key(check_model(project_dir, model), _segment(run, "run"), layout.REPORT_HTML)
    try:
        if sha256 := sealed_page_sha256(storage, model, run, layout.REPORT_HTML):
            return storage.get_verified(key, sha256, f"the gate report of run {run}").decode()
        return storage.get_text(key)
    except KeyNotFound:
        raise NotServed(f"no gate report of run {run!r} of {model!r} ({key}): evaluate has not run") from None
    except ChecksumMismatch as changed:
        raise Changed(
            f"the gate report of run {run!r} of {model!r} changed after evaluate wrote it: {changed}"
        ) from None


def stored_file(storage: Storage, project_dir: Path, key: str) -> tuple[bytes, str]:
    """The bytes and content type of a stored page under `layout.UI_AREAS`/<configured model>/<run>/...;
    NotServed for any other key (`..`, empty or `.` parts, another area, an unknown model) or none."""
    parts = key.split("/")
    if (
        len(parts) < 4
        or parts[0] not in layout.UI_AREAS
        or any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts)
    ):
        raise NotServed(f"{key!r} is not a page the registry serves")
    check_model(project_dir, parts[1])
    try:
        data = storage.get_bytes(key)
    except KeyNotFound:
        raise NotServed(f"no stored file {key!r}") from None
    suffix = PurePosixPath(key).suffix.lower()
    kind = TEXT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"
    return data, kind


def history(storage: Storage, project_dir: Path, model: str) -> str:
    """A configured model's history page (`registry.history_html`): versions, scoring health, drift,
    matured-label and estimated performance, deployment moves, over one time axis."""
    from retrainer.registry import history_html
    from retrainer.registry.history import model_history

    return history_html.render(model_history(storage, check_model(project_dir, model)))
