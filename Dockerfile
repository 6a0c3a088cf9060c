# stacklens hub image: the embedded store (DuckDB) and SQLite metadata in one volume, or,
# as a scale-out replica, a ClickHouse server and PostgreSQL by URL (STACKLENS_STORE_URL,
# STACKLENS_METADATA_URL: the drivers are in the image; see deploy/compose/scale-out).
#
#   docker build -t stacklens .
#   docker run -p 4320:4320 -v stacklens-data:/var/lib/stacklens stacklens
#
# BASE is a build argument so that a machine with no registry can build from a base image
# made locally from Debian packages (deploy/image/build.sh); everyone else gets the
# official image.
ARG BASE=debian:bookworm-slim

# --- build: the project's own install steps (deploy/image/install.sh) into /opt/stacklens
FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY deploy/image/install.sh /usr/local/bin/stacklens-install
# PIP_CERT / PIP_INDEX_URL: for builds behind a TLS-inspecting proxy or a private index.
ARG PIP_CERT=""
ARG PIP_INDEX_URL=""
RUN [ -n "$PIP_CERT" ] || unset PIP_CERT; [ -n "$PIP_INDEX_URL" ] || unset PIP_INDEX_URL; \
    sh /usr/local/bin/stacklens-install /opt/stacklens /src

# --- runtime: the interpreter, the venv, a non-root user; nothing else
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/stacklens --create-home stacklens
COPY --from=build /opt/stacklens /opt/stacklens
ENV PATH=/opt/stacklens/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STACKLENS_DATA_DIR=/var/lib/stacklens \
    STACKLENS_HOST=0.0.0.0 \
    STACKLENS_PORT=4320
USER stacklens
WORKDIR /var/lib/stacklens
VOLUME ["/var/lib/stacklens"]
# 4320: HTTP (API, console, OTLP/HTTP, Loki, Zipkin); 4317: OTLP/gRPC.
EXPOSE 4320 4317
# /health checks the spool, the loader and the store (503 naming what fails).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('STACKLENS_PORT', '4320') + '/health', timeout=4)"]
# SIGTERM makes uvicorn finish in-flight requests, then the hub drains: the spool writer
# closes and the loader loads what is left. Give it time (`docker stop -t 30`, or
# terminationGracePeriodSeconds on Kubernetes).
STOPSIGNAL SIGTERM
ENTRYPOINT ["stacklens"]
CMD ["serve"]
