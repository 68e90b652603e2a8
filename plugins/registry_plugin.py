"""Adds a "Model registry" page inside the Airflow UI (Browse menu, shown in Airflow's frame), read-only over
`retrainer.registry.ui`, and serves every report a run makes from storage (local or S3): Data Docs, gate
reports (a run's and a version's), drift reports and scored days' reports. A "Report" button on a task in the
UI (a global operator extra link) opens the report the task returned as `report_url` in its XCom.

Plugin apps are not behind Airflow's auth on their own: every route here requires an authenticated user
(the API's `get_user`: a JWT in the Authorization header or the UI's cookie) whom the auth manager lets see
this view (`is_authorized_custom_view`; SimpleAuthManager: any role from viewer up). No route depends on
RETRAINER_MODEL: each takes the model from the request and 404s one that is not configured.
"""

from __future__ import annotations

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response

VIEW_NAME = "Model registry"
# The registry page, gate reports and drift reports hold no script: a browser runs none in them, whatever
# a stored value holds (every value is escaped too). Data Docs pages need their own vendored scripts.
NO_SCRIPT = {"Content-Security-Policy": "script-src 'none'; object-src 'none'; base-uri 'none'"}


def _may_view(user=Depends(get_user)) -> None:  # noqa: B008 (FastAPI's dependency idiom)
    if not get_auth_manager().is_authorized_custom_view(method="GET", resource_name=VIEW_NAME, user=user):
        raise HTTPException(status_code=403, detail=f"{VIEW_NAME}: this user may not view it")


app = FastAPI(
    title="retrainer registry",
    description="Read-only view of the model registry, the deployment, Data Docs and drift reports.",
    dependencies=[Depends(_may_view)],
)


def _where():
    """The storage and the project folder (its models/), from the environment."""
    from retrainer.core.settings import Settings
    from retrainer.storage import open_storage

    settings = Settings.from_env()
    return open_storage(settings.storage_root), settings.project_dir


def _served(call, *args):
    """`call(storage, project_dir, *args)`; a report changed since its sha256 was recorded is 409 (refused,
    never shown), anything else not there a 404, each with the message naming what and why."""
    from retrainer.registry.ui import Changed, NotServed

    try:
        return call(*_where(), *args)
    except Changed as changed:
        raise HTTPException(status_code=409, detail=str(changed)) from None
    except NotServed as missing:
        raise HTTPException(status_code=404, detail=str(missing)) from None


@app.get("/", response_class=HTMLResponse)
def registry_page() -> HTMLResponse:
    from retrainer.registry import ui

    return HTMLResponse(_served(ui.index), headers=NO_SCRIPT)


@app.get("/versions")
def versions(model: str) -> JSONResponse:
    from retrainer.registry import ui

    return JSONResponse(_served(ui.versions, model))


@app.get("/versions/{version}/report.html", response_class=HTMLResponse)
def gate_report(version: int, model: str) -> HTMLResponse:
    """A version's gate report, from the registry (its sha256 checked against the version's record)."""
    from retrainer.registry import ui

    return HTMLResponse(_served(ui.gate_report, model, version), headers=NO_SCRIPT)


@app.get("/compare", response_class=HTMLResponse)
def compare(model: str, a: int, b: int | None = None) -> HTMLResponse:
    """Versions `a` and `b` of a model side by side (`b` left out: the champion), from the registry."""
    from retrainer.registry import ui

    return HTMLResponse(_served(ui.compare, model, a, b), headers=NO_SCRIPT)


@app.get("/history", response_class=HTMLResponse)
def history(model: str) -> HTMLResponse:
    """A model's history over time: versions, scoring health, drift, performance, deployment moves."""
    from retrainer.registry import ui

    return HTMLResponse(_served(ui.history, model), headers=NO_SCRIPT)


@app.get("/runs/{model}/{run}/report.html", response_class=HTMLResponse)
def run_gate_report(model: str, run: str) -> HTMLResponse:
    """A training run's gate report as evaluate wrote it, passed or rejected (its sha256 checked against
    the one evaluate recorded beside the run): `layout.run_report_url`."""
    from retrainer.registry import ui

    return HTMLResponse(_served(ui.run_report, model, run), headers=NO_SCRIPT)


@app.get("/scores/{model}/{day}/report.html", response_class=HTMLResponse)
def day_report(model: str, day: str) -> HTMLResponse:
    """A scored day's report (`scores/<model>/date=<day>/report.json`) as a page: `layout.day_report_url`."""
    from retrainer.scoring import report_page

    return HTMLResponse(_served(report_page.day_page, model, day), headers=NO_SCRIPT)


def _stored(key: str, headers: dict[str, str] | None = None) -> Response:
    """A stored page, typed by its name and never sniffed into another type."""
    from retrainer.registry import ui

    data, kind = _served(ui.stored_file, key)
    return Response(data, media_type=kind, headers={"X-Content-Type-Options": "nosniff", **(headers or {})})


@app.get("/data-docs/{path:path}")
def data_docs(path: str) -> Response:
    """A run's Data Docs site: the storage key `data-docs/<model>/<run>/<path>` (`layout.ui_url`)."""
    return _stored(f"data-docs/{path}")


@app.get("/monitoring/{path:path}")
def drift_report(path: str) -> Response:
    """A monitor run's drift report: the storage key `monitoring/<model>/<run>/<file>`."""
    return _stored(f"monitoring/{path}", NO_SCRIPT)


REPORT_KEY = (
    "report_url"  # the key of a task's returned dict that names its report (tasks in retrainer.tasks)
)


def report_link(returned) -> str | None:
    """The report address in a task's returned XCom value (a dict, or its JSON): its `report_url` when that
    is a path on the UI's host or an http(s) address, else None (no button)."""
    import json

    if isinstance(returned, str | bytes):
        try:
            returned = json.loads(returned)
        except ValueError:
            return None
    url = returned.get(REPORT_KEY) if isinstance(returned, dict) else None
    if not isinstance(url, str) or not url.startswith(("/", "http://", "https://")) or url.startswith("//"):
        return None
    return url


class ReportLink(BaseOperatorLink):
    """The "Report" button of a task instance in the Airflow UI: the `report_url` its run returned.

    A global extra link: the API server calls `get_link` when the UI shows a task instance, for every task;
    a task that returned no report gets no button (the UI hides a link it resolves to nothing). It reads
    the task instance's XCom return value from the metadata database, never retrainer nor storage."""

    name = "Report"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.execute(
                XComModel.get_many(
                    key="return_value",
                    run_id=ti_key.run_id,
                    dag_ids=ti_key.dag_id,
                    task_ids=ti_key.task_id,
                    map_indexes=ti_key.map_index,
                ).with_only_columns(XComModel.value)
            ).first()
        return (report_link(row.value) if row else None) or ""


class RegistryPlugin(AirflowPlugin):
    name = "retrainer_registry"
    fastapi_apps = [{"app": app, "url_prefix": "/registry", "name": VIEW_NAME}]
    global_operator_extra_links = [ReportLink()]
    external_views = [
        {
            "name": VIEW_NAME,
            "href": "registry/",
            "url_route": "registry",  # the UI shows it in its frame at /plugin/registry
            "destination": "nav",
            "category": "browse",
        }
    ]
