"""The register stage and the model registry: immutable versions, movable aliases, an append-only audit log,
lineage, and the page the Airflow UI shows."""
