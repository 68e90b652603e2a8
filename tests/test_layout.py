"""The package's layout holds: one subpackage per stage, no import cycles, small documented modules, every
storage key built in one module, one clock, aliases named once, and each DAG task one hop from its work."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR

PACKAGE = PROJECT_DIR / "include" / "retrainer"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")
MAX_LINES = 400
# Storage areas under the root: only core/layout.py spells them.
AREAS = (
    "batches", "runs", "registry", "quarantine", "quarantine-events", "data-docs", "validations", "scores",
    "monitoring",
)  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every retrainer module imported anywhere in the file (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("retrainer")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("retrainer"):
            for alias in node.names:  # `from retrainer.data import quarantine` imports a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in NAMES else node.module)
    return found


NAMES = {_module_name(p) for p in MODULES}
GRAPH = {_module_name(p): _imports(p) & NAMES for p in MODULES}


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_modules():
    assert _cycle(GRAPH) is None, f"import cycle: {' -> '.join(_cycle(GRAPH))}"


def test_no_import_cycle_between_subpackages():
    packages: dict[str, set[str]] = defaultdict(set)
    for module, imported in GRAPH.items():
        for other in imported:
            if _subpackage(other) != _subpackage(module) and _subpackage(module):
                packages[_subpackage(module)].add(_subpackage(other))
    assert _cycle(packages) is None, f"subpackage cycle: {' -> '.join(_cycle(packages))}"


def test_later_stages_read_a_published_run_and_the_feature_matrix_without_training_s_run_code():
    """Training writes a run (`training.train`, called by the retraining DAG's `train` task alone); every
    later stage reads the published run through `data.published` and builds features with
    `features.matrix`, so none depends on how training runs DVC."""
    importers = {m for m, imported in GRAPH.items() if "retrainer.training.train" in imported}
    assert importers <= {"retrainer.tasks.retrain"}
    assert not {
        _subpackage(i) for i in GRAPH["retrainer.data.published"] | GRAPH["retrainer.features.matrix"]
    } & {"training"}


def test_the_domain_never_imports_the_test_data_generator():
    allowed = {"synthetic", "cli"}  # the generator itself, and `retrainer generate`
    offenders = {
        m: sorted(i for i in imported if _subpackage(i) == "synthetic")
        for m, imported in GRAPH.items()
        if _subpackage(m) not in allowed
    }
    assert {m: i for m, i in offenders.items() if i} == {}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_is_small_and_says_what_it_is_for(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"{path.name} has more than {MAX_LINES} lines"
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring, f"{path} opens with no docstring"


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_storage_keys_are_built_in_core_layout_only():
    pattern = re.compile(rf"^({'|'.join(re.escape(a) for a in AREAS)})/")
    offenders = {
        str(path.relative_to(PACKAGE)): hits
        for path in MODULES
        if path != PACKAGE / "core" / "layout.py"
        and (hits := [s for s in _string_constants(path) if pattern.match(s)])
    }
    assert offenders == {}


def test_one_clock_and_aliases_named_once():
    for path in MODULES:
        text = path.read_text()
        if path != PACKAGE / "core" / "clock.py":
            assert "datetime.now(" not in text, f"{path.name} reads the time outside core.clock"
        if path != PACKAGE / "registry" / "aliases.py":
            assert not re.search(r"^(CHAMPION|CHALLENGER)\b.*=", text, re.M), f"{path.name} defines an alias"


def test_artifact_names_match_the_pipeline():
    from retrainer.core import artifacts

    pipeline = yaml.safe_load((PROJECT_DIR / "dvc.yaml").read_text())
    declared = set()
    for stage in pipeline["stages"].values():
        for section in ("deps", "outs", "metrics"):
            for entry in stage.get(section, []):
                declared.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    known = {
        artifacts.BATCHES_DIR,
        artifacts.HISTORY_DIR,
        artifacts.FEATURES_SUITE,
        artifacts.FEATURES_DIR,
        artifacts.PREPARED_DIR,
        artifacts.ADAPTATION_DIR,
        artifacts.MODEL,
        artifacts.BASELINE,
        artifacts.CALIBRATION,
        artifacts.PREPARE_REPORT,
        artifacts.FIT_REPORT,
        artifacts.TUNING_REPORT,
        artifacts.METRICS,
        artifacts.PR_CURVE,
        artifacts.COST_CURVE,
    }
    assert declared == known
    dvc_added = {artifacts.BATCHES_DVC, artifacts.HISTORY_DVC}
    in_outs = {artifacts.FEATURES_REPORT, artifacts.ADAPTATION_REPORT, *artifacts.ADAPTED}  # in out dirs
    assert set(artifacts.PUBLISHED) <= known | dvc_added | in_outs | {*artifacts.PIPELINE_FILES} | {
        artifacts.prepared(s) for s in artifacts.SPLITS
    }
    assert set(artifacts.REGISTERED) | set(artifacts.REGISTERED_IF_PUBLISHED) <= set(artifacts.PUBLISHED)
    assert pipeline["artifacts"]  # the model is declared for DVC's own tools
    assert {a["path"] for a in pipeline["artifacts"].values()} == {artifacts.MODEL}


def test_each_dvc_stage_command_is_a_cli_stage_of_the_same_name():
    from retrainer.cli import build_parser

    pipeline = yaml.safe_load((PROJECT_DIR / "dvc.yaml").read_text())
    for name, stage in pipeline["stages"].items():
        assert stage["cmd"] == f"retrainer stage {name}"
        build_parser().parse_args(["stage", name])  # exits on an unknown stage


# Each DAG file and the module of its task entry points; every @task of the DAG is named in that module's
# docstring table together with the stage function it calls.
DAG_TASKS = {
    "retrain_models": (
        "retrain",
        {"extract", "validate", "check_labels", "train", "evaluate", "register", "route", "decide"},
    ),
    "score_models": ("score", {"score", "report_day", "act"}),
    "deploy_models": ("deploy", {"deploy"}),
}


@pytest.mark.parametrize("dag_file", sorted(DAG_TASKS))
def test_each_dag_task_is_one_hop_from_its_stage_function(dag_file):
    """dags/<dag>.py task -> retrainer.tasks.<module>.<task> -> the stage function its docstring names,
    which it calls."""
    import importlib

    module_name, expected = DAG_TASKS[dag_file]
    entry_points = importlib.import_module(f"retrainer.tasks.{module_name}")
    table = dict(re.findall(r"^\s{4}(\w+)\s+(retrainer\.[\w.]+)$", entry_points.__doc__, re.M))
    dag = ast.parse((PROJECT_DIR / "dags" / f"{dag_file}.py").read_text())

    def is_task(d) -> bool:
        """@task, @task(...), @task.branch, @lineage_task(...) (a @task reporting OpenLineage datasets), ...;
        not a sensor (a condition over the clock, no stage)."""
        target = d.func if isinstance(d, ast.Call) else d
        return (isinstance(target, ast.Name) and target.id in ("task", "lineage_task")) or (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "task"
            and target.attr != "sensor"
        )

    def calls_retrainer(node) -> bool:  # a task that only passes an XCom field on calls nothing
        """It imports `retrainer.tasks`, or calls the DAG file's `tasks()`, which does."""
        return any(
            (isinstance(n, ast.ImportFrom) and n.module == "retrainer.tasks")
            or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "tasks")
            for n in ast.walk(node)
        )

    tasks = {
        node.name
        for node in ast.walk(dag)
        if isinstance(node, ast.FunctionDef)
        and any(is_task(d) for d in node.decorator_list)
        and calls_retrainer(node)
    }
    assert tasks == set(table) == expected
    source = ast.parse(Path(entry_points.__file__).read_text())
    bodies = {n.name: n for n in source.body if isinstance(n, ast.FunctionDef)}
    imported = {
        alias.asname or alias.name: alias.name
        for n in source.body
        if isinstance(n, ast.ImportFrom)
        for alias in n.names
    }
    for task, target in table.items():
        module, function = target.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), function)), target
        called = {
            imported.get(n.func.id, n.func.id)
            for n in ast.walk(bodies[task])
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert function in called, f"tasks.{module_name}.{task} does not call {target}"
