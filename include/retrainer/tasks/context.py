"""What every task entry point and command starts from: the settings, the model's params (its folder's
params.yaml over the shared defaults) with the DAG's Params applied and checked, and the storage root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrainer.core.models import choose_model, load_model
from retrainer.core.settings import Settings
from retrainer.registry.store import Registry
from retrainer.storage import Storage, open_storage


@dataclass(frozen=True)
class Context:
    settings: Settings
    params: dict[str, Any]
    storage: Storage

    @classmethod
    def load(cls, dag_params: dict[str, Any] | None = None, model: str | None = None) -> Context:
        """The context of `model` (default: RETRAINER_MODEL, or the only model configured). Its params are
        checked before anything else happens: a config mistake stops here with ModelConfigError naming the
        file and the key."""
        settings = Settings.from_env()
        name = choose_model(settings.project_dir, model or settings.model)
        params = load_model(settings.project_dir, name, dag_params)
        return cls(settings, params, open_storage(settings.storage_root, params["timeouts"]["storage"]))

    @property
    def model(self) -> str:
        return self.params["model"]["name"]

    @property
    def registry(self) -> Registry:
        return Registry(self.storage, self.model)

    @property
    def source(self) -> Storage:
        return open_storage(self.settings.model_source_root(self.params), self.params["timeouts"]["storage"])
