#!/usr/bin/env bash
# The test suite: lint, unit tests of the package, DAG integrity, end-to-end runs through real Airflow.
# Installs what it needs first (scripts/bootstrap.sh); extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/bootstrap.sh"
# The Data Docs test opens the pages in headless Chromium (Debian's package; we run as root in CI).
if ! command -v chromium >/dev/null; then
  echo "==> installing chromium (Debian package) for the Data Docs browser test"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
cd "$ROOT"
echo "==> ruff"
ruff check .
ruff format --check --quiet include dags plugins tests bench
echo "==> pytest"
# Tests set their own AIRFLOW_HOME and RETRAINER_VAR_DIR; unset the demo's so nothing leaks between them.
unset AIRFLOW_HOME RETRAINER_VAR_DIR
exec python -m pytest "$@"
