"""The Airflow side the DAG files share (notifiers), apart from `retrainer`, which never imports Airflow."""
