"""Every storage key of the platform, built here and nowhere else.

Keys are '/'-separated paths relative to the storage root, one area per kind of thing, then the model,
then the run key (the logical date, `clock.run_key`), so a rerun of a date writes the same keys:

    batches/<model>/<run>/              extract's batch.parquet + manifest.json, validate's validation.json
    validations/<model>/<run>/          Great Expectations' full result of the run
    data-docs/<model>/<run>/            the run's Data Docs site
    quarantine/<model>/<run>/           a rejected batch (or copies of unreadable source files) + reason.json
    quarantine-events/<model>/          one folder per quarantine event, never rewritten
    runs/<model>/<run>/                 a training run's published files, its manifest and gate report
    registry/<model>/                   versions, run claims, content-addressed objects, aliases, audit log,
                                        and the deployment record (which models score, how, since when)
    scores/<model>/date=<day>/          a day's batch scores (scores.parquet) and monitoring (report.json)
    scores/<model>/reference/           each version's holdout score distribution, the baseline of drift
    monitoring/<model>/<run>/           a monitor run's drift report (drift.json, drift.html)
    monitoring/<model>/estimates.json   each scored day's estimated performance, and its realised one

A person opens every report through the registry plugin, never by its storage URI: a run's Data Docs and
drift page (`ui_url`), a training run's gate report (`run_report_url`), a version's (`gate_report_url`) and
a scored day's report (`day_report_url`), all under Airflow's `[api] base_url` (`ui_base_url`).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import quote

# The areas: the first part of every key (a URI of a root copied elsewhere is read back from here on).
AREAS = ("batches", "validations", "data-docs", "quarantine", "quarantine-events", "runs", "registry")

# File names under the areas above.
BATCH_FILE = "batch.parquet"
MANIFEST_FILE = "manifest.json"  # of a batch (extract) and of a training run (train)
VALIDATION_FILE = "validation.json"
REASON_FILE = "reason.json"
EVENT_FILE = "event.json"
MOVE_FILE = "move.json"  # the journal of a move in progress, in the folder being moved into
SOURCE_DIR = "source"
GATES_FILE = "gates.json"
GATES_SEAL = "gates.sha256.json"  # evaluate's record of the gate report's sha256, next to the run's manifest
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
DRIFT_REPORT = "drift.json"
DRIFT_PAGE = "drift.html"
DAYS_REPORT = "days.json"  # the days a monitor run judged, and whether each had fully landed
RETRAINING_FAILED = "retraining-failed.json"  # beside a monitor run whose signalled retraining failed


# --- data: batches, validation, quarantine --------------------------------------------------------------


def batch_prefix(model: str, run: str) -> str:
    return f"batches/{model}/{run}"


def batch_file_key(model: str, run: str, name: str = BATCH_FILE) -> str:
    """A file of a run's batch folder: the batch itself, its manifest or its validation record."""
    return f"{batch_prefix(model, run)}/{name}"


def batches_area(model: str) -> str:
    return f"batches/{model}"


def data_docs_area(model: str) -> str:
    return f"data-docs/{model}"


def data_docs_prefix(model: str, run: str) -> str:
    return f"{data_docs_area(model)}/{run}"


def gx_result_key(model: str, run: str, suite: str) -> str:
    return f"validations/{model}/{run}/{suite}.json"


def quarantine_area(model: str) -> str:
    return f"quarantine/{model}"


def quarantine_prefix(model: str, run: str) -> str:
    return f"{quarantine_area(model)}/{run}"


def quarantine_file_key(model: str, run: str, name: str = REASON_FILE) -> str:
    return f"{quarantine_prefix(model, run)}/{name}"


def quarantine_source_key(model: str, run: str, partition: str) -> str:
    """Where the copy of an unreadable source partition waits."""
    return f"{quarantine_prefix(model, run)}/{SOURCE_DIR}/{partition}"


def move_journal_key(destination: str) -> str:
    """The journal of a move into the folder `destination` (a quarantine entry or an event folder)."""
    return f"{destination.rstrip('/')}/{MOVE_FILE}"


def is_move_journal(key: str) -> bool:
    return PurePosixPath(key).name == MOVE_FILE


def is_quarantine_reason(key: str) -> bool:
    """True for `quarantine/<model>/<run>/reason.json` (not a reason kept inside an event folder)."""
    parts = PurePosixPath(key).parts
    return len(parts) == 4 and parts[0] == "quarantine" and parts[-1] == REASON_FILE


def quarantine_events_area(model: str) -> str:
    return f"quarantine-events/{model}"


def quarantine_event_prefix(model: str, run: str, action: str, stamp: str) -> str:
    return f"{quarantine_events_area(model)}/{stamp}-{run}-{action}"


# --- training runs ------------------------------------------------------------------------------------


def runs_area(model: str) -> str:
    return f"runs/{model}"


def run_prefix(model: str, run: str) -> str:
    return f"{runs_area(model)}/{run}"


def run_file_key(model: str, run: str, name: str) -> str:
    """A file of a training run: a published artifact (`artifacts.PUBLISHED`), its manifest or report."""
    return f"{run_prefix(model, run)}/{name}"


