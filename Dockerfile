# syntax=docker/dockerfile:1
# cdc_watch container image.
#
#   scripts/build-image            # tags ghcr.io/cdc-watch/cdc-watch:<version> and :<version>-<revision>
#   docker run -p 10108:10108 \
#     -v $PWD/cdc-watch.yaml:/etc/cdc-watch/config.yaml:ro -v cdc-watch-state:/var/lib/cdc-watch \
#     -e CONNECT_PASSWORD=... ghcr.io/cdc-watch/cdc-watch:0.1.0
#
# The configuration is a mounted file (/etc/cdc-watch/config.yaml, also $CDC_WATCH_CONFIG, the
# default --config.file of every cdc-watch command); relative secret/TLS file paths in it resolve
# against /etc/cdc-watch; secrets come from the
# environment or mounted files (see docs/configuration.md); persistent state (state_file) lives
# on the /var/lib/cdc-watch volume. The process runs as an unprivileged user.
#
# scripts/build-image passes VERSION (cdc_watch/__init__.py) and REVISION (git commit) into the
# OCI labels; by hand: docker build --build-arg VERSION=... --build-arg REVISION=$(git rev-parse HEAD).
# PYTHON_IMAGE may be pinned by digest for a reproducible base (python:3.11-slim-bookworm@sha256:...).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: wheels for cdc_watch and its dependencies (no compilers end up in the runtime image)
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cdc_watch ./cdc_watch
RUN pip wheel --wheel-dir /wheels .

# ---- runtime
FROM ${PYTHON_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cdc-watch" \
      org.opencontainers.image.description="Monitoring, alerting and self-healing daemon for Kafka Connect + Debezium MySQL change-data-capture" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/cdc-watch/cdc-watch" \
      org.opencontainers.image.documentation="https://github.com/cdc-watch/cdc-watch/blob/main/docs/operations.md"

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Default --config.file of every command, so `docker exec ... cdc-watch connectors list` (or
# check-config, preflight, silence) reads the mounted config without repeating the flag.
ENV CDC_WATCH_CONFIG=/etc/cdc-watch/config.yaml
# The build's git commit, for the revision label of cdc_build_info.
ENV CDC_WATCH_REVISION=${REVISION}
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels cdc-watch \
 && groupadd --system --gid 10001 cdcwatch \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/cdc-watch --shell /usr/sbin/nologin cdcwatch \
 && mkdir -p /etc/cdc-watch /var/lib/cdc-watch \
 && chown 10001:10001 /var/lib/cdc-watch

COPY --chown=root:root config.example.yaml /etc/cdc-watch/config.example.yaml

USER 10001:10001
WORKDIR /var/lib/cdc-watch
VOLUME ["/var/lib/cdc-watch"]
EXPOSE 10108

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:10108/-/healthy', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["cdc-watch"]
CMD ["run", "--config.file=/etc/cdc-watch/config.yaml", "--web.listen-address=:10108", "--log.format=json"]
