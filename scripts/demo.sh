#!/usr/bin/env bash
# The main job on the embedded default: install, generate ten weeks of transactions, run the retraining
# DAG end to end through real Airflow (scheduler, LocalExecutor, SQLite metadata), print the registered
# model. The run is an ordinary Airflow run: its task logs, durations and id read in the UI (`make airflow`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/bootstrap.sh"

# A fixed Monday, so the demo is the same on every machine; DEMO_DATE=YYYY-MM-DD picks another.
DEMO_DATE="${DEMO_DATE:-2026-11-16}"
LAST_DAY="$(python3 -c "import datetime as d; print(d.date.fromisoformat('$DEMO_DATE') - d.timedelta(days=1))")"
RUN_ID="demo__$DEMO_DATE"
source "$ROOT/scripts/ports.sh"  # RETRAINER_DEMO_PORT moves every port the standalone listens on
PORT="$AIRFLOW__API__PORT"

# Airflow's services for this one run: the scheduler runs only the run we trigger (no schedule of its own),
# each task in its own process (LocalExecutor, as many as the machine has cores), logs written to files.
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False

mkdir -p "$AIRFLOW_HOME"
echo "==> Airflow metadata database ($AIRFLOW_HOME)"
airflow db migrate > "$RETRAINER_VAR_DIR/airflow-db-migrate.log" 2>&1 \
  || { cat "$RETRAINER_VAR_DIR/airflow-db-migrate.log"; exit 1; }

echo "==> Synthetic transactions: 70 days up to $LAST_DAY"
retrainer generate --model fraud-xgb --end "$LAST_DAY" --days 70

echo "==> Airflow (scheduler, API server, DAG processor) on http://localhost:$PORT, for this run"
services_log="$RETRAINER_VAR_DIR/airflow-services.log"
setsid airflow standalone > "$services_log" 2>&1 &
services=$!
stop_services() {  # the whole process group: SIGTERM, a grace period, then SIGKILL
  kill -TERM -- "-$services" 2>/dev/null || return 0
  for _ in $(seq 30); do kill -0 -- "-$services" 2>/dev/null || return 0; sleep 1; done
  kill -KILL -- "-$services" 2>/dev/null || true
}
trap stop_services EXIT

# Through the REST API, as the UI's Trigger form does: the run covers the week that ends on DEMO_DATE. The first run of a model backfills its whole training window (56 days); weekly runs
# extract their week. A rerun of the demo clears the run, and it runs again; the run takes the week's
# start as its logical date, as the week's scheduled run would, and the DAG is left paused (run_dag.py).
echo "==> retrain_fraud-xgb, run $RUN_ID for the week ending $DEMO_DATE (REST API)"
python3 "$ROOT/scripts/run_dag.py" retrain_fraud-xgb "$RUN_ID" --logical-date "$DEMO_DATE" \
  --conf '{"extract_window_days": 56}' --timeout 1200
stop_services
trap - EXIT

echo "==> Model registry of fraud-xgb ($(retrainer registry list --model fraud-xgb | wc -l) version(s))"
retrainer registry list --model fraud-xgb
retrainer registry show champion --model fraud-xgb --json | python3 -c "
import collections, json, sys
v = json.load(sys.stdin)
print(f\"champion: {v['model']} version {v['version']} (data {v['data_hash']}, git {v['git']['commit']})\")
labels = {'challenger': 'this model', 'baseline': 'baseline', 'rule': 'rule', 'champion': 'previous champion'}
for key, label in labels.items():
    m = v['metrics'].get(key)
    if m:
        print(f'  {label:<18} PR-AUC {m[\"pr_auc\"]:.4f}  ROC-AUC {m[\"roc_auc\"]:.4f}  recall@FPR {m[\"recall_at_fpr\"]:.4f}')
verdicts = collections.Counter(g.get('verdict') or ('passed' if g['passed'] else 'failed') for g in v['gates'])
print('  gates: ' + ', '.join(f'{n} {verdict}' for verdict, n in verdicts.items()))
print('  gate report: ' + v['run_manifest_uri'].rsplit('/', 1)[0] + '/report.html')
"
echo "==> The run in the Airflow UI: make airflow${RETRAINER_DEMO_PORT:+ RETRAINER_DEMO_PORT=$RETRAINER_DEMO_PORT}, then DAGs > retrain_fraud-xgb > $RUN_ID"
