"""Where each value of a model's params comes from: its own params.yaml or models/defaults.yaml. What
`retrainer models show` prints: the merged params as YAML, each value taken from the defaults marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from retrainer.core.models import DEFAULTS_FILE, MODELS_DIR, PARAMS_FILE, _read_yaml, load_model, params_file
from retrainer.core.params import REPLACED_BLOCKS, replaced_blocks
from retrainer.core.schema import XGBoost

DEFAULT_MARK = "# (default)"


def _holds(tree: Any, path: tuple[str, ...]) -> bool:
    for part in path:
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def _flow(value: Any) -> str:
    """`value` as one line of YAML (flow style for lists and mappings)."""
    return yaml.safe_dump([value], default_flow_style=True, width=1 << 30, sort_keys=False).strip()[1:-1]


def annotated_yaml(params: dict[str, Any], own: dict[str, Any]) -> str:
    """`params` (merged) as YAML that loads back to the same mapping, every value that `own` (the model's
    params.yaml) does not set marked `# (default)`, and under each estimator block that `own` replaces
    whole, a comment naming the keys left to the estimator's own defaults."""
    replaced = set(replaced_blocks(own))
    lines: list[str] = []

    def emit(node: dict[str, Any], path: tuple[str, ...], depth: int) -> None:
        indent = "  " * depth
        for key, value in node.items():
            here = (*path, str(key))
            if isinstance(value, dict) and value:
                lines.append(f"{indent}{_flow(key)}:")
                emit(value, here, depth + 1)
                if ".".join(here) in replaced and ".".join(here) in REPLACED_BLOCKS:
                    # the objective left out is a binary classifier's (training.models.booster_params)
                    unset = sorted(set(XGBoost.model_fields) - set(value) - {"objective"})
                    objective = "" if "objective" in value else "; objective: binary:logistic"
                    lines.append(
                        f"{indent}  # replaces {MODELS_DIR}/{DEFAULTS_FILE}'s block; XGBoost's own "
                        f"default for: {', '.join(unset) or 'nothing'}{objective}"
                    )
                continue
            mark = "" if _holds(own, here) else f"  {DEFAULT_MARK}"
            lines.append(f"{indent}{_flow(key)}: {_flow(value)}{mark}")

    emit(params, (), 0)
    return "\n".join(lines) + "\n"


def show_model(project_dir: Path, name: str) -> str:
    """What `retrainer models show NAME` prints: the model's checked params, defaults marked."""
    params = load_model(project_dir, name)
    own = _read_yaml(params_file(project_dir, name), f"{MODELS_DIR}/{name}/{PARAMS_FILE}")
    header = (
        f"# {MODELS_DIR}/{name}/{PARAMS_FILE} merged over {MODELS_DIR}/{DEFAULTS_FILE}: "
        f"{DEFAULT_MARK} marks a value the model does not set itself\n"
    )
    return header + annotated_yaml(params, own)
