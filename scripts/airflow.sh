#!/usr/bin/env bash
# Any Airflow CLI command against the demo's environment, e.g. `scripts/airflow.sh standalone` for the UI
# or `scripts/airflow.sh dags list-runs retrain_fraud-xgb`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$ROOT/scripts/ports.sh"  # RETRAINER_DEMO_PORT=8081: the UI on 8081, its log servers beside it
"$ROOT/scripts/bootstrap.sh"
exec airflow "$@"
