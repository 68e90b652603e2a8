"""What every task entry point and command starts from: the settings, the model's params with the DAG's
Params applied, and the storage root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrainer.core.params import load_params, with_dag_params
from retrainer.core.settings import Settings
from retrainer.registry.store import Registry
from retrainer.storage import Storage, open_storage


@dataclass(frozen=True)
class Context:
    settings: Settings
    params: dict[str, Any]
    storage: Storage

    @classmethod
    def load(cls, dag_params: dict[str, Any] | None = None) -> Context:
        settings = Settings.from_env()
        params = with_dag_params(load_params(settings.params_path), dag_params)
        return cls(settings, params, open_storage(settings.storage_root))

    @property
    def model(self) -> str:
        return self.params["model"]["name"]

    @property
    def registry(self) -> Registry:
        return Registry(self.storage, self.model)

    @property
    def source(self) -> Storage:
        return open_storage(self.settings.source_root)
