"""docker-compose.yaml and the Dockerfile read the way Docker reads them, for the tests that hold them to
the truth (tests/test_compose.py statically, tests/e2e/test_compose_topology.py by running them)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from tests.conftest import PROJECT_DIR

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


@cache
def compose_file(name: str = "docker-compose.yaml") -> dict:
    return yaml.safe_load((PROJECT_DIR / name).read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1) or match.group(4), match.group(2), match.group(3)
        value = env.get(name)
        if operator in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if operator and operator.endswith("?"):
            raise AssertionError(f"docker-compose.yaml requires {name}: {argument}")
        return argument if operator else ""

    return _VARIABLE.sub(one, value)


def compose_environment(env: dict[str, str]) -> dict[str, str]:
    """The `x-airflow-common` environment every Airflow service gets, with `env` as the operator's .env."""
    common = compose_file()["x-airflow-common"]["environment"]
    return {key: interpolate(str(value), env) for key, value in common.items()}


def compose_volumes(env: dict[str, str]) -> dict[str, str]:
    """The `x-airflow-common` volumes: container path -> name of the host directory (shared by services)."""
    volumes = {}
    for volume in compose_file()["x-airflow-common"]["volumes"]:
        source, target = interpolate(volume, env).rsplit(":", 1)
        volumes[target] = Path(source).name
    return volumes


def compose_command(service: str) -> list[str]:
    return shlex.split(compose_file()["services"][service]["command"])


def healthcheck_url(service: str) -> str:
    """The URL a service's `curl --fail URL` healthcheck asks."""
    test = compose_file()["services"][service]["healthcheck"]["test"]
    return next(word for word in test if word.startswith("http"))


@dataclass
class Image:
    copies: list[tuple[str, str]]  # (project path, container path), in the order of the COPY lines
    env: dict[str, str]  # the ENV the image sets


def dockerfile_image(build_args: dict[str, str] | None = None) -> Image:
    """The Dockerfile's COPY and ENV instructions (continuation lines joined, ARG defaults applied)."""
    text = re.sub(r"\\\n", " ", (PROJECT_DIR / "Dockerfile").read_text())
    args, env, copies = dict(build_args or {}), {}, []
    for line in text.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction not in ("ARG", "ENV", "COPY"):
            continue
        words = [w for w in shlex.split(rest) if not w.startswith("--")]
        if instruction == "ARG":
            name, _, default = words[0].partition("=")
            args.setdefault(name, default)
        elif instruction == "ENV":
            for word in words:
                name, _, value = word.partition("=")
                env[name] = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), value)
        else:
            *sources, target = words
            for source in sources:
                copies.append((source, f"{target}{Path(source).name}" if target.endswith("/") else target))
    return Image(copies, env)
