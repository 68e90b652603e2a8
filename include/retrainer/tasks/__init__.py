"""The entry points of the DAGs' tasks, one module per DAG: wiring only, with no Airflow in them."""
