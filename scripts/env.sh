# Sourced by the other scripts: the embedded default (SQLite metadata, everything under var/).
# Any variable already set in the environment wins, so the same scripts run against Postgres or S3.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RETRAINER_VAR_DIR="${RETRAINER_VAR_DIR:-$ROOT/var}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$RETRAINER_VAR_DIR/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ROOT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ROOT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
# LocalExecutor starts 32 worker processes by default: as many as the machine has cores is enough here.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-$(nproc 2>/dev/null || echo 2)}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS:-True}"
export GX_ANALYTICS_ENABLED=False
export DVC_NO_ANALYTICS=1
export PATH="$ROOT/.venv/bin:$PATH"
# Retry an unexpected failure (a full disk, an S3 hiccup) after 10 s instead of 5 min on this one machine.
export AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY="${AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY:-10}"
