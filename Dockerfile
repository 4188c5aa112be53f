# syntax=docker/dockerfile:1
# The operator image: `dbr run`, non-root, nothing but Python and the installed project.
#
#   docker build -t dynamo-backup-role-operator:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Both stages must use the same base: the venv's python is a symlink into the base image's
# /usr/local. The tag below names a Python line and a Debian release; for reproducible builds pin
# the exact image by digest as well, and let Renovate or Dependabot move it:
#   --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest>
# (`docker buildx imagetools inspect python:3.11-slim-bookworm` prints the current digest).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Exactly what the build needs: pyproject.toml, the readme it names, the license and the package.
COPY pyproject.toml README.md LICENSE ./
COPY operator/ operator/
# The project's wheel (no dev extras), then a venv without pip holding it and its runtime
# dependencies, compiled to bytecode here because the root filesystem is read-only at run time.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install --compile /wheels/*.whl

FROM ${PYTHON_IMAGE}
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="dynamo-backup-role-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps Veeam Backup for AWS DynamoDB backup IAM roles correct" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# The base image's own pip, setuptools and wheel are packaging tools the operator never runs.
RUN python -m pip uninstall --yes --no-cache-dir pip setuptools wheel \
 && groupadd --system --gid 65532 dbr \
 && useradd --system --uid 65532 --gid 65532 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin dbr
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# Numeric, so that Kubernetes' runAsNonRoot can verify it without an /etc/passwd lookup.
USER 65532:65532
# /healthz (liveness, readiness) and Prometheus /metrics: the defaults of `dbr run`.
EXPOSE 8080 9090
ENTRYPOINT ["dbr", "run"]
