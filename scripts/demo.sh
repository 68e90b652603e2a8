#!/usr/bin/env bash
# The main job on the embedded default: install, generate ten weeks of transactions, run the retraining
# DAG end to end through real Airflow (`airflow dags test`, SQLite metadata), print the registered model.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/bootstrap.sh"

# A fixed Monday, so the demo is the same on every machine; DEMO_DATE=YYYY-MM-DD picks another.
DEMO_DATE="${DEMO_DATE:-2026-11-16}"
LAST_DAY="$(python3 -c "import datetime as d; print(d.date.fromisoformat('$DEMO_DATE') - d.timedelta(days=1))")"

mkdir -p "$AIRFLOW_HOME"
echo "==> Airflow metadata database ($AIRFLOW_HOME)"
airflow db migrate > "$RETRAINER_VAR_DIR/airflow-db-migrate.log" 2>&1 \
  || { cat "$RETRAINER_VAR_DIR/airflow-db-migrate.log"; exit 1; }

echo "==> Synthetic transactions: 70 days up to $LAST_DAY"
retrainer generate --end "$LAST_DAY" --days 70

# The run of the week ending on DEMO_DATE (a Monday): key ${DEMO_DATE}T000000Z. The first run of a model
# backfills its whole training window (56 days); weekly runs extract their calendar week.
echo "==> airflow dags test retrain_fraud $DEMO_DATE"
log="$RETRAINER_VAR_DIR/retrain_fraud-$DEMO_DATE.log"
airflow dags test retrain_fraud "$DEMO_DATE" --conf '{"extract_window_days": 56}' > "$log" 2>&1 || true
state="$(grep -oE "DagRun Finished: .*state=[a-z]+" "$log" | tail -n 1 | grep -oE "state=[a-z]+$" || true)"
if [ "$state" != "state=success" ]; then
  grep -E "ERROR|Rejected|Failed|Error" "$log" | tail -n 30
  echo "demo: the DAG run did not succeed ($state); full log: $log" >&2
  exit 1
fi
# A run can end "success" with no task run at all (Airflow skips tasks before a start_date): check that
# every task of the DAG ran and succeeded, not only the run's state.
for task in wait_for_late_files extract validate check_labels train evaluate register; do
  ti="$(grep -oE "running task <TaskInstance: retrain_fraud\.$task .*ti_id=[0-9a-f-]+" "$log" | grep -oE "ti_id=[0-9a-f-]+$" | tail -n 1)"
  if [ -z "$ti" ] || ! grep -E "new_state=success .*$ti" "$log" > /dev/null; then
    echo "demo: task $task did not run to success; full log: $log" >&2
    exit 1
  fi
done
echo "    run succeeded, every task ran (log: $log)"

echo "==> Model registry ($(retrainer registry list | wc -l) version(s))"
retrainer registry list
retrainer registry show champion --json | python3 -c "
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
