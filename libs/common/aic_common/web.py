"""The FastAPI app factory every service uses: logging, error shape, request context, metrics, health."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from starlette.types import ASGIApp

from aic_common.body_limit import BodyLimitMiddleware, RouteBodyLimits
from aic_common.errors import document_error_responses, error_response, install_error_handlers
from aic_common.observability import (
    HttpMetrics,
    RequestContextMiddleware,
    configure_logging,
    metrics_router,
    service_var,
)
from aic_common.settings import ServiceSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]

READINESS_TIMEOUT_SECONDS = 2.0
_MAX_ERROR_CHARS = 200


class _ServiceApp(FastAPI):
    """A FastAPI app whose request-context middleware wraps even Starlette's error middleware.

    ``add_middleware`` would put it inside ``ServerErrorMiddleware``; outermost, it also adds
    ``X-Request-ID`` to 500 responses, counts them, and the unhandled-error log line carries the id.
    """

    service_name: str = "aic"
    http_metrics: HttpMetrics | None = None

    def build_middleware_stack(self) -> ASGIApp:
        return RequestContextMiddleware(
            super().build_middleware_stack(), service_name=self.service_name, metrics=self.http_metrics
        )

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = document_error_responses(super().openapi())
        return self.openapi_schema


async def _run_check(name: str, check: ReadinessCheck, limit_seconds: float) -> str:
    try:
        with anyio.fail_after(limit_seconds):
            await check()
    except TimeoutError:
        log.warning("readiness check %s timed out after %ss", name, limit_seconds)
        return f"error: timed out after {limit_seconds:g}s"
    except Exception as exc:
        log.warning("readiness check %s failed", name, exc_info=exc)
        # Short and single-line: this ends up in a probe's response body.
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        return f"error: {message[:_MAX_ERROR_CHARS]}"
    return "ok"


async def run_readiness_checks(
    checks: Mapping[str, ReadinessCheck], limit_seconds: float = READINESS_TIMEOUT_SECONDS
) -> dict[str, str]:
    """Run every check concurrently, each bounded by ``limit_seconds``; ``{name: "ok" | "error: ..."}``."""
    results: dict[str, str] = {}

    async def run(name: str, check: ReadinessCheck) -> None:
        results[name] = await _run_check(name, check, limit_seconds)

    async with anyio.create_task_group() as tg:
        for name, check in checks.items():
            tg.start_soon(run, name, check)
    return {name: results[name] for name in checks}


def database_check(engine: Engine) -> ReadinessCheck:
    """A readiness check running ``SELECT 1`` on ``engine`` in a worker thread."""

    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def check() -> None:
        # abandon_on_cancel: a hung connect must not keep the probe waiting past its timeout.
        await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)

    return check


def _health_router(app: FastAPI) -> APIRouter:
    router = APIRouter(prefix="/health", include_in_schema=False)

    @router.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        # Read at request time: a lifespan adds the DB and broker checks once they exist.
        checks: dict[str, ReadinessCheck] = app.state.readiness_checks
        results = await run_readiness_checks(dict(checks), app.state.readiness_timeout_seconds)
        if all(result == "ok" for result in results.values()):
            return JSONResponse({"status": "ready", "checks": results})
        return error_response(503, {"checks": results}, "not_ready")

    return router


_startup_heap_frozen = False


def freeze_startup_heap() -> None:
    """Exempt what start-up built from the garbage collector's full collections, once per process.

    Modules, ORM mappers, validation schemas and routes are hundreds of thousands of objects that live as
    long as the process; every full collection walked them all, a pause of 100-130 ms of one service
    that every request in flight waited out (it set the feed's p99). Frozen, they are never walked.
    """
    global _startup_heap_frozen
    if not _startup_heap_frozen:
        _startup_heap_frozen = True
        gc.collect()
        gc.freeze()


def _bind_service_lifespan(service_name: str, lifespan: Lifespan | None) -> Lifespan:
    @asynccontextmanager
    async def bound(app: FastAPI) -> AsyncIterator[Any]:
        # Tasks started during startup (consumers, outbox relay) copy this context, so their log
        # lines carry the right service even when several apps share the process.
        token = service_var.set(service_name)
        try:
            if lifespan is None:
                freeze_startup_heap()
                yield None
            else:
                async with lifespan(app) as state:
                    freeze_startup_heap()
                    yield state
        finally:
            # Shutdown may run in another context than startup did; then there is nothing to undo.
            with contextlib.suppress(ValueError):
                service_var.reset(token)

    return bound


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
    version: str = "0.1.0",
    body_limits: RouteBodyLimits | None = None,
) -> FastAPI:
    """A service's FastAPI app with logging, the common error shape, request ids, metrics, health and a
    cap on request bodies (``settings.max_request_body_bytes``; ``body_limits`` gives routes that take
    more, such as uploads, limits of their own, None for one that caps its body itself).

    ``app.state.readiness_checks`` (name -> async check) can be extended after creation, and
    ``app.state.metrics_registry`` is the app's own Prometheus registry for service metrics.
    """
    configure_logging(settings.log_level, settings.log_json)
    metrics = HttpMetrics.create()
    app = _ServiceApp(
        title=title,
        version=version,
        lifespan=_bind_service_lifespan(settings.service_name, lifespan),
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.service_name = settings.service_name
    app.http_metrics = metrics
    app.state.metrics_registry = metrics.registry
    app.state.http_metrics = metrics
    app.state.readiness_checks = dict(readiness_checks or {})
    app.state.readiness_timeout_seconds = READINESS_TIMEOUT_SECONDS
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes, route_max_bytes=body_limits
    )
    app.include_router(_health_router(app))
    app.include_router(metrics_router(metrics.registry, settings.metrics_token.get_secret_value()))
    for router in routers:
        app.include_router(router)
    return app
