"""Adds a "Model registry" page inside the Airflow UI (Browse menu, shown in Airflow's frame), read-only over
`retrainer.registry.ui`, and serves each run's Data Docs and drift report from storage (local or S3).

Plugin apps are not behind Airflow's auth on their own: every route here requires an authenticated user
(the API's `get_user`: a JWT in the Authorization header or the UI's cookie) whom the auth manager lets see
this view (`is_authorized_custom_view`; SimpleAuthManager: any role from viewer up). No route depends on
RETRAINER_MODEL: each takes the model from the request and 404s one that is not configured.
"""

from __future__ import annotations

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin
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
    from retrainer.registry.ui import NotServed

    try:
        return call(*_where(), *args)
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


class RegistryPlugin(AirflowPlugin):
    name = "retrainer_registry"
    fastapi_apps = [{"app": app, "url_prefix": "/registry", "name": VIEW_NAME}]
    external_views = [
        {
            "name": VIEW_NAME,
            "href": "registry/",
            "url_route": "registry",  # the UI shows it in its frame at /plugin/registry
            "destination": "nav",
            "category": "browse",
        }
    ]
