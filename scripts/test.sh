#!/usr/bin/env bash
# The test suite: lint, unit tests of the package, DAG integrity, end-to-end runs through real Airflow.
# Installs what it needs first (scripts/bootstrap.sh); extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/bootstrap.sh"
# System packages that tests need, from Debian (CI runs as root): Chromium opens the Data Docs pages,
# PostgreSQL serves the metadata-database tests, Redis is the Celery broker of the compose-topology test.
# Installed once, when missing.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (Debian packages) for the browser, PostgreSQL and Celery tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
cd "$ROOT"
echo "==> ruff"
ruff check .
ruff format --check --quiet include dags plugins tests bench
echo "==> pytest"
# Tests set their own AIRFLOW_HOME and RETRAINER_VAR_DIR; unset the demo's so nothing leaks between them.
unset AIRFLOW_HOME RETRAINER_VAR_DIR
# The fast tests on both cores, then the end-to-end ones (Airflow, servers, browsers) one at a time.
python -m pytest -m "not e2e" "$@"
exec python -m pytest -m e2e -n 0 "$@"
