"""The gateway's FastAPI app: the single entry point, in front of every service and the web UI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import Gauge
from starlette.responses import Response
from starlette.routing import Route

from aic_common.bus import Bus, BusUnavailable, InProcessBus, create_bus
from aic_common.client_address import IPNetwork
from aic_common.deleted_accounts import DeletedAccounts, deleted_accounts_url
from aic_common.errors import NotFound, error_response
from aic_common.tokens import JwksKeySource
from aic_common.web import create_service_app
from aic_gateway.docs import docs_router, docs_static
from aic_gateway.edge import EdgeMiddleware, Limits, SecurityHeadersMiddleware
from aic_gateway.inprocess import InProcessTransport
from aic_gateway.proxy import ReverseProxy, Upstream
from aic_gateway.ratelimit import RateLimiter, create_rate_limiter
from aic_gateway.settings import UPSTREAM_PREFIXES, GatewaySettings
from aic_gateway.stream import StreamHub, stream_router
from aic_gateway.stream_caps import StreamCaps, StreamLimiter
from aic_gateway.stream_tickets import StreamTickets
from aic_gateway.upstream_http import UpstreamTransport
from aic_gateway.webui import WebUi

JWKS_PATH = "/api/auth/.well-known/jwks.json"
# The pool lets an idle connection to a service go well before the service would close it
# (aic_common.server.KEEP_ALIVE_SECONDS), so it never sends on one the service is closing.
UPSTREAM_IDLE_SECONDS = 30.0


@dataclass
class GatewayState:
    settings: GatewaySettings
    upstreams: dict[str, Upstream]
    proxy: ReverseProxy
    verifier: JwksKeySource
    limiter: RateLimiter
    limits: Limits
    trusted_proxies: tuple[IPNetwork, ...]  # AIC_TRUSTED_PROXIES: the ingress in front
    bus: Bus
    hub: StreamHub

    def upstream_for(self, path: str) -> Upstream | None:
        for name, prefixes in UPSTREAM_PREFIXES.items():
            if any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes):
                return self.upstreams.get(name)
        return None

    def timeout_for(self, method: str, path: str) -> httpx.Timeout:
        s = self.settings
        long_running = path.startswith("/api/files")  # uploads and downloads of images
        read = s.upstream_upload_timeout_seconds if long_running else s.upstream_timeout_seconds
        return httpx.Timeout(read, connect=s.upstream_connect_timeout_seconds)


def _redis_client(url: str) -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _upstreams(settings: GatewaySettings, apps: Mapping[str, object] | None) -> dict[str, Upstream]:
    upstreams: dict[str, Upstream] = {}
    for name in UPSTREAM_PREFIXES:
        if apps is not None and name in apps:
            transport: httpx.AsyncBaseTransport = InProcessTransport(apps[name])  # type: ignore[arg-type]
            base_url = f"http://{name}"
        elif url := settings.upstream_url(name):
            transport = UpstreamTransport(
                max_connections=settings.upstream_max_connections, idle_seconds=UPSTREAM_IDLE_SECONDS
            )
            base_url = url
        else:
            continue  # not deployed (yet): its routes answer 503
        upstreams[name] = Upstream(name, httpx.AsyncClient(transport=transport, base_url=base_url))
    return upstreams


PROXIED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _proxy(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    path = request.url.path
    upstream = state.upstream_for(path)
    if upstream is None:
        known = any(path.startswith(p) for prefixes in UPSTREAM_PREFIXES.values() for p in prefixes)
        if known:
            return error_response(503, "This part of the service is not deployed", "upstream_unavailable")
        raise NotFound(f"No API at {path}")
    return await state.proxy.forward(
        request,
        upstream,
        client_ip=request.scope.get("state", {}).get("client_ip", ""),
        timeout=state.timeout_for(request.method, path),
    )


def _proxy_route() -> Route:
    """Every API request the gateway forwards. A plain Starlette route: FastAPI's per-request machinery
    (solving dependencies, an exit stack per request) has nothing to do here, and cost about 8 % of the
    gateway's CPU per proxied request (0.99-1.07 -> 0.89-0.98 ms, timelines, side by side)."""
    return Route("/api/{path:path}", _proxy, methods=PROXIED_METHODS, include_in_schema=False)


