"""The ports of `make demo` and `make airflow` (scripts/ports.sh): one setting, RETRAINER_DEMO_PORT, moves
every port `airflow standalone` listens on, so a second demo runs beside a first one. Checked on the
environment each process of the standalone would get, without starting Airflow: every server port Airflow
knows of (its config.yml, so a port a later Airflow adds is caught) is set, and none is shared."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR

SCRIPTS = PROJECT_DIR / "scripts"


def _listening_options() -> list[str]:
    """The AIRFLOW__SECTION__KEY variables of every port an Airflow component listens on: `[api] port` and
    each `*_server_port` (statsd, otel and smtp ports are where Airflow sends, not listens)."""
    package = Path(importlib.util.find_spec("airflow").submodule_search_locations[0])  # not imported: slow
    config = yaml.safe_load((package / "config_templates" / "config.yml").read_text())
    return sorted(
        f"AIRFLOW__{section.upper()}__{option.upper()}"
        for section, body in config.items()
        for option in (body.get("options") or {})
        if (section, option) == ("api", "port") or option.endswith("_server_port")
    )


def _demo_env(port: str | None) -> dict[str, str]:
    """The environment demo.sh and airflow.sh give Airflow: env.sh then ports.sh, sourced as they do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RETRAINER_"))}
    if port is not None:
        env["RETRAINER_DEMO_PORT"] = port
    script = f'set -euo pipefail; source "{SCRIPTS}/env.sh"; source "{SCRIPTS}/ports.sh"; env -0'
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=60, check=True)
    return dict(line.split("=", 1) for line in done.stdout.decode().split("\0") if "=" in line)


def _ports(env: dict[str, str]) -> dict[str, int]:
    return {name: int(env[name]) for name in _listening_options()}


def test_every_port_the_standalone_listens_on_is_set_and_distinct():
    for port in (None, "8180"):
        ports = _ports(_demo_env(port))  # KeyError: a listening port the scripts leave at Airflow's default
        print(f"RETRAINER_DEMO_PORT={port}: {ports}")
        assert len(set(ports.values())) == len(ports), ports


@pytest.mark.parametrize(("first", "second"), [(None, "8180"), ("8180", "8184"), ("9000", None)])
def test_a_second_demo_with_another_port_shares_no_port_with_the_first(first, second):
    one, two = _ports(_demo_env(first)), _ports(_demo_env(second))
    assert not set(one.values()) & set(two.values()), (one, two)


def test_tasks_report_to_the_api_of_their_own_demo():
    env = _demo_env("8180")
    assert env["AIRFLOW__API__PORT"] == "8180"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:8180/execution/"


def test_a_port_that_is_not_a_number_is_refused_naming_the_setting():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RETRAINER_"))}
    script = f'set -euo pipefail; source "{SCRIPTS}/env.sh"; source "{SCRIPTS}/ports.sh"; echo started'
    done = subprocess.run(
        ["bash", "-c", script],
        env=env | {"RETRAINER_DEMO_PORT": "80a"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "started" not in done.stdout
    assert "RETRAINER_DEMO_PORT=80a" in done.stderr


@pytest.mark.parametrize("script", ["demo.sh", "airflow.sh"])
def test_make_demo_and_make_airflow_take_their_ports_from_the_one_setting(script):
    text = (SCRIPTS / script).read_text()
    assert 'source "$ROOT/scripts/ports.sh"' in text
    # nothing after it puts a port back to a fixed value
    after = text.split('source "$ROOT/scripts/ports.sh"', 1)[1]
    assert not any(f"export {name}=" in after for name in _listening_options())
