# Sourced by demo.sh and airflow.sh (`make demo`, `make airflow`): every port `airflow standalone` listens
# on, from one setting, so a second demo (another checkout, or another RETRAINER_VAR_DIR) runs beside a
# first one. RETRAINER_DEMO_PORT unset: Airflow's own ports (API 8080, the scheduler's task log server
# 8793, the triggerer's log server 8794, the scheduler's health check 8974). RETRAINER_DEMO_PORT=P: the API
# on P, the others on P+1, P+2, P+3 (give a second demo a port at least 4 away). An AIRFLOW__ variable
# already set wins, as in env.sh.
_retrainer_port="${RETRAINER_DEMO_PORT:-}"
case "$_retrainer_port" in
  "") _ports=(8080 8793 8794 8974) ;;
  *[!0-9]*) echo "RETRAINER_DEMO_PORT=$_retrainer_port is not a port number: give one such as 8081" >&2; exit 2 ;;
  *) _ports=("$_retrainer_port" $((_retrainer_port + 1)) $((_retrainer_port + 2)) $((_retrainer_port + 3))) ;;
esac
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-${_ports[0]}}"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-${_ports[1]}}"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-${_ports[2]}}"
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT="${AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT:-${_ports[3]}}"
# Tasks report to the API they were started by (Airflow's default names port 8080 whatever the API's is).
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://localhost:$AIRFLOW__API__PORT/execution/}"
unset _retrainer_port _ports