def _ui_router(ui: WebUi) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def web(path: str, request: Request) -> Response:
        return ui.response_for(path, request.headers.get("accept-encoding"))

    return router


def create_app(
    settings: GatewaySettings | None = None,
    *,
    service_apps: Mapping[str, object] | None = None,
    shared_bus: InProcessBus | None = None,
) -> FastAPI:
    """``service_apps`` (dev mode) are reached in-process; otherwise the ``AIC_<SERVICE>_URL`` settings."""
    settings = settings or GatewaySettings()
    upstreams = _upstreams(settings, service_apps)
    auth = upstreams.get("auth")
    verifier = JwksKeySource(
        str(auth.client.base_url.join(JWKS_PATH)) if auth else settings.jwks_url,
        settings.jwt_issuer,
        settings.jwt_audience,
        http_client=auth.client if auth else None,
    )
    bus = create_bus(settings, shared_inprocess=shared_bus)
    hub = StreamHub(
        bus,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
        replay_events=settings.stream_replay_events,
        replay_seconds=settings.stream_replay_seconds,
    )
    hub.register()
    # The tokens of accounts deleted since they were issued are refused, their open streams closed:
    # heard of on the bus, and loaded from auth (what this process missed before it started).
    deleted_accounts = (
        DeletedAccounts()
        .listen(bus, settings.service_name)
        .load_from(
            deleted_accounts_url(str(auth.client.base_url) if auth else settings.jwks_url),
            http_client=auth.client if auth else None,
        )
    )
    deleted_accounts.on_deleted(hub.close_user)
    verifier.deleted_accounts = deleted_accounts
    # Stream tickets and stream counts, shared by the replicas through Redis when there is one.
    stream_store = _redis_client(settings.redis_url) if settings.redis_url else None
    tickets = StreamTickets(stream_store, ttl_seconds=settings.stream_ticket_seconds)
    stream_limiter = StreamLimiter(
        StreamCaps(
            per_person=settings.stream_max_per_person,
            per_address=settings.stream_max_per_address,
            anonymous=settings.stream_max_anonymous,
        ),
        stream_store,
        lease_seconds=settings.stream_lease_seconds,
    )
    state = GatewayState(
        settings=settings,
        upstreams=upstreams,
        proxy=ReverseProxy(retries=settings.upstream_retries),
        verifier=verifier,
        limiter=create_rate_limiter(settings.redis_url),
        limits=Limits(
            per_ip=settings.rate_limit_per_ip,
            per_user=settings.rate_limit_per_user,
            login_per_ip=settings.rate_limit_login_per_ip,
            register_per_ip=settings.rate_limit_register_per_ip,
            window_seconds=settings.rate_limit_window_seconds,
        ),
        trusted_proxies=tuple(settings.trusted_proxies),
        bus=bus,
        hub=hub,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if shared_bus is None:  # a shared in-process bus is started by its owner (dev mode)
            await bus.start()
        await hub.start()
        await stream_limiter.start()
        await deleted_accounts.start()
        try:
            yield
        finally:
            await deleted_accounts.stop()
            await hub.stop()
            await stream_limiter.aclose()
            if stream_store is not None:
                await stream_store.aclose()
            if shared_bus is None:
                await bus.stop()
            for upstream in upstreams.values():
                await upstream.aclose()
            await state.limiter.aclose()

    async def broker_ready() -> None:
        if not await bus.ping():
            raise BusUnavailable("the message broker does not answer")

    app = create_service_app(
        settings,
        title="AI Community gateway",
        routers=[stream_router(hub, tickets=tickets, limiter=stream_limiter)],
        readiness_checks={"broker": broker_ready},
        lifespan=lifespan,
        # Uploads stream through to the files service, which caps them too; every other body is small.
        body_limits={("POST", "/api/files"): settings.max_upload_body_bytes},
    )
    app.state.gateway = state
    Gauge(
        "aic_stream_subscribers", "Open live-stream connections", registry=app.state.metrics_registry
    ).set_function(lambda: hub.subscriber_count)
    app.state.token_verifier = verifier
    app.include_router(docs_router(app.openapi))
    app.mount("/api/docs/static", docs_static(), name="docs-static")
    app.router.routes.append(_proxy_route())
    app.include_router(_ui_router(WebUi(settings.web_dist_dir)))
    app.add_middleware(EdgeMiddleware, gateway=state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Last-Event-ID"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
