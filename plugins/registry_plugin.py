"""Adds a "Model registry" page inside the Airflow UI (Browse menu, shown in Airflow's frame), read-only over
`retrainer.registry.page`. Plugin apps are not behind Airflow's auth on their own: every route here
requires an authenticated user (the API's `get_user`: a JWT in the Authorization header or the UI's cookie).
"""

from __future__ import annotations

import json

from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse

app = FastAPI(
    title="retrainer registry",
    description="Read-only view of the model registry and the deployment.",
    dependencies=[Depends(get_user)],
)


def _context():
    from retrainer.tasks.context import Context

    return Context.load()


@app.get("/", response_class=HTMLResponse)
def registry_page() -> str:
    from retrainer.registry.page import render

    return render(_context().storage)


@app.get("/versions")
def versions(model: str | None = None) -> JSONResponse:
    from retrainer.core import layout
    from retrainer.registry.store import Registry

    ctx = _context()
    registry = Registry(ctx.storage, model or ctx.model)
    key = layout.registry_deployment_key(registry.model)
    deployment = ctx.storage.get_text(key) if ctx.storage.exists(key) else "null"
    return JSONResponse(
        {
            "model": registry.model,
            "aliases": registry.aliases(),
            "deployment": json.loads(deployment),
            "versions": registry.versions(),
        }
    )


@app.get("/versions/{version}/report.html", response_class=HTMLResponse)
def gate_report(version: int, model: str | None = None) -> str:
    """A version's gate report, from the registry (its sha256 checked against the version's record)."""
    from retrainer.core import layout
    from retrainer.registry.store import Registry, RegistryError

    ctx = _context()
    try:
        return Registry(ctx.storage, model or ctx.model).read_file(version, layout.REPORT_HTML).decode()
    except (RegistryError, LookupError) as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


class RegistryPlugin(AirflowPlugin):
    name = "retrainer_registry"
    fastapi_apps = [{"app": app, "url_prefix": "/registry", "name": "Model registry"}]
    external_views = [
        {
            "name": "Model registry",
            "href": "registry/",
            "url_route": "registry",  # the UI shows it in its frame at /plugin/registry
            "destination": "nav",
            "category": "browse",
        }
    ]
