# The Airflow image with this project installed, from the same lock as `make demo` (uv.lock).
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/retrainer/
COPY --chown=airflow:root include /opt/retrainer/include
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv export --project /opt/retrainer --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && uv pip install --python "$(command -v python)" --no-cache --compile-bytecode -r /tmp/requirements.txt \
 && uv pip install --python "$(command -v python)" --no-cache --no-deps -e /opt/retrainer