# --- registry -----------------------------------------------------------------------------------------


REGISTRY_AREA = "registry"


def registry_models(keys: list[str]) -> list[str]:
    """The model names among keys listed under REGISTRY_AREA (`registry/<model>/versions/...`)."""
    return sorted({PurePosixPath(k).parts[1] for k in keys if "/versions/" in k})


def registry_prefix(model: str) -> str:
    return f"registry/{model}"


def registry_object_key(model: str, sha256: str, name: str) -> str:
    """Content-addressed: the same bytes are stored once, whatever version or file name they belong to."""
    return f"{registry_prefix(model)}/objects/{sha256}{PurePosixPath(name).suffix}"


def registry_versions_area(model: str) -> str:
    return f"{registry_prefix(model)}/versions"


def registry_version_key(model: str, version: int) -> str:
    return f"{registry_versions_area(model)}/{version:06d}.json"


def registry_claims_area(model: str) -> str:
    return f"{registry_prefix(model)}/runs"


def registry_claim_key(model: str, idempotency_key: str) -> str:
    """Written create-only by the first registration of a run: which version number it holds."""
    return f"{registry_claims_area(model)}/{idempotency_key}.json"


def registry_aliases_area(model: str) -> str:
    return f"{registry_prefix(model)}/aliases"


def registry_alias_key(model: str, alias: str) -> str:
    return f"{registry_aliases_area(model)}/{alias}.json"


def registry_audit_area(model: str) -> str:
    return f"{registry_prefix(model)}/audit"


def registry_audit_key(model: str, stamp: str, unique: str) -> str:
    return f"{registry_audit_area(model)}/{stamp}-{unique}.json"


CHAIN_EVENT_PREFIX = "chain-"  # audit events of the hash chain; older (pre-chain) ones are keyed by time


def registry_audit_chain_key(model: str, seq: int) -> str:
    """The audit event number `seq` of a model's hash chain (create-only: one writer gets each number)."""
    return f"{registry_audit_area(model)}/{CHAIN_EVENT_PREFIX}{seq:09d}.json"


def registry_approval_key(model: str, version: int) -> str:
    """The one answer to the approval of a version (or its time-out, or auto-approval), create-only."""
    return f"{registry_prefix(model)}/approvals/{version:06d}.json"


def registry_deployment_key(model: str) -> str:
    """The one deployment record of a model (mode, champion, challenger, share), moved by compare-and-swap."""
    return f"{registry_prefix(model)}/deployment.json"


# --- batch scoring ------------------------------------------------------------------------------------

SCORES_FILE = "scores.parquet"
SCORE_REPORT_FILE = "report.json"
SCORE_FEATURES_FILE = "features.parquet"  # the derived features the day was scored with (id, then columns)


def scores_area(model: str) -> str:
    return f"scores/{model}"


def scores_day_prefix(model: str, day: str) -> str:
    """The folder of one scored day (`day` as YYYY-MM-DD)."""
    return f"{scores_area(model)}/date={day}"


def scores_file_key(model: str, day: str, name: str = SCORES_FILE) -> str:
    """A file of a scored day: the scores themselves, the derived features they were computed from, or the
    day's report."""
    return f"{scores_day_prefix(model, day)}/{name}"


def scored_days(keys: list[str]) -> list[str]:
    """The days (YYYY-MM-DD) whose scores file is among `keys` (listed under `scores_area`), sorted."""
    found = (PurePosixPath(k) for k in keys)
    return sorted(p.parent.name.removeprefix("date=") for p in found if p.name == SCORES_FILE)


def reference_scores_key(model: str, version: int) -> str:
    """A version's scores on its own holdout, summarised: what its live scores are compared with."""
    return f"{scores_area(model)}/reference/{version:06d}.json"


# --- monitoring ---------------------------------------------------------------------------------------


def monitoring_area(model: str) -> str:
    return f"monitoring/{model}"


def monitoring_file_key(model: str, run: str, name: str = DRIFT_REPORT) -> str:
    return f"{monitoring_area(model)}/{run}/{name}"


ESTIMATES_FILE = "estimates.json"


def estimates_key(model: str) -> str:
    """The history of a model's estimated performance per scored day, with the realised figures once the
    day's labels matured (retrainer.monitoring.estimates): one file, rewritten by each monitor run."""
    return f"{monitoring_area(model)}/{ESTIMATES_FILE}"


def follow_up_key(model: str, version: int) -> str:
    """Where the monitor records that it asked for version `version`'s follow-up retraining (once)."""
    return f"{monitoring_area(model)}/follow-ups/v{version}.json"


# --- links a person opens in the Airflow UI -----------------------------------------------------------

# The areas the registry plugin serves file by file (its routes mirror the keys: /registry/<key>).
UI_AREAS = ("data-docs", "monitoring")
UI_PREFIX = "registry"  # the plugin's url_prefix (plugins/registry_plugin.py)
UI_BASE_URL_ENV = "AIRFLOW__API__BASE_URL"  # the UI's own address, as Airflow is configured with it


