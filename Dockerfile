# The Airflow image with this project installed, from the same lock as `make demo` (uv.lock).
# Self-contained: the DAGs, plugins, package, expectations and pipeline files are baked in, so the image
# runs without bind mounts (Celery workers on other machines, KubernetesExecutor pods). Build with the
# revision that lineage records:
#   docker build --build-arg RETRAINER_GIT_REVISION="$(git rev-parse HEAD)" -t retrainer-airflow:3.3.2 .
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

# Dependencies first (the slow layer), rebuilt only when the lock changes; `uv pip check` fails the build
# if the image's own packages and the lock's do not fit together.
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/retrainer/
COPY --chown=airflow:root include /opt/retrainer/include
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv export --project /opt/retrainer --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && uv pip install --python "$(command -v python)" --no-cache --compile-bytecode -r /tmp/requirements.txt \
 && uv pip install --python "$(command -v python)" --no-cache --no-deps -e /opt/retrainer \
 && uv pip check --python "$(command -v python)"

# What the tasks (and the DAG files, at parse time) read: the model folders, their data contracts, the DVC
# pipeline.
COPY --chown=airflow:root models /opt/retrainer/models
COPY --chown=airflow:root expectations /opt/retrainer/expectations
COPY --chown=airflow:root dvc.yaml /opt/retrainer/
# Airflow's default DAG and plugin folders under AIRFLOW_HOME (/opt/airflow in the base image).
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins

ARG RETRAINER_GIT_REVISION=unknown
ENV RETRAINER_PROJECT_DIR=/opt/retrainer \
    RETRAINER_VAR_DIR=/opt/airflow/var \
    RETRAINER_GIT_REVISION=${RETRAINER_GIT_REVISION}
