"""Logging, request context and HTTP metrics shared by every service.

Several service apps run in one process in dev mode, so nothing here is process-global that should be
per-app: the service name lives in a context variable (set per request by the middleware and per
lifespan by :func:`aic_common.web.create_service_app`), and each app has its own Prometheus registry.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aic_common.errors import NotFound, Unauthorized
from aic_common.principals import bearer_token
from aic_common.tokens import InvalidToken

request_id_var: ContextVar[str | None] = ContextVar("aic_request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("aic_correlation_id", default=None)
service_var: ContextVar[str | None] = ContextVar("aic_service", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"

# Client-supplied ids end up in logs and response headers: accept only short, inert values.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

access_log = logging.getLogger("aic.access")


def current_request_id() -> str | None:
    return request_id_var.get()


def current_correlation_id() -> str | None:
    return correlation_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_id(value: str | None) -> str | None:
    """``value`` if it is safe to log and echo back (<= 64 chars of ``[A-Za-z0-9._-]``), else None."""
    if value is not None and _SANE_ID.fullmatch(value):
        return value
    return None


@contextmanager
def bind_correlation_id(value: str) -> Iterator[str]:
    """Log (and publish events) under ``value`` as correlation id, e.g. while handling a message."""
    token = correlation_id_var.set(value)
    try:
        yield value
    finally:
        correlation_id_var.reset(token)


@contextmanager
def bind_service(name: str) -> Iterator[str]:
    """Tag log lines with service ``name`` (for work outside a request, e.g. a background task)."""
    token = service_var.set(name)
    try:
        yield name
    finally:
        service_var.reset(token)


# ---------------------------------------------------------------------------------------------------
# Logging

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request context of the logging task."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": service_var.get(),
            "request_id": request_id_var.get(),
            "correlation_id": correlation_id_var.get(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            # The core keys win: an extra must not be able to fake the service or request id.
            if key in _RECORD_ATTRIBUTES or key in entry or key.startswith("_"):
                continue
            if _json_safe(value):
                entry[key] = value
        # ensure_ascii=False keeps Chinese text readable in the logs.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, still carrying the service and request id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={value}"
            for name, value in (
                ("service", service_var.get()),
                ("request_id", request_id_var.get()),
                ("correlation_id", correlation_id_var.get()),
            )
            if value
        )
        if not context:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{context}]{newline}{rest}"


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at emit time (pytest and reloaders swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str, json_output: bool) -> None:
    """Route all logging through one root handler; safe to call again (each app factory does)."""
    levels = logging.getLevelNamesMapping()
    level_name = level.upper()
    if level_name not in levels:
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StdoutHandler)), None)
    if handler is None:
        handler = _StdoutHandler()
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if json_output else TextFormatter())
    root.setLevel(levels[level_name])
    # Uvicorn installs its own plain-text handlers; send its lines through ours instead. Its access log
    # duplicates the middleware's (which knows the request id), so it is switched off.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True
    # httpx logs every request it makes at INFO: on the gateway, a second line for each proxied request
    # that the access log already has. Its warnings and errors still come through.
    logging.getLogger("httpx").setLevel(logging.WARNING if level_name == "INFO" else logging.NOTSET)


# ---------------------------------------------------------------------------------------------------
# Metrics

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


@dataclass(frozen=True)
class HttpMetrics:
    """The HTTP metrics of one app, in that app's own registry."""

    registry: CollectorRegistry
    requests_total: Counter
    request_duration_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> HttpMetrics:
        # Dev mode runs several apps in one process: the global registry would reject the second
        # app's metrics as duplicates, so every app gets a registry of its own.
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        return cls(
            registry=registry,
            requests_total=Counter(
                "http_requests_total",
                "HTTP requests handled, by method, route template and status",
                ["method", "route", "status"],
                registry=registry,
            ),
            request_duration_seconds=Histogram(
                "http_request_duration_seconds",
                "Time to handle an HTTP request, by method and route template",
                ["method", "route"],
                registry=registry,
            ),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        # Arbitrary method names from clients would make label cardinality unbounded.
        method = method if method in _KNOWN_METHODS else "OTHER"
        self.requests_total.labels(method, route, str(status)).inc()
        self.request_duration_seconds.labels(method, route).observe(seconds)


# Headers a reverse proxy adds to what it relays (ingress-nginx sets the first and the last always).
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def metrics_router(registry: CollectorRegistry, token: str = "") -> APIRouter:
    """``GET /metrics`` rendering ``registry`` in the Prometheus text exposition format.

    With a ``token``, only requests carrying ``Authorization: Bearer <token>`` are answered: the
    metrics name every route and count the open live streams, nothing for anyone else to read.

    A scraper connects to the pod itself. A request that a proxy relayed (an Ingress, a load balancer:
    they all add one of ``PROXY_HEADERS``) is answered 404, token or not, so the gateway's metrics are
    not a page of the public site.
    """
    router = APIRouter()
    expected = token.encode()

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if any(header in request.headers for header in PROXY_HEADERS):
            raise NotFound("Not Found")
        if token:
            presented = bearer_token(request.headers.get("authorization"))
            if presented is None:
                raise Unauthorized("Send 'Authorization: Bearer <metrics token>'", code="not_authenticated")
            if not hmac.compare_digest(presented.encode(), expected):
                raise InvalidToken("Invalid metrics token")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def route_template(scope: Scope, entry_root_path: str = "") -> str:
    """The template of the route that handled ``scope`` (``/api/posts/{post_id}``), or "unmatched".

    Templates, not raw paths, label the metrics so that their cardinality stays bounded.
    ``entry_root_path`` is the ``root_path`` the scope had when the caller received it.
    """
    # Mounted apps see paths relative to their mount point; the mount prefix is put back in front.
    root_path: str = scope.get("root_path", "")
    prefix = root_path[len(entry_root_path) :] if root_path.startswith(entry_root_path) else ""
    route = scope.get("route")
    if route is None or isinstance(route, Mount):
        # FastAPI's router records no route for a mount; the mount prefix is all that is known.
        return f"{prefix}/{{path}}" if prefix else "unmatched"
    template: Any = None
    # FastAPI keeps the prefixed template of a route reached through nested include_router() calls in
    # its own scope entry; the route object itself only knows its path within its own router.
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, dict):
        context = fastapi_scope.get("effective_route_context")
        if context is not None and (
            route is getattr(context, "original_route", None)
            or route is getattr(context, "starlette_route", None)
        ):
            template = getattr(context, "path_format", None)
    if not template:
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return "unmatched"
    return prefix + template


