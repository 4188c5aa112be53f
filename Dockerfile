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
# botocore's API models of the services the operator calls (Organizations: discovery); the other
# ~400 (17 MiB) are never loaded.
ARG BOTOCORE_SERVICES="iam sts organizations"
# Packages of the dependencies that dbr never imports: the asyncio twin of the kubernetes client
# (68 MiB with its bytecode). tests/image runs `dbr run` from the image to the end of a reconcile.
ARG UNUSED_PACKAGES="kubernetes/aio"
# pip runs from a throwaway venv, so the base needs no pip of its own (Debian's python3 has none
# and refuses installs into the system: PEP 668). It builds the project's wheel (no dev extras),
# then installs it and its runtime dependencies into a venv without pip, compiled to bytecode
# here because the root filesystem is read-only at run time.
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && python3 -m venv --without-pip /opt/venv \
 && /opt/build/bin/pip --python /opt/venv/bin/python install --compile /wheels/*.whl \
 && for model in /opt/venv/lib/python3*/site-packages/botocore/data/*/; do \
      case " ${BOTOCORE_SERVICES} " in \
        *" $(basename "$model") "*) ;; \
        *) rm -r "$model" ;; \
      esac; \
    done \
 && for unused in ${UNUSED_PACKAGES}; do rm -r /opt/venv/lib/python3*/site-packages/"$unused"; done

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
# A python:3.x-slim base carries pip, setuptools and wheel, packaging tools the operator never runs:
# they go. A Debian base has none (or, from python3-pip, apt's own, marked EXTERNALLY-MANAGED,
# which pip must not touch), so nothing is uninstalled there.
RUN if python3 -c "import pip" 2>/dev/null \
      && python3 -c "import pathlib, sys, sysconfig; sys.exit(pathlib.Path(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED').exists())"; then \
      python3 -m pip uninstall --yes --no-cache-dir pip setuptools wheel; \
    fi \
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
