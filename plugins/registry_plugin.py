"""Adds a "Model registry" page to the Airflow UI (Browse menu), read-only over `retrainer.registry`."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

app = FastAPI(title="retrainer registry", description="Read-only view of the model registry.")


def _registry():
    from retrainer.tasks.context import Context

    return Context.load().registry


@app.get("/", response_class=HTMLResponse)
def registry_page() -> str:
    from retrainer.registry.page import render

    return render(_registry())


@app.get("/versions")
def versions() -> JSONResponse:
    registry = _registry()
    return JSONResponse(
        {"model": registry.model, "aliases": registry.aliases(), "versions": registry.versions()}
    )


class RegistryPlugin(AirflowPlugin):
    name = "retrainer_registry"
    fastapi_apps = [{"app": app, "url_prefix": "/registry", "name": "Model registry"}]
    external_views = [
        {"name": "Model registry", "href": "registry/", "destination": "nav", "category": "browse"}
    ]
