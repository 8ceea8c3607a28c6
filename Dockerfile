# syntax=docker/dockerfile:1.7
# The images of AI Community: one per service, built by target and tagged aic/<service>
# (`make images`, or `docker build --target auth -t aic/auth .`). Targets: auth, social, files,
# simulator, gateway (the gateway's image also carries the built web UI).
# Each final image is python slim with one virtual environment, the service's code installed in it as
# a wheel, no compiler, no uv, running as UID 10001.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ----------------------------------------------------------------------------- the web UI
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY services/gateway/web/package.json services/gateway/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY services/gateway/web/ ./
RUN npm run build

# ----------------------------------------------------------------------------- the virtual environments
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY services/auth/pyproject.toml services/auth/
COPY services/social/pyproject.toml services/social/
COPY services/files/pyproject.toml services/files/
COPY services/simulator/pyproject.toml services/simulator/
COPY services/gateway/pyproject.toml services/gateway/
# Third-party packages first, from the lock alone: this layer survives changes to our code.
RUN --mount=type=cache,target=/root/.cache/uv \
    for service in auth social files simulator gateway; do \
      UV_PROJECT_ENVIRONMENT=/opt/aic/$service \
        uv sync --frozen --no-dev --no-install-workspace --package aic-$service || exit 1; \
    done
COPY libs/common libs/common
COPY services services
# Then our packages, as wheels (no editable links back to /src).
RUN --mount=type=cache,target=/root/.cache/uv \
    for service in auth social files simulator gateway; do \
      UV_PROJECT_ENVIRONMENT=/opt/aic/$service \
        uv sync --frozen --no-dev --no-editable --package aic-$service || exit 1; \
    done

# ----------------------------------------------------------------------------- what every service runs on
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 aic \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin aic
# An empty working directory: nothing (no .env) is read from it.
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]

# ----------------------------------------------------------------------------- one target per service
FROM runtime AS auth
COPY --from=build /opt/aic/auth /opt/aic/auth
ENV PATH=/opt/aic/auth/bin:$PATH
CMD ["python", "-m", "aic_common.server", "aic_auth.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "20"]

FROM runtime AS social
COPY --from=build /opt/aic/social /opt/aic/social
ENV PATH=/opt/aic/social/bin:$PATH
CMD ["python", "-m", "aic_common.server", "aic_social.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "20"]

FROM runtime AS files
COPY --from=build /opt/aic/files /opt/aic/files
ENV PATH=/opt/aic/files/bin:$PATH
CMD ["python", "-m", "aic_common.server", "aic_files.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "20"]

FROM runtime AS simulator
COPY --from=build /opt/aic/simulator /opt/aic/simulator
ENV PATH=/opt/aic/simulator/bin:$PATH
CMD ["python", "-m", "aic_common.server", "aic_simulator.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "20"]

FROM runtime AS gateway
COPY --from=build /opt/aic/gateway /opt/aic/gateway
COPY --from=web /web/dist /opt/aic/web
ENV PATH=/opt/aic/gateway/bin:$PATH \
    AIC_WEB_DIST_DIR=/opt/aic/web
CMD ["python", "-m", "aic_common.server", "aic_gateway.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "20"]