# ---------------------------------------------------------------------------------------------------
# Middleware


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _is_quiet_path(path: str) -> bool:
    # Probes and scrapes arrive every few seconds; logging them would drown the real traffic.
    return path == "/metrics" or path.startswith("/health/")


class RequestContextMiddleware:
    """Request id, correlation id, service name, access log and HTTP metrics for every request.

    Pure ASGI (not BaseHTTPMiddleware) so that streaming responses pass through chunk by chunk.
    """

    def __init__(self, app: ASGIApp, *, service_name: str, metrics: HttpMetrics | None = None) -> None:
        self.app = app
        self.service_name = service_name
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        request_id = sane_id(_header(scope, b"x-request-id")) or new_request_id()
        correlation_id = sane_id(_header(scope, b"x-correlation-id")) or request_id
        tokens = (
            request_id_var.set(request_id),
            correlation_id_var.set(correlation_id),
            service_var.set(self.service_name),
        )
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._handle_http(scope, receive, send, request_id)
        finally:
            service_var.reset(tokens[2])
            correlation_id_var.reset(tokens[1])
            request_id_var.reset(tokens[0])

    async def _handle_http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        entry_root_path: str = scope.get("root_path", "")
        path: str = scope.get("path", "")
        relative_path = path[len(entry_root_path) :] if path.startswith(entry_root_path) else path
        request_id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500  # what the client gets if the app fails before starting a response
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append(request_id_header)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            seconds = time.perf_counter() - started
            method: str = scope.get("method", "GET")
            route = route_template(scope, entry_root_path)
            if self.metrics is not None:
                self.metrics.observe(method, route, status, seconds)
            if not _is_quiet_path(relative_path):
                duration_ms = round(seconds * 1000, 1)
                access_log.info(
                    "%s %s %s %.1fms",
                    method,
                    path,
                    status,
                    duration_ms,
                    extra={
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": status,
                        "duration_ms": duration_ms,
                    },
                )