# A version's gate report, read from the registry (its sha256 checked), relative to the plugin's root.
GATE_REPORT_ROUTE = "versions/{version}/report.html?model={model}"
# A model's history page (versions, scoring health, drift, moves over time), relative to the plugin's root.
HISTORY_ROUTE = "history?model={model}"
# A training run's gate report as evaluate wrote it (passed or rejected, before any version exists).
RUN_REPORT_ROUTE = "runs/{model}/{run}/report.html"
# A scored day's report (`scores/<model>/date=<day>/report.json`), shown as a page.
DAY_REPORT_ROUTE = "scores/{model}/{day}/report.html"


def _airflow_cfg(env: Mapping[str, str]) -> Path:
    """The file Airflow reads its configuration from: `AIRFLOW_CONFIG`, else `$AIRFLOW_HOME/airflow.cfg`."""
    if env.get("AIRFLOW_CONFIG"):
        return Path(env["AIRFLOW_CONFIG"])
    return Path(env.get("AIRFLOW_HOME") or Path.home() / "airflow") / "airflow.cfg"


def ui_base_url(environ: Mapping[str, str] | None = None) -> str:
    """The Airflow UI's address as the user configured Airflow's `[api] base_url` (e.g.
    `https://airflow.example.com`), without a trailing '/': the environment variable
    `AIRFLOW__API__BASE_URL` first, as Airflow reads it, else the `base_url` of the `[api]` section of
    `airflow.cfg`; '' when neither sets it (links are then relative to the UI's host). Read without
    importing Airflow (this package never does)."""
    env = os.environ if environ is None else environ
    if value := (env.get(UI_BASE_URL_ENV) or "").strip():
        return value.rstrip("/")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(_airflow_cfg(env), encoding="utf-8")
    except (configparser.Error, OSError):  # a file Airflow itself would refuse: no base to link under
        return ""
    return parser.get("api", "base_url", fallback="").strip().rstrip("/")


def _ui_root(environ: Mapping[str, str] | None) -> str:
    return f"{ui_base_url(environ)}/{UI_PREFIX}"


def _part(value: str) -> str:
    """One path segment of a link, percent-encoded ('/' too): a name never reaches another route."""
    return quote(str(value), safe="")


def gate_report_url(model: str, version: int, environ: Mapping[str, str] | None = None) -> str:
    """The address of a version's gate report through the registry plugin: under Airflow's `[api]
    base_url` when it is set, else relative to the UI's host (`/registry/versions/2/report.html?model=
    fraud-xgb`)."""
    route = GATE_REPORT_ROUTE.format(version=int(version), model=_part(model))
    return f"{_ui_root(environ)}/{route}"


# Two versions of a model side by side (`registry.compare`), relative to the plugin's root; `b` left out
# means the champion.
COMPARE_ROUTE = "compare?model={model}&a={a}"


def compare_route(model: str, a: int, b: int | None = None) -> str:
    """The comparison page of versions `a` and `b` (None: the champion), relative to the plugin's root."""
    route = COMPARE_ROUTE.format(model=quote(model, safe=""), a=int(a))
    return route if b is None else f"{route}&b={int(b)}"


def compare_url(model: str, a: int, b: int | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The address of the comparison of versions `a` and `b` (None: the champion) through the registry
    plugin, like `gate_report_url`: `/registry/compare?model=fraud-xgb&a=3` without AIRFLOW__API__BASE_URL."""
    return f"{_ui_root(environ)}/{compare_route(model, a, b)}"


def run_report_url(model: str, run: str, environ: Mapping[str, str] | None = None) -> str:
    """The address of a training run's gate report (`runs/<model>/<run>/report.html`, evaluate's, passed
    or rejected) through the registry plugin, e.g. `/registry/runs/fraud-xgb/<run>/report.html`."""
    return f"{_ui_root(environ)}/{RUN_REPORT_ROUTE.format(model=_part(model), run=_part(run))}"


def day_report_url(model: str, day: str, environ: Mapping[str, str] | None = None) -> str:
    """The address of a scored day's report (`day` as YYYY-MM-DD) through the registry plugin, e.g.
    `/registry/scores/fraud-xgb/2026-11-15/report.html`."""
    return f"{_ui_root(environ)}/{DAY_REPORT_ROUTE.format(model=_part(model), day=_part(day))}"


def ui_url(key: str, environ: Mapping[str, str] | None = None) -> str:
    """The address of a stored Data Docs or drift page through the registry plugin (auth on, local or S3
    storage alike), e.g. `http://airflow:8080/registry/data-docs/fraud-xgb/<run>/index.html`: under
    Airflow's `[api] base_url` when it is set, else relative to the UI's host (`/registry/...`).
    A `file://` or `s3://` URI is no link a browser opens from the UI's http page."""
    if PurePosixPath(key).parts[0] not in UI_AREAS:
        raise ValueError(f"{key!r} is not under {' or '.join(UI_AREAS)}: the registry plugin serves no other")
    return f"{_ui_root(environ)}/{quote(key)}"
