# syntax=docker/dockerfile:1
#
# One image for every postdesk service; the command picks the process:
#   postdesk-gateway | postdesk-ingest | postdesk-parser | postdesk-router
#   postdesk-notifier | postdesk-outbound | postdesk migrate | postdesk demo
#
# Two-step build from uv.lock: third-party dependencies first (a layer that
# changes only when uv.lock or a pyproject.toml changes), then our own
# workspace packages. The final stage holds only the virtual environment:
# no uv, no sources, no tests, no dev dependencies.
#
#   docker build -t postdesk:dev .

ARG PYTHON_IMAGE=python:3.11-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
ARG NODE_IMAGE=node:20-slim

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------- console
# The web console (web/): static files the gateway serves at / (WEB_CONSOLE_DIR).
FROM ${NODE_IMAGE} AS console
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /uvx /bin/

# The image's own interpreter, never a downloaded one: the virtual
# environment points at /usr/local/bin/python3.11, which the runtime stage
# (same base image) has at the same path.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /src

# Step 1: dependencies only. uv needs the root pyproject, the lock and the
# pyproject.toml of every workspace member to know the workspace; the
# members' sources are not needed yet (--no-install-workspace).
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/pyproject.toml
COPY libs/runtime/pyproject.toml libs/runtime/pyproject.toml
COPY libs/schema/pyproject.toml libs/schema/pyproject.toml
COPY libs/smtp/pyproject.toml libs/smtp/pyproject.toml
COPY libs/testing/pyproject.toml libs/testing/pyproject.toml
COPY services/gateway/pyproject.toml services/gateway/pyproject.toml
COPY services/ingest/pyproject.toml services/ingest/pyproject.toml
COPY services/notifier/pyproject.toml services/notifier/pyproject.toml
COPY services/outbound/pyproject.toml services/outbound/pyproject.toml
COPY services/parser/pyproject.toml services/parser/pyproject.toml
COPY services/router/pyproject.toml services/router/pyproject.toml
COPY cli/pyproject.toml cli/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-workspace --package postdesk

# Step 2: our packages. `postdesk` (cli/) depends on every service and lib,
# so syncing it installs all entry points. --no-editable builds real wheels
# into the venv, so the runtime stage needs no source tree.
COPY libs libs
COPY services services
COPY cli cli
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package postdesk

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

# A fixed numeric uid/gid so Kubernetes can check runAsNonRoot and set
# fsGroup; the blob directory exists and belongs to it, so a fresh named
# volume mounted there (compose) starts with the right owner.
RUN groupadd --system --gid 10001 postdesk \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin postdesk \
 && mkdir -p /var/lib/postdesk/blobs \
 && chown -R 10001:10001 /var/lib/postdesk

COPY --from=builder /app/.venv /app/.venv
COPY --from=console /web/dist /app/web

# ENVIRONMENT=production makes the services refuse their development
# placeholder secrets; compose.yaml sets ENVIRONMENT=development on purpose.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    LOG_FORMAT=json \
    HTTP_HOST=0.0.0.0 \
    BLOB_DIR=/var/lib/postdesk/blobs \
    WEB_CONSOLE_DIR=/app/web

WORKDIR /app
USER 10001:10001
EXPOSE 8000 8001 8002 8003 8004 8005

# No ENTRYPOINT: the command is the service, run as PID 1 so it receives
# SIGTERM directly and drains in-flight work (uvicorn graceful shutdown).
CMD ["postdesk", "--help"]
